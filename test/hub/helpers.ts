import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TokenStore } from '../../src/hub/server/auth.js';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `attn-hub-${prefix}-`));
}

export interface Tokens {
  alice: string;
  aliceRead: string;
  bob: string;
}

export async function makeTokens(dataDir: string): Promise<Tokens> {
  const store = new TokenStore(dataDir);
  return {
    alice: await store.add('alice', 'write'),
    aliceRead: await store.add('alice', 'read'),
    bob: await store.add('bob', 'write'),
  };
}

/** A folder shaped like a saved model: config, tokenizer, binary weights (random bytes stand in for tensors). */
export function fakeModelFolder(weightsBytes = 300_000, seedText = 'v1'): string {
  const folder = tempDir('model');
  writeFileSync(
    join(folder, 'config.json'),
    JSON.stringify({ architectures: ['BertForSequenceClassification'], hidden_size: 8, note: seedText }),
  );
  writeFileSync(
    join(folder, 'tokenizer.json'),
    JSON.stringify({ version: '1.0', model: { type: 'WordPiece', vocab: { '[UNK]': 0, hi: 1 } } }),
  );
  writeFileSync(join(folder, 'model.safetensors'), randomBytes(weightsBytes));
  mkdirSync(join(folder, '.cache'));
  writeFileSync(join(folder, '.cache', 'ignored'), 'not pushed');
  return folder;
}

const REGISTER_TS = fileURLToPath(new URL('./register-ts.mjs', import.meta.url));

/** A child node process running a test/hub script from the TypeScript sources. */
export function spawnScript(script: string, args: string[]): ChildProcess {
  return spawn(process.execPath, ['--import', REGISTER_TS, fileURLToPath(new URL(script, import.meta.url)), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface ChildHub {
  url: string;
  child: ChildProcess;
}

/** `attn hub serve` in a child process (so that a test can kill it), once it listens. */
export async function spawnHubServer(dataDir: string): Promise<ChildHub> {
  const child = spawnScript('./hub-cli.mjs', ['serve', '--data', dataDir, '--port', '0']);
  let output = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      const match = /serving .* at (http:\/\/\S+)/.exec(output);
      if (match !== null) resolve(match[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`hub server exited (${code}) before listening: ${output}`)));
  });
  return { url, child };
}

export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

export async function waitFor(condition: () => boolean, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
