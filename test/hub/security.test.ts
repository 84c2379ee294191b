import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRepo, modelInfo, pushToHub, resolveModelDir, uploadFiles } from '../../src/hub/index.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { fakeModelFolder, makeTokens, tempDir, type Tokens } from './helpers.js';

const LIMIT = 1024 * 1024;

/** A request with the path exactly as written (fetch would normalise '..' away before sending). */
function rawRequest(
  url: string,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: string | Buffer,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + path, { method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('hub server security', () => {
  let hub: RunningHubServer;
  let tokens: Tokens;
  const bearer = (token: string) => ({ Authorization: `Bearer ${token}` });

  let data: string;

  beforeAll(async () => {
    data = tempDir('data');
    tokens = await makeTokens(data);
    hub = await startHubServer({ dataDir: data, maxUploadBytes: LIMIT });
    await createRepo('alice/public', { endpoint: hub.url, token: tokens.alice, license: 'mit' });
    await pushToHub(fakeModelFolder(2000), 'alice/private', { endpoint: hub.url, token: tokens.alice, private: true });
  });
  afterAll(() => hub.close());

  it('answers writes without a token with 401, and with an unknown token with 401 on every request', async () => {
    await expect(createRepo('alice/x', { endpoint: hub.url, token: '' })).rejects.toMatchObject({
      code: 'Unauthorized',
      status: 401,
    });
    const commit = await rawRequest(
      hub.url,
      'POST',
      '/api/models/alice/public/commit/main',
      { 'Content-Type': 'application/x-ndjson' },
      '{"key":"header","value":{"summary":"x"}}\n',
    );
    expect(commit.status).toBe(401);
    const batch = await rawRequest(
      hub.url,
      'POST',
      '/alice/public.git/info/lfs/objects/batch',
      {},
      '{"operation":"upload","objects":[]}',
    );
    expect(batch.status).toBe(401);
    const forged = await rawRequest(hub.url, 'GET', '/api/models/alice/public', bearer('attn_forged'));
    expect(forged.status).toBe(401);
  });

  it('answers writes with a read-only token, or into another namespace, with 403', async () => {
    await expect(
      uploadFiles(
        'alice/public',
        { 'a.txt': new Uint8Array([1]) },
        { endpoint: hub.url, token: tokens.aliceRead, commitMessage: 'x' },
      ),
    ).rejects.toMatchObject({ code: 'Forbidden', status: 403 });
    await expect(createRepo('alice/by-bob', { endpoint: hub.url, token: tokens.bob })).rejects.toMatchObject({
      status: 403,
    });
    await expect(
      uploadFiles(
        'alice/public',
        { 'a.txt': new Uint8Array([1]) },
        { endpoint: hub.url, token: tokens.bob, commitMessage: 'x' },
      ),
    ).rejects.toMatchObject({ status: 403 });
  });

  it('keeps a private repo invisible to anyone but its owner', async () => {
    for (const token of ['', tokens.bob]) {
      await expect(modelInfo('alice/private', { endpoint: hub.url, token })).rejects.toMatchObject({
        code: 'RepoNotFound',
        status: 404,
      });
      await expect(
        resolveModelDir('alice/private', { endpoint: hub.url, token, cacheDir: tempDir('cache') }),
      ).rejects.toMatchObject({ code: 'RepoNotFound' });
    }
    const resolve = await rawRequest(hub.url, 'GET', '/alice/private/resolve/main/config.json');
    expect(resolve.status).toBe(404);
    // The same answer as for a repo that does not exist: the name does not leak.
    expect(resolve.body).toBe(
      (await rawRequest(hub.url, 'GET', '/alice/nothing/resolve/main/config.json')).body.replace('nothing', 'private'),
    );
    const listing = JSON.parse((await rawRequest(hub.url, 'GET', '/api/models')).body) as { id: string }[];
    expect(listing.map((repo) => repo.id)).toEqual(['alice/public']);
    expect((await modelInfo('alice/private', { endpoint: hub.url, token: tokens.aliceRead })).private).toBe(true);
  });

  it('refuses ../ in paths, raw or percent-encoded, and in committed file names', async () => {
    for (const path of [
      '/alice/public/resolve/main/../../../tokens.json',
      '/alice/public/resolve/main/%2e%2e/%2e%2e/secret',
      '/alice/public/resolve/main/a%2F..%2F..%2Fsecret',
      '/api/models/alice/..%2F..%2Fsecret',
    ]) {
      const answer = await rawRequest(hub.url, 'GET', path, bearer(tokens.alice));
      expect([400, 404], path).toContain(answer.status);
      expect(answer.body).not.toMatch(/sha256|hf_[A-Za-z0-9]{40}/);
    }
    const headBefore = (await modelInfo('alice/public', { endpoint: hub.url })).sha;
    const evil = [
      '{"key":"header","value":{"summary":"evil"}}',
      '{"key":"file","value":{"path":"ok.txt","content":"b2s=","encoding":"base64"}}',
      '{"key":"file","value":{"path":"../../escape.txt","content":"eA==","encoding":"base64"}}',
    ].join('\n');
    const commit = await rawRequest(
      hub.url,
      'POST',
      '/api/models/alice/public/commit/main',
      { ...bearer(tokens.alice), 'Content-Type': 'application/x-ndjson' },
      evil,
    );
    expect(commit.status).toBe(400);
    expect(JSON.parse(commit.body).error).toMatch(/invalid file path "..\/..\/escape.txt"/);
    // All or nothing: the valid line before the bad one was not committed either.
    expect((await modelInfo('alice/public', { endpoint: hub.url })).sha).toBe(headBefore);
  });

  it('refuses uploads over the size limit', async () => {
    const big = randomBytes(LIMIT + 1);
    await expect(
      uploadFiles(
        'alice/public',
        { 'big.safetensors': big },
        { endpoint: hub.url, token: tokens.alice, commitMessage: 'big' },
      ),
    ).rejects.toMatchObject({ code: 'TooLarge', status: 413 });
    await expect(
      uploadFiles(
        'alice/public',
        { 'big.txt': Buffer.alloc(LIMIT * 2, 'a') },
        { endpoint: hub.url, token: tokens.alice, commitMessage: 'big' },
      ),
    ).rejects.toMatchObject({ code: 'TooLarge' });
  });

  it('does not let a repo take in an LFS object uploaded elsewhere by naming its sha256', async () => {
    const files = (await (
      await fetch(`${hub.url}/api/models/alice/private/tree/main?recursive=true`, { headers: bearer(tokens.alice) })
    ).json()) as { path: string; lfs?: { oid: string; size: number } }[];
    const weights = files.find((file) => file.path === 'model.safetensors')!.lfs!;
    await createRepo('bob/thief', { endpoint: hub.url, token: tokens.bob });
    const batch = await rawRequest(
      hub.url,
      'POST',
      '/bob/thief.git/info/lfs/objects/batch',
      bearer(tokens.bob),
      JSON.stringify({ operation: 'upload', objects: [weights] }),
    );
    expect(JSON.parse(batch.body).objects[0].actions.upload).toBeDefined();
    const steal = [
      '{"key":"header","value":{"summary":"steal"}}',
      JSON.stringify({ key: 'lfsFile', value: { path: 'stolen.bin', algo: 'sha256', ...weights } }),
    ].join('\n');
    const commit = await rawRequest(
      hub.url,
      'POST',
      '/api/models/bob/thief/commit/main',
      { ...bearer(tokens.bob), 'Content-Type': 'application/x-ndjson' },
      steal,
    );
    expect(commit.status).toBe(400);
  });

  it('stores tokens only as hashes', () => {
    const stored = readFileSync(join(data, 'tokens.json'), 'utf8');
    for (const token of Object.values(tokens)) {
      expect(stored).not.toContain(token);
      expect(stored).toContain(createHash('sha256').update(token).digest('hex'));
    }
  });

  it('refuses a tampered signed URL', async () => {
    const head = await fetch(`${hub.url}/alice/private/resolve/main/model.safetensors`, {
      method: 'HEAD',
      redirect: 'manual',
      headers: bearer(tokens.alice),
    });
    const location = new URL(head.headers.get('location')!);
    expect((await fetch(location)).status).toBe(200);
    location.searchParams.set('expires', String(Number(location.searchParams.get('expires')) + 1));
    expect((await fetch(location)).status).toBe(403);
  });
});
