// Attacks on `attn hub serve`: what a request or the disk can do must end in a clear 4xx (or a logged 5xx for the
// disk), never a crash, a stack trace, a silently wrong commit, or memory growing with one line of a body.
import { createHash } from 'node:crypto';
import { readFileSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRepo, listRepoFiles, uploadFiles } from '../../src/hub/index.js';
import { TokenStore } from '../../src/hub/server/auth.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { rawRequest, scratchDir } from './helpers.js';

let hub: RunningHubServer;
let data: string;
let alice: string;
const auth = () => ({ Authorization: `Bearer ${alice}` });
const connection = () => ({ endpoint: hub.url, token: alice });

beforeAll(async () => {
  data = scratchDir('hub');
  alice = await new TokenStore(data).add('alice', 'write');
  hub = await startHubServer({ dataDir: data });
  await createRepo('alice/r', connection());
});
afterAll(() => hub.close());

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

async function send(method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const response = await fetch(hub.url + path, { method, headers: { ...auth(), ...headers }, body });
  return { status: response.status, text: await response.text() };
}

/** The answer must be the caller's fault, said in a sentence, without a stack trace. */
function expectClientError(answer: { status: number; text: string }, status = 400): void {
  expect(answer.status, answer.text).toBe(status);
  expect(answer.text).not.toMatch(/TypeError|SyntaxError|\n\s+at /);
}

const commitLines = (...lines: object[]) => lines.map((line) => JSON.stringify(line)).join('\n') + '\n';
const header = { key: 'header', value: { summary: 'attack' } };

describe('hub server: the disk', () => {
  it('answers a download whose object file is gone with a logged error, and keeps serving', async () => {
    await uploadFiles(
      'alice/r',
      { 'gone.txt': new TextEncoder().encode('soon gone') },
      { ...connection(), commitMessage: 'x' },
    );
    const object = sha256('soon gone');
    rmSync(join(data, 'objects', object.slice(0, 2), object));
    const errors = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const answer = await fetch(`${hub.url}/alice/r/resolve/main/gone.txt`);
      expect(answer.status).toBe(500);
      expect(await answer.text()).toMatch(/gone\.txt.*missing/);
      expect(errors.mock.calls.flat().join(' ')).toMatch(new RegExp(object));
    } finally {
      errors.mockRestore();
    }
    expect((await fetch(`${hub.url}/api/models`)).status).toBe(200);
  });

  it('keeps the data folder to its owner (0700)', () => {
    expect(statSync(data).mode & 0o777).toBe(0o700);
  });
});

