// A pipeline from a hub repo id: the model is pushed to an attn hub server on 127.0.0.1, fetched into an empty
// cache by pipeline('org/name'), and then found in that cache with the hub gone (offline).
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createRepo } from '../../src/hub/api.js';
import { TokenStore } from '../../src/hub/server/auth.js';
import { startHubServer } from '../../src/hub/server/server.js';
import { uploadFiles } from '../../src/hub/upload.js';
import { pipeline } from '../../src/pipelines/index.js';
import { tinyClassifier } from './tiny-models.js';

const ENV_KEYS = ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE'] as const;
const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
afterEach(() => {
  for (const key of ENV_KEYS) {
    if (saved[key] === undefined) delete process.env[key];
    else process.env[key] = saved[key];
  }
});

it('loads a pipeline by hub repo id, then from the cache when offline', async () => {
  const work = mkdtempSync(join(tmpdir(), 'attn-pipeline-hub-'));
  const token = await new TokenStore(join(work, 'data')).add('alice', 'write');
  const hub = await startHubServer({ dataDir: join(work, 'data') });
  const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 31);
  try {
    const connection = { endpoint: hub.url, token };
    await createRepo('alice/tiny-sentiment', connection);
    const files = Object.fromEntries(readdirSync(model).map((file) => [file, join(model, file)]));
    await uploadFiles('alice/tiny-sentiment', files, { ...connection, commitMessage: 'tiny sentiment model' });
    Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: token, HF_HUB_CACHE: join(work, 'cache') });
    const fromHub = await pipeline('sentiment-analysis', 'alice/tiny-sentiment');
    const expected = await (await pipeline('sentiment-analysis', model))('i love this film');
    expect(await fromHub('i love this film')).toEqual(expected);
    await hub.close();
    process.env.HF_HUB_OFFLINE = '1';
    expect(await (await pipeline('sentiment-analysis', 'alice/tiny-sentiment'))('i love this film')).toEqual(expected);
  } finally {
    await hub.close().catch(() => {});
  }
});
