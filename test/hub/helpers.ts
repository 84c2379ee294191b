import { randomBytes } from 'node:crypto';
import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ architectures: ['BertForSequenceClassification'], hidden_size: 8, note: seedText }));
  writeFileSync(join(folder, 'tokenizer.json'), JSON.stringify({ version: '1.0', model: { type: 'WordPiece', vocab: { '[UNK]': 0, hi: 1 } } }));
  writeFileSync(join(folder, 'model.safetensors'), randomBytes(weightsBytes));
  mkdirSync(join(folder, '.cache'));
  writeFileSync(join(folder, '.cache', 'ignored'), 'not pushed');
  return folder;
}
