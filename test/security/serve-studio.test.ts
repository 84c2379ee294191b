// `attn serve` beyond this machine, web pages driving local servers, and what the studio's Hub page stages.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { startChatServer, type ChatServer } from '../../src/chat/server.js';
import { UsageError } from '../../src/cli/args.js';
import { startFromArgs } from '../../src/cli/commands/serve.js';
import { startStudioServer, type RunningStudio } from '../../src/studio/server.js';
import { rawRequest } from './helpers.js';

describe('attn serve --host beyond this machine', () => {
  it('refuses to serve everyone without an API key unless told --insecure, and then warns', async () => {
    await expect(startFromArgs(['--model', 'echo', '--port', '0', '--host', '0.0.0.0'], {})).rejects.toThrow(
      UsageError,
    );
    await expect(startFromArgs(['--model', 'echo', '--port', '0', '--host', '0.0.0.0'], {})).rejects.toThrow(
      /ATTN_API_KEY.*--insecure/,
    );
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    try {
      const open = await startFromArgs(['--model', 'echo', '--port', '0', '--host', '0.0.0.0', '--insecure'], {});
      await open.close();
      expect(warn.mock.calls.flat().join(' ')).toMatch(/WARNING.*0\.0\.0\.0.*WITHOUT an API key/);
    } finally {
      warn.mockRestore();
    }
    const keyed = await startFromArgs(['--model', 'echo', '--port', '0', '--host', '0.0.0.0'], { ATTN_API_KEY: 'k' });
    await keyed.close();
    const local = await startFromArgs(['--model', 'echo', '--port', '0'], {});
    await local.close();
  });
});

describe('attn serve and Origin', () => {
  let chat: ChatServer;
  beforeAll(async () => {
    chat = await startChatServer({ models: [new EchoChatModel()] });
  });
  afterAll(() => chat.close());

  const BODY = JSON.stringify({ model: 'echo', messages: [{ role: 'user', content: 'hi there' }] });
  const complete = (origin?: string) =>
    fetch(`${chat.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain', ...(origin === undefined ? {} : { Origin: origin }) },
      body: BODY,
    });

  it('refuses a generation asked by a page of another site, serves API clients and its own host', async () => {
    const foreign = await complete('https://evil.example');
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as { error: { code: string } }).error.code).toBe('forbidden_origin');
    expect(chat.stats().completed).toBe(0);
    expect((await complete()).status).toBe(200);
    expect((await complete(new URL(chat.baseURL).origin)).status).toBe(200);
    // DNS rebinding: a foreign name that resolves to 127.0.0.1, whose page then calls "its own" host.
    const { port } = new URL(chat.baseURL);
    const rebound = await rawRequest(
      chat.baseURL,
      `POST /v1/chat/completions HTTP/1.1\r\nHost: evil.example:${port}\r\nOrigin: http://evil.example:${port}\r\n` +
        `Content-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(BODY)}`,
      BODY,
    );
    expect(rebound.status).toBe(403);
    // Reading the model list changes nothing.
    expect((await fetch(`${chat.baseURL}/models`, { headers: { Origin: 'https://evil.example' } })).status).toBe(200);
  });
});

describe('studio: Origin and uploads', () => {
  let studio: RunningStudio;
  beforeAll(async () => {
    studio = await startStudioServer({ hubEndpoint: 'http://127.0.0.1:9', maxUploadBytes: 64 * 1024 });
  });
  afterAll(() => studio.close());

  /** PUTs `body` as one staged file; `chunked` streams it without a Content-Length. */
  function upload(path: string, body: Buffer, chunked = false): Promise<{ status: number; text: string }> {
    const url = `${studio.url}/api/hub/upload?session=session-0001&path=${encodeURIComponent(path)}`;
    return new Promise((resolve, reject) => {
      const headers = chunked ? { 'Transfer-Encoding': 'chunked' } : { 'Content-Length': String(body.length) };
      const req = request(url, { method: 'PUT', headers }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      });
      req.on('error', reject);
      if (chunked) {
        for (let at = 0; at < body.length; at += 8192) req.write(body.subarray(at, at + 8192));
        req.end();
      } else req.end(body);
    });
  }

  it('refuses an Origin whose scheme differs from its own', async () => {
    const { host } = new URL(studio.url);
    for (const origin of [`https://${host}`, `http://${host}.evil.example`, 'null']) {
      const answer = await fetch(`${studio.url}/api/models`, { headers: { Origin: origin } });
      expect([origin, answer.status]).toEqual([origin, 403]);
    }
    expect((await fetch(`${studio.url}/api/training/runs`, { headers: { Origin: `http://${host}` } })).status).toBe(
      200,
    );
    // A Host no URL can hold, behind a studio that takes any name (0.0.0.0): refused, not a 500.
    const anyName = await startStudioServer({ hubEndpoint: 'http://127.0.0.1:9', host: '0.0.0.0' });
    try {
      const { port } = new URL(anyName.url);
      const odd = await rawRequest(
        `http://127.0.0.1:${port}`,
        `GET /api/training/runs HTTP/1.1\r\nHost: a^b\r\nOrigin: http://a`,
      );
      expect(odd.status).toBe(403);
    } finally {
      await anyName.close();
    }
  });

  it("answers 409 for a file 'a' then 'a/b' (and the reverse), not 500", async () => {
    expect((await upload('a', Buffer.from('x'))).status).toBe(200);
    const nested = await upload('a/b', Buffer.from('y'));
    expect(nested.status).toBe(409);
    expect(nested.text).toMatch(/'a\/b' clashes/);
    expect((await upload('c/d', Buffer.from('y'))).status).toBe(200);
    expect((await upload('c', Buffer.from('x'))).status).toBe(409);
  });

  it('refuses a file over the upload limit, announced or streamed', async () => {
    const big = Buffer.alloc(200 * 1024, 1);
    const announced = await upload('big.bin', big);
    expect(announced.status).toBe(413);
    expect(announced.text).toMatch(/upload limit of 65536 bytes/);
    expect((await upload('streamed.bin', big, true)).status).toBe(413);
    expect((await upload('small.bin', Buffer.alloc(1000, 1), true)).status).toBe(200);
  });
});
