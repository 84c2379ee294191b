// Severe: any web page can make a browser send `GET /%ff` (an <img> tag). No server may crash on a URL it cannot
// decode or parse: each answers 400 and goes on serving.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { startChatServer, type ChatServer } from '../../src/chat/server.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { startStudioServer, type RunningStudio } from '../../src/studio/server.js';
import { rawGet, scratchDir } from './helpers.js';

/** Targets Node's HTTP parser lets through but that no URL decoder or parser accepts. */
const MALFORMED = ['/%ff', '/%', '/a%zz', '/%e0%a4%a', '//[', '/api/models/%c0?x=1'];

let studio: RunningStudio;
let chat: ChatServer;
let hub: RunningHubServer;

beforeAll(async () => {
  const appDir = scratchDir('studio-app');
  writeFileSync(join(appDir, 'index.html'), '<!doctype html><title>studio</title>');
  studio = await startStudioServer({ appDir, hubEndpoint: 'http://127.0.0.1:9' });
  chat = await startChatServer({ models: [new EchoChatModel()] });
  hub = await startHubServer({ dataDir: scratchDir('hub') });
});

afterAll(async () => {
  await Promise.all([studio?.close(), chat?.close(), hub?.close()]);
});

describe('a malformed URL is a 400, never a crash', () => {
  it('attn studio', async () => {
    for (const target of MALFORMED) {
      const answer = await rawGet(studio.url, target);
      expect([target, answer.status]).toEqual([target, 400]);
      expect(JSON.parse(answer.body).error).toMatch(/URL/);
    }
    expect((await rawGet(studio.url, '/')).status).toBe(200);
  });

  it('attn serve', async () => {
    const base = chat.baseURL.replace(/\/v1$/, '');
    for (const target of [...MALFORMED, '/v1/models/%ff', '/v1/models/%']) {
      const answer = await rawGet(base, target);
      expect([target, answer.status]).toEqual([target, 400]);
      expect(JSON.parse(answer.body).error.type).toBe('invalid_request_error');
    }
    expect((await rawGet(base, '/v1/models')).status).toBe(200);
  });

  it('attn hub serve', async () => {
    for (const target of [...MALFORMED, '/api/models/alice/%ff', '/alice/x/resolve/main/%c0']) {
      const answer = await rawGet(hub.url, target);
      expect([target, answer.status]).toEqual([target, 400]);
    }
    expect((await rawGet(hub.url, '/api/models')).status).toBe(200);
  });
});
