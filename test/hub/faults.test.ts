import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hubDownload, modelInfo, pushToHub, resolveModelDir } from '../../src/hub/index.js';
import { startHubServer } from '../../src/hub/server/server.js';
import {
  fakeModelFolder,
  killHard,
  makeTokens,
  spawnHubServer,
  spawnScript,
  tempDir,
  waitFor,
  type ChildHub,
} from './helpers.js';

function objectCount(dataDir: string): number {
  const root = join(dataDir, 'objects');
  return readdirSync(root).reduce((total, prefix) => total + readdirSync(join(root, prefix)).length, 0);
}

function fileLine(path: string, content: Buffer): string {
  return (
    JSON.stringify({ key: 'file', value: { path, encoding: 'base64', content: content.toString('base64') } }) + '\n'
  );
}

describe('hub faults', () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const step of cleanup.reverse()) await step();
  });

  it('keeps the repo at its previous commit, intact, when the server is killed mid-commit', async () => {
    const data = tempDir('data');
    const tokens = await makeTokens(data);
    let hub: ChildHub = await spawnHubServer(data);
    cleanup.push(() => killHard(hub.child));
    const v1Folder = fakeModelFolder(50_000, 'v1');
    const v1 = await pushToHub(v1Folder, 'alice/m', { endpoint: hub.url, token: tokens.alice });

    // A commit whose body is still streaming when the server dies, after it stored the files sent so far.
    const objectsBefore = objectCount(data);
    const commit = request(`${hub.url}/api/models/alice/m/commit/main`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${tokens.alice}`, 'Content-Type': 'application/x-ndjson' },
    });
    commit.on('error', () => undefined);
    commit.write(JSON.stringify({ key: 'header', value: { summary: 'interrupted' } }) + '\n');
    commit.write(fileLine('config.json', Buffer.from(JSON.stringify({ note: 'never committed' }))));
    commit.write(fileLine('extra.txt', randomBytes(100_000)));
    await waitFor(() => objectCount(data) >= objectsBefore + 2, 'the server to store the streamed files');
    await killHard(hub.child);
    commit.destroy();

    hub = await spawnHubServer(data);
    const connection = { endpoint: hub.url, token: tokens.alice };
    expect((await modelInfo('alice/m', connection)).sha).toBe(v1.commitOid);
    const snapshot = await resolveModelDir('alice/m', { ...connection, cacheDir: tempDir('cache') });
    expect(JSON.parse(readFileSync(join(snapshot, 'config.json'), 'utf8')).note).toBe('v1');
    expect(
      readFileSync(join(snapshot, 'model.safetensors')).equals(readFileSync(join(v1Folder, 'model.safetensors'))),
    ).toBe(true);
    expect(existsSync(join(snapshot, 'extra.txt'))).toBe(false);
    // And the repo goes on taking commits.
    const v2 = await pushToHub(fakeModelFolder(1000, 'v2'), 'alice/m', connection);
    expect((await modelInfo('alice/m', connection)).sha).toBe(v2.commitOid);
  });

  describe('downloads through a slow link', () => {
    let proxy: Server;
    let proxyUrl: string;
    const objectRequests: (string | undefined)[] = [];

    /** Forwards to the hub, trickling LFS object bodies (32 KiB per 20 ms) and noting their Range headers. */
    async function startSlowProxy(target: string): Promise<void> {
      proxy = createServer((req, res) => {
        const slow = req.url!.startsWith('/lfs/objects/');
        if (slow && req.method === 'GET') objectRequests.push(req.headers.range);
        const upstream = request(target + req.url, { method: req.method, headers: req.headers }, async (answer) => {
          res.writeHead(answer.statusCode!, answer.headers);
          if (!slow) return void answer.pipe(res);
          try {
            for await (const chunk of answer as AsyncIterable<Buffer>) {
              for (let at = 0; at < chunk.length && !res.destroyed; at += 32 * 1024) {
                res.write(chunk.subarray(at, at + 32 * 1024));
                await new Promise((resolve) => setTimeout(resolve, 20));
              }
            }
            res.end();
          } catch {
            res.destroy(); // the client went away (killed) and the upstream request with it
          }
        });
        upstream.on('error', () => res.destroy());
        res.on('close', () => upstream.destroy());
        req.pipe(upstream);
      });
      await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
      proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    }

    /** A hub behind the slow proxy holding `repoId`, a model folder with `bytes` of weights; returns those bytes. */
    async function slowHubWithRepo(repoId: string, bytes: number): Promise<Buffer> {
      const data = tempDir('data');
      const tokens = await makeTokens(data);
      const server = await startHubServer({ dataDir: data });
      await startSlowProxy(server.url);
      const slow = proxy;
      cleanup.push(
        () => server.close(),
        () => new Promise((resolve) => slow.close(() => resolve())),
      );
      const folder = fakeModelFolder(bytes);
      await pushToHub(folder, repoId, { endpoint: server.url, token: tokens.alice });
      return readFileSync(join(folder, 'model.safetensors'));
    }

    it('resumes a download whose process was killed midway, and shares one download between concurrent callers', async () => {
      const expected = await slowHubWithRepo('alice/big', 2 * 1024 * 1024);

      const cache = tempDir('cache');
      const blobs = join(cache, 'models--alice--big', 'blobs');
      const partialSize = (): number => {
        const partial = existsSync(blobs) ? readdirSync(blobs).find((name) => name.endsWith('.incomplete')) : undefined;
        return partial === undefined ? 0 : statSync(join(blobs, partial)).size;
      };
      const client = spawnScript('./download-child.mjs', [proxyUrl, cache, 'alice/big', 'model.safetensors']);
      cleanup.push(() => killHard(client));
      await waitFor(() => partialSize() > 256 * 1024, 'the child to download part of the file');
      await killHard(client);
      const killedAt = partialSize();
      expect(killedAt).toBeLessThan(expected.length);

      // The dead process's lock is broken, the download goes on from where it stopped, and a second caller waits for it.
      const [first, second] = await Promise.all([
        hubDownload('alice/big', 'model.safetensors', { endpoint: proxyUrl, cacheDir: cache }),
        hubDownload('alice/big', 'model.safetensors', { endpoint: proxyUrl, cacheDir: cache }),
      ]);
      expect(second).toBe(first);
      expect(readFileSync(first).equals(expected)).toBe(true);
      expect(objectRequests).toHaveLength(2);
      expect(objectRequests[0]).toBeUndefined();
      expect(Number(/^bytes=(\d+)-$/.exec(objectRequests[1]!)?.[1])).toBeGreaterThanOrEqual(killedAt);
      expect(readdirSync(blobs).filter((name) => name.endsWith('.incomplete') || name.endsWith('.lock'))).toEqual([]);
    });

    it('shares one download between two processes started at once, locked where huggingface_hub locks', async () => {
      const expected = await slowHubWithRepo('alice/twice', 3 * 1024 * 1024);
      const etag = createHash('sha256').update(expected).digest('hex');

      const cache = tempDir('cache');
      const go = join(cache, 'go');
      const requestsBefore = objectRequests.length;
      const children = [0, 1].map(() =>
        spawnScript('./download-child.mjs', [proxyUrl, cache, 'alice/twice', 'model.safetensors', go]),
      );
      for (const child of children) cleanup.push(() => killHard(child));
      const outputs = children.map((child) => {
        let stdout = '';
        let stderr = '';
        child.stdout!.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
        child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
        const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
        return { stdout: () => stdout, stderr: () => stderr, exited };
      });
      await waitFor(() => outputs.every((o) => o.stderr().includes('ready')), 'both download processes to load');
      writeFileSync(go, '');

      const lock = join(cache, '.locks', 'models--alice--twice', `${etag}.lock`);
      const blobs = join(cache, 'models--alice--twice', 'blobs');
      let sawLock = false;
      let sawLockInBlobs = false;
      const watch = setInterval(() => {
        sawLock ||= existsSync(lock);
        sawLockInBlobs ||= existsSync(blobs) && readdirSync(blobs).some((name) => name.endsWith('.lock'));
      }, 5);
      const codes = await Promise.all(outputs.map((o) => o.exited));
      clearInterval(watch);
      expect(codes, outputs.map((o) => o.stderr()).join('\n')).toEqual([0, 0]);
      const [first, second] = outputs.map((o) => o.stdout().trim());
      expect(second).toBe(first);
      expect(readFileSync(first!).equals(expected)).toBe(true);
      // One object download for two processes: the second waited on the lock, then found the blob.
      expect(objectRequests.length - requestsBefore).toBe(1);
      expect(sawLock).toBe(true);
      expect(sawLockInBlobs).toBe(false);
      expect(existsSync(lock)).toBe(false);
      expect(readdirSync(blobs)).toEqual([etag]);
    });
  });
});
