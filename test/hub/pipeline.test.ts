import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pushToHub, resolveModelDir } from '../../src/hub/index.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';
import { makeTokens, tempDir } from './helpers.js';

const LABELS = ['NEGATIVE', 'POSITIVE'];
const TEXTS = ['this movie was very good', 'i hate this boring film'];

async function classify(model: string): Promise<ClassificationLabel[][]> {
  const classifier = await pipeline('text-classification', model);
  const scores = (await classifier(TEXTS, { topK: null })) as ClassificationLabel[][];
  classifier.dispose();
  return scores;
}

describe('a model pushed to the hub runs in a pipeline by its name', () => {
  let hub: RunningHubServer;
  const saved = { HF_ENDPOINT: process.env.HF_ENDPOINT, HF_TOKEN: process.env.HF_TOKEN, HF_HUB_CACHE: process.env.HF_HUB_CACHE };

  beforeAll(async () => {
    const data = tempDir('data');
    const tokens = await makeTokens(data);
    hub = await startHubServer({ dataDir: data });
    // pipeline() knows models by name only: the hub and cache come from the environment, as for users.
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: tokens.alice, HF_HUB_CACHE: tempDir('cache') });
  });
  afterAll(async () => {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await hub.close();
  });

  it('gives the same scores as the local folder, for both revisions', async () => {
    const v1 = await tinyClassifier(LABELS, 11);
    const first = await pushToHub(v1, 'alice/sentiment', { license: 'mit', commitMessage: 'v1' });
    expect(await classify('alice/sentiment')).toEqual(await classify(v1));

    const v2 = await tinyClassifier(LABELS, 12);
    await pushToHub(v2, 'alice/sentiment', { commitMessage: 'v2' });
    const latest = await classify('alice/sentiment');
    expect(latest).toEqual(await classify(v2));
    expect(latest).not.toEqual(await classify(v1));
    expect(await classify(await resolveModelDir('alice/sentiment', { revision: first.commitOid }))).toEqual(await classify(v1));
  });
});
