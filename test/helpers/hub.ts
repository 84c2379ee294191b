// A model folder published to an attn hub server on 127.0.0.1, with the environment pointing the hub client at it
// (endpoint, token, an empty cache), for tests that load models by repo id. `close` stops the server and restores
// the environment.
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRepo } from '../../src/hub/api.js';
import { TokenStore } from '../../src/hub/server/auth.js';
import { startHubServer } from '../../src/hub/server/server.js';
import { uploadFiles } from '../../src/hub/upload.js';

const ENV_KEYS = ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE'] as const;

export interface PublishedModel {
  url: string;
  /** Stops the server (a second call does nothing); the environment stays until `restoreEnv`. */
  stopServer(): Promise<void>;
  /** Stops the server if running and puts HF_ENDPOINT, HF_TOKEN, HF_HUB_CACHE and HF_HUB_OFFLINE back. */
  close(): Promise<void>;
}

/** Uploads every file of `folder` to `repoId` (its owner gets a write token) and points HF_* at the server. */
export async function publishToLocalHub(folder: string, repoId: string): Promise<PublishedModel> {
  const saved = Object.fromEntries(ENV_KEYS.map((key) => [key, process.env[key]]));
  const work = mkdtempSync(join(tmpdir(), 'attn-local-hub-'));
  const token = await new TokenStore(join(work, 'data')).add(repoId.split('/')[0]!, 'write');
  const hub = await startHubServer({ dataDir: join(work, 'data') });
  let running = true;
  const stopServer = async () => {
    if (running) await hub.close();
    running = false;
  };
  const restore = () => {
    for (const key of ENV_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  };
  try {
    const connection = { endpoint: hub.url, token };
    await createRepo(repoId, connection);
    const files = Object.fromEntries(readdirSync(folder).map((file) => [file, join(folder, file)]));
    await uploadFiles(repoId, files, { ...connection, commitMessage: `upload ${repoId}` });
  } catch (err) {
    await stopServer();
    throw err;
  }
  Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_TOKEN: token, HF_HUB_CACHE: join(work, 'cache') });
  delete process.env.HF_HUB_OFFLINE;
  return { url: hub.url, stopServer, close: async () => (await stopServer(), restore()) };
}
