// Broken tokenizer folders get errors that name the file and the field at fault.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoTokenizer, TokenizerFileError } from '../../src/tokenizers/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'attn-bad-tokenizer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function folder(name: string, files: Record<string, string | Uint8Array>): string {
  const dir = join(scratch, name);
  mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

const load = (dir: string) => AutoTokenizer.fromPretrained(dir);

describe('bad tokenizer input', () => {
  it('names a path that is not a directory', async () => {
    await expect(load(join(scratch, 'nope'))).rejects.toThrow(
      /nope' is neither a local model folder nor a hub repo id/,
    );
  });

  it('names the folder and the files it looked for', async () => {
    const dir = folder('empty', {});
    await expect(load(dir)).rejects.toThrow(
      new RegExp(`${dir}: no tokenizer found: expected tokenizer.json, vocab.txt`),
    );
  });

  it('names a tokenizer.json that is not JSON', async () => {
    const dir = folder('badjson', { 'tokenizer.json': '{"model": ' });
    const err = await load(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TokenizerFileError);
    expect((err as TokenizerFileError).file).toBe(join(dir, 'tokenizer.json'));
    expect(String(err)).toMatch(/tokenizer.json: not valid JSON/);
  });

  it('names the missing model field of tokenizer.json', async () => {
    const dir = folder('novocab', { 'tokenizer.json': JSON.stringify({ model: { type: 'BPE', merges: [] } }) });
    await expect(load(dir)).rejects.toThrow(
      /tokenizer.json: field "model.vocab": missing or not an object \(model type BPE\)/,
    );
    const dir2 = folder('badtype', { 'tokenizer.json': JSON.stringify({ model: { type: 'Magic', vocab: {} } }) });
    await expect(load(dir2)).rejects.toThrow(
      /field "model.type": "Magic" is not one of BPE, WordPiece, Unigram, WordLevel/,
    );
  });

  it('names a bad added token', async () => {
    const dir = folder('badadded', {
      'tokenizer.json': JSON.stringify({
        model: { type: 'WordPiece', vocab: { a: 0 } },
        added_tokens: [{ content: 'x' }],
      }),
    });
    await expect(load(dir)).rejects.toThrow(/field "added_tokens\[0\]": expected an object with a numeric "id"/);
  });

  it('names a malformed tokenizer_config.json', async () => {
    const dir = folder('badconfig', { 'vocab.txt': '[UNK]\n[CLS]\n[SEP]\n', 'tokenizer_config.json': '[1, 2' });
    await expect(load(dir)).rejects.toThrow(/tokenizer_config.json: not valid JSON/);
  });

  it('names a special token missing from vocab.txt', async () => {
    const dir = folder('nocls', { 'vocab.txt': '[UNK]\n[SEP]\nhello\n' });
    await expect(load(dir)).rejects.toThrow(/vocab.txt: field "cls_token": "\[CLS\]" is not in the vocabulary/);
  });

  it('names the missing merges file of a vocab.json', async () => {
    const dir = folder('nomerges', { 'vocab.json': '{"a": 0}' });
    await expect(load(dir)).rejects.toThrow(/merges.txt: missing: .*vocab.json needs its BPE merges/);
  });

  it('names the bad line of merges.txt and the bad id of vocab.json', async () => {
    const dir = folder('badmerges', { 'vocab.json': '{"a": 0, "b": 1}', 'merges.txt': '#version: 0.2\na b\nab\n' });
    await expect(load(dir)).rejects.toThrow(/merges.txt: field "line 3": expected "left right", found "ab"/);
    const dir2 = folder('badid', { 'vocab.json': '{"a": "zero"}', 'merges.txt': '' });
    await expect(load(dir2)).rejects.toThrow(/vocab.json: field "a": id "zero" is not a non-negative integer/);
  });

  it('names a tokenizer.model that is not a SentencePiece protobuf', async () => {
    const dir = folder('badspm', { 'tokenizer.model': new Uint8Array([0x0a, 0x50, 0x01]) });
    await expect(load(dir)).rejects.toThrow(
      /tokenizer.model: not a SentencePiece model protobuf \(protobuf: field needs 80 bytes/,
    );
    const dir2 = folder('textspm', { 'tokenizer.model': 'hello world, not a model' });
    await expect(load(dir2)).rejects.toThrow(/tokenizer.model: /);
  });
});
