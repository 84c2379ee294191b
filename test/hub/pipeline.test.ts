import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRepoFiles, modelInfo, pushToHub, resolveModelDir } from '../../src/hub/index.js';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { AutoTokenizer } from '../../src/tokenizers/index.js';
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
  const saved = {
    HF_ENDPOINT: process.env.HF_ENDPOINT,
    HF_TOKEN: process.env.HF_TOKEN,
    HF_HUB_CACHE: process.env.HF_HUB_CACHE,
  };

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
    expect(await classify(await resolveModelDir('alice/sentiment', { revision: first.commitOid }))).toEqual(
      await classify(v1),
    );
  });

  it("runs the README's hub snippet: model.pushToHub carries the tokenizer, and the card's nested metadata stays", async () => {
    // The repo exists with only a card, carrying evaluation results and widget examples.
    const carded = tempDir('card');
    const modelIndex = [
      {
        name: 'sentiment',
        results: [{ task: { type: 'text-classification' }, metrics: [{ type: 'accuracy', value: 0.91 }] }],
      },
    ];
    writeFileSync(
      join(carded, 'README.md'),
      `---\nmodel-index:\n- name: sentiment\n  results:\n  - task:\n      type: text-classification\n    metrics:\n    - type: accuracy\n      value: 0.91\nwidget:\n- text: "I love it: 10/10"\n---\n# Sentiment\n`,
    );
    await pushToHub(carded, 'alice/readme-sentiment', { license: 'apache-2.0' });
    const folder = await tinyClassifier(LABELS, 13);
    // The snippet, as the README has it (endpoint and token from HF_ENDPOINT / HF_TOKEN).
    const model = await AutoModelForSequenceClassification.fromPretrained(folder);
    await model.pushToHub('alice/readme-sentiment', { license: 'apache-2.0', commitMessage: 'First version' });
    const files = (await listRepoFiles('alice/readme-sentiment')).map((entry) => entry.path);
    expect(files).toEqual(
      expect.arrayContaining(['config.json', 'model.safetensors', 'vocab.txt', 'tokenizer_config.json', 'README.md']),
    );
    expect(await classify('alice/readme-sentiment')).toEqual(await classify(folder));
    const card = (await modelInfo('alice/readme-sentiment')).cardData!;
    expect(card['model-index']).toEqual(modelIndex);
    expect(card.widget).toEqual([{ text: 'I love it: 10/10' }]);
    expect(card.license).toBe('apache-2.0');

    // A second push from the downloaded copy (no README in it) keeps what the hub's card holds.
    const again = await AutoModelForSequenceClassification.fromPretrained('alice/readme-sentiment');
    await again.pushToHub('alice/readme-sentiment', { commitMessage: 'Second version' });
    const after = (await modelInfo('alice/readme-sentiment')).cardData!;
    expect(after['model-index']).toEqual(modelIndex);
    expect(after.license).toBe('apache-2.0');
    const readme = readFileSync(
      join(await resolveModelDir('alice/readme-sentiment', { files: ['README.md'] }), 'README.md'),
      'utf8',
    );
    expect(readme).toContain('# Sentiment');
  });

  it('pipeline.pushToHub commits its model and tokenizer, and the pipeline loads back by name', async () => {
    const folder = await tinyClassifier(LABELS, 16);
    const local = await pipeline('text-classification', folder);
    await local.pushToHub('alice/from-pipeline');
    local.dispose();
    expect(await classify('alice/from-pipeline')).toEqual(await classify(folder));
  });

  it('tokenizer.pushToHub commits a tokenizer that loads back by name and encodes the same', async () => {
    const folder = await tinyClassifier(LABELS, 14);
    const tokenizer = await AutoTokenizer.fromPretrained(folder);
    await tokenizer.pushToHub('alice/tokenizer-only');
    expect((await listRepoFiles('alice/tokenizer-only')).map((entry) => entry.path)).toEqual(
      expect.arrayContaining(['tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json']),
    );
    const back = await AutoTokenizer.fromPretrained('alice/tokenizer-only');
    expect(back.encode(TEXTS[0]!)).toEqual(tokenizer.encode(TEXTS[0]!));
  });
});
