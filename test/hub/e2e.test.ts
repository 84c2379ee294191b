import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createBranch,
  createRepo,
  listRefs,
  listRepoFiles,
  modelInfo,
  pushToHub,
  resolveModelDir,
  hubDownload,
  HubError,
} from '../../src/hub/index.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { fakeModelFolder, makeTokens, tempDir, type Tokens } from './helpers.js';

describe('hub end to end on 127.0.0.1', () => {
  let hub: RunningHubServer;
  let tokens: Tokens;

  beforeAll(async () => {
    const data = tempDir('data');
    tokens = await makeTokens(data);
    hub = await startHubServer({ dataDir: data });
  });
  afterAll(() => hub.close());

  it('creates a repo with a license, pushes a model, loads it by name into a fresh cache, and loads both revisions', async () => {
    const connection = { endpoint: hub.url, token: tokens.alice };
    await createRepo('alice/tiny-bert', { ...connection, license: 'apache-2.0' });
    expect((await modelInfo('alice/tiny-bert', connection)).cardData?.license).toBe('apache-2.0');

    const v1 = fakeModelFolder(300_000, 'v1');
    const first = await pushToHub(v1, 'alice/tiny-bert', {
      ...connection,
      license: 'apache-2.0',
      commitMessage: 'first',
      cardData: { datasets: ['sst2'], metrics: ['accuracy'] },
    });
    expect(first.commitOid).toMatch(/^[0-9a-f]{40}$/);

    const cache = tempDir('cache');
    const snapshot = await resolveModelDir('alice/tiny-bert', { endpoint: hub.url, cacheDir: cache });
    expect(snapshot).toBe(join(cache, 'models--alice--tiny-bert', 'snapshots', first.commitOid));
    for (const file of ['config.json', 'tokenizer.json', 'model.safetensors']) {
      expect(readFileSync(join(snapshot, file)).equals(readFileSync(join(v1, file)))).toBe(true);
    }
    expect(existsSync(join(snapshot, '.cache'))).toBe(false);
    // huggingface_hub's layout: snapshot entries are relative links into blobs/, refs/main names the commit.
    expect(lstatSync(join(snapshot, 'model.safetensors')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(snapshot, 'model.safetensors'))).toMatch(/^\.\.\/\.\.\/blobs\/[0-9a-f]{64}$/);
    expect(readFileSync(join(cache, 'models--alice--tiny-bert', 'refs', 'main'), 'utf8')).toBe(first.commitOid);

    const card = readFileSync(
      await hubDownload('alice/tiny-bert', 'README.md', { endpoint: hub.url, cacheDir: cache }),
      'utf8',
    );
    expect(card).toMatch(
      /^---\nlicense: apache-2.0\npipeline_tag: text-classification\nlibrary_name: attn\ndatasets:\n- sst2\nmetrics:\n- accuracy\n---\n/,
    );

    const v2 = fakeModelFolder(200_000, 'v2');
    const second = await pushToHub(v2, 'alice/tiny-bert', { ...connection, commitMessage: 'second' });
    expect(second.commitOid).not.toBe(first.commitOid);

    const latest = await resolveModelDir('alice/tiny-bert', { endpoint: hub.url, cacheDir: cache });
    const old = await resolveModelDir('alice/tiny-bert', {
      endpoint: hub.url,
      cacheDir: cache,
      revision: first.commitOid,
    });
    expect(JSON.parse(readFileSync(join(latest, 'config.json'), 'utf8')).note).toBe('v2');
    expect(JSON.parse(readFileSync(join(old, 'config.json'), 'utf8')).note).toBe('v1');
    expect(readFileSync(join(latest, 'model.safetensors')).equals(readFileSync(join(v2, 'model.safetensors')))).toBe(
      true,
    );
    expect(readFileSync(join(old, 'model.safetensors')).equals(readFileSync(join(v1, 'model.safetensors')))).toBe(true);
    // The license set at creation survives a push that did not repeat it.
    expect((await modelInfo('alice/tiny-bert', connection)).cardData?.license).toBe('apache-2.0');

    const refs = await listRefs('alice/tiny-bert', connection);
    expect(refs.branches).toEqual([{ name: 'main', ref: 'refs/heads/main', targetCommit: second.commitOid }]);

    // A branch started from the first commit moves on its own; main stays.
    await createBranch('alice/tiny-bert', 'dev', { ...connection, startingPoint: first.commitOid });
    await pushToHub(fakeModelFolder(100, 'dev'), 'alice/tiny-bert', { ...connection, revision: 'dev' });
    const dev = await resolveModelDir('alice/tiny-bert', { endpoint: hub.url, cacheDir: cache, revision: 'dev' });
    expect(JSON.parse(readFileSync(join(dev, 'config.json'), 'utf8')).note).toBe('dev');
    expect((await modelInfo('alice/tiny-bert', connection)).sha).toBe(second.commitOid);
    const files = await listRepoFiles('alice/tiny-bert', { ...connection, revision: first.commitOid });
    expect(files.find((f) => f.path === 'model.safetensors')).toMatchObject({ size: 300_000, lfs: { size: 300_000 } });
  });

  it('serves from the cache in offline mode and says clearly what is missing', async () => {
    const connection = { endpoint: hub.url, token: tokens.alice };
    await pushToHub(fakeModelFolder(1000), 'alice/offline', connection);
    const cache = tempDir('cache');
    const online = await resolveModelDir('alice/offline', { endpoint: hub.url, cacheDir: cache });
    expect(await resolveModelDir('alice/offline', { cacheDir: cache, localFilesOnly: true })).toBe(online);
    // An unreachable hub falls back to the cache too.
    expect(await resolveModelDir('alice/offline', { cacheDir: cache, endpoint: 'http://127.0.0.1:9' })).toBe(online);

    const missing = resolveModelDir('alice/never-downloaded', { cacheDir: cache, localFilesOnly: true });
    await expect(missing).rejects.toThrow(/offline mode.*'alice\/never-downloaded'.*not in the cache/);
    await expect(
      hubDownload('alice/offline', 'vocab.txt', { cacheDir: cache, localFilesOnly: true }),
    ).rejects.toMatchObject({ code: 'OfflineCacheMiss' });
  });

  it('names the repo, the endpoint and what to do when a repo does not exist', async () => {
    const attempt = resolveModelDir('alice/no-such-model', { endpoint: hub.url, cacheDir: tempDir('cache') });
    await expect(attempt).rejects.toBeInstanceOf(HubError);
    await expect(attempt).rejects.toThrow(`repository 'alice/no-such-model' at ${hub.url} was not found`);
    await expect(attempt).rejects.toThrow(/set HF_TOKEN/);
    await expect(resolveModelDir('./no/such/folder', {})).rejects.toThrow(
      /neither a local model folder nor a hub repo id/,
    );
  });

  it('returns an existing local folder untouched', async () => {
    const folder = fakeModelFolder(10);
    expect(await resolveModelDir(folder)).toBe(folder);
  });
});