describe('hub server: uploads time out on idleness, not on total time', () => {
  // A server of its own: a 1.5 s idle timeout would also cut the other tests' pooled connections.
  let impatient: RunningHubServer;
  beforeAll(async () => {
    impatient = await startHubServer({ dataDir: data, idleTimeoutMs: 1500 });
  });
  afterAll(() => impatient.close());

  async function uploadHref(bytes: number, fill: number): Promise<string> {
    const oid = createHash('sha256').update(Buffer.alloc(bytes, fill)).digest('hex');
    const batch = await fetch(`${impatient.url}/alice/r.git/info/lfs/objects/batch`, {
      method: 'POST',
      headers: { ...auth(), Connection: 'close' },
      body: JSON.stringify({ operation: 'upload', objects: [{ oid, size: bytes }] }),
    }).then(async (response) => ({ status: response.status, text: await response.text() }));
    return (JSON.parse(batch.text) as { objects: { actions: { upload: { href: string } } }[] }).objects[0]!.actions
      .upload.href;
  }

  /** PUTs `bytes` in `pieces` parts with `pauseMs` between them; resolves with the status or 'closed'. */
  function slowPut(
    href: string,
    bytes: number,
    fill: number,
    pieces: number,
    pauseMs: number,
  ): Promise<number | 'closed'> {
    return new Promise((resolve) => {
      const req = request(href, { method: 'PUT', headers: { 'Content-Length': String(bytes) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', () => resolve('closed'));
      const piece = bytes / pieces;
      let sent = 0;
      const next = (): void => {
        if (req.destroyed) return;
        req.write(Buffer.alloc(piece, fill));
        if (++sent < pieces) setTimeout(next, pauseMs);
        else req.end();
      };
      next();
    });
  }

  it('has no total request time limit (Node cuts requests at 300 s by default)', () => {
    expect(hub.server.requestTimeout).toBe(0);
    expect(impatient.server.requestTimeout).toBe(0);
  });

  it('takes an upload that lasts longer than the idle timeout while bytes keep coming', async () => {
    expect(await slowPut(await uploadHref(64 * 1024, 7), 64 * 1024, 7, 8, 400)).toBe(200);
  });

  it('drops an upload that stalls for longer than the idle timeout', async () => {
    expect(await slowPut(await uploadHref(64 * 1024, 8), 64 * 1024, 8, 2, 3000)).not.toBe(200);
  });
});

describe('hub server: malformed requests are 400 without a stack trace', () => {
  it('refuses a null, array or malformed JSON body on every JSON endpoint', async () => {
    const json = { 'Content-Type': 'application/json' };
    expectClientError(await send('POST', '/api/repos/create', 'null', json));
    expectClientError(await send('POST', '/api/repos/create', '[1]', json));
    expectClientError(
      await send('POST', '/api/models/alice/r/preupload/main', JSON.stringify({ files: [null] }), json),
    );
    expectClientError(await send('POST', '/api/models/alice/r/preupload/main', 'null', json));
    expectClientError(
      await send(
        'POST',
        '/alice/r.git/info/lfs/objects/batch',
        JSON.stringify({ operation: 'upload', objects: [null] }),
        json,
      ),
    );
    expectClientError(await send('POST', '/api/models/alice/r/branch/b1', '{not json', json));
    expectClientError(await send('POST', '/api/models/alice/r/branch/b2', 'null', json));
    expectClientError(await send('POST', '/api/models/alice/r/branch/b3', JSON.stringify({ startingPoint: {} }), json));
  });

  it('refuses commit lines whose fields have the wrong type', async () => {
    const ndjson = { 'Content-Type': 'application/x-ndjson' };
    const commit = (body: string) => send('POST', '/api/models/alice/r/commit/main', body, ndjson);
    expectClientError(await commit(commitLines({ key: 'header', value: { summary: {} } })));
    expectClientError(
      await commit(commitLines({ key: 'header', value: { summary: 'x', description: { toString: 1 } } })),
    );
    expectClientError(await commit('null\n'));
    expectClientError(await commit(commitLines(header, { key: 'file', value: null })));
    expectClientError(await commit(commitLines(header, { key: 'lfsFile', value: { path: 'a.bin', oid: {} } })));
  });

  it('refuses invalid base64 instead of committing an empty file', async () => {
    const before = await listRepoFiles('alice/r', connection());
    const answer = await send(
      'POST',
      '/api/models/alice/r/commit/main',
      commitLines(header, {
        key: 'file',
        value: { path: 'bad.txt', encoding: 'base64', content: '!!! not base64 !!!' },
      }),
      { 'Content-Type': 'application/x-ndjson' },
    );
    expectClientError(answer);
    expect(answer.text).toMatch(/bad\.txt.*base64/);
    expect(await listRepoFiles('alice/r', connection())).toEqual(before);
  });

  it('refuses a repo id with more than one slash instead of cutting it', async () => {
    const answer = await send('POST', '/api/repos/create', JSON.stringify({ name: 'alice/x/y' }), {
      'Content-Type': 'application/json',
    });
    expectClientError(answer);
    expect((await send('GET', '/api/models/alice/x')).status).toBe(404);
  });

  it('validates branch names: too long, nested under a branch, hidden', async () => {
    for (const name of ['b'.repeat(300), 'main/sub', '.hidden', '-dash', 'a..b', 'x.lock']) {
      expectClientError(await send('POST', `/api/models/alice/r/branch/${encodeURIComponent(name)}`, ''));
    }
    expect((await send('POST', '/api/models/alice/r/branch/dev-1.2_x', '')).status).toBe(200);
    const refs = JSON.parse((await send('GET', '/api/models/alice/r/refs')).text) as { branches: { name: string }[] };
    expect(refs.branches.map((b) => b.name).sort()).toEqual(['dev-1.2_x', 'main']);
  });

  it('keeps files named __proto__, constructor and toString, and answers 404 for other Object members', async () => {
    const names = ['__proto__', 'constructor', 'toString', 'sub/__proto__'];
    const files = Object.fromEntries(names.map((name) => [name, new TextEncoder().encode(`content of ${name}`)]));
    // uploadFiles takes a plain object, whose own '__proto__' key Object.fromEntries keeps.
    await uploadFiles('alice/r', files, { ...connection(), commitMessage: 'object member names' });
    const listed = (await listRepoFiles('alice/r', connection())).map((f) => f.path);
    for (const name of names) {
      expect(listed).toContain(name);
      const answer = await fetch(`${hub.url}/alice/r/resolve/main/${name}`);
      expect(await answer.text()).toBe(`content of ${name}`);
    }
    for (const name of ['hasOwnProperty', 'valueOf', '__defineGetter__']) {
      expect((await fetch(`${hub.url}/alice/r/resolve/main/${name}`)).status).toBe(404);
      const deleted = await send(
        'POST',
        '/api/models/alice/r/commit/main',
        commitLines(header, { key: 'deletedFile', value: { path: name } }),
        { 'Content-Type': 'application/x-ndjson' },
      );
      expectClientError(deleted, 404);
    }
  });

  it('refuses an inline file line larger than an LFS file would be, before buffering all of it', async () => {
    const line = JSON.stringify({
      key: 'file',
      value: { path: 'big.txt', encoding: 'base64', content: 'A'.repeat(24 * 1024 * 1024) },
    });
    const answer = await send('POST', '/api/models/alice/r/commit/main', `${JSON.stringify(header)}\n${line}\n`, {
      'Content-Type': 'application/x-ndjson',
    });
    expectClientError(answer, 413);
    expect(answer.text).toMatch(/LFS/);
  });
});

describe('hub server: the Host header', () => {
  it('does not put a foreign Host into signed URLs when no public URL is set', async () => {
    const content = new Uint8Array(12_000).fill(3);
    await uploadFiles('alice/r', { 'w.safetensors': content }, { ...connection(), commitMessage: 'lfs file' });
    const { port } = new URL(hub.url);
    const answer = await rawRequest(
      hub.url,
      `GET /alice/r/resolve/main/w.safetensors HTTP/1.1\r\nHost: evil.example:${port}`,
    );
    expect(answer.headers).not.toMatch(/^Location:/im);
    expect(answer.status).toBe(421);
    expect(answer.body).toMatch(/--public-url/);
    const own = await fetch(`${hub.url}/alice/r/resolve/main/w.safetensors`, { redirect: 'manual' });
    expect(own.headers.get('location')).toMatch(new RegExp(`^${hub.url}/lfs/objects/`));
  });

  it('keeps a given public URL whatever the Host header says', async () => {
    const other = await startHubServer({ dataDir: data, publicUrl: 'https://hub.example.com/' });
    try {
      const answer = await rawRequest(
        other.url,
        'GET /alice/r/resolve/main/w.safetensors HTTP/1.1\r\nHost: evil.example',
      );
      expect(answer.status).toBe(302);
      expect(answer.headers).toMatch(/Location: https:\/\/hub\.example\.com\/lfs\/objects\//);
    } finally {
      await other.close();
    }
  });
});

it('reads the stored object text back (sanity: the fixture hub works)', () => {
  expect(readFileSync(join(data, 'secret'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
});
