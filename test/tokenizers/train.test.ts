import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AutoTokenizer, trainTokenizer } from '../../src/tokenizers/index.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const scratch = mkdtempSync(join(tmpdir(), 'attn-train-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const ENGLISH = ['the cat sat on the mat', 'the dog sat on the log', 'a cat and a dog', 'The Cat, the DOG.'];

describe('byte-level BPE trainer', () => {
  it('puts special tokens first, then the 256 bytes, then merges by frequency', () => {
    const tok = trainTokenizer({
      type: 'bpe',
      texts: ENGLISH,
      vocabSize: 270,
      specialTokens: ['<|endoftext|>', '<pad>'],
    });
    expect(tok.convertIdsToTokens([0, 1])).toEqual(['<|endoftext|>', '<pad>']);
    expect(tok.vocabSize).toBe(270);
    expect([tok.bosToken, tok.eosToken, tok.padToken]).toEqual(['<|endoftext|>', '<|endoftext|>', '<pad>']);
    const merges = tok.json.model['merges'] as string[];
    expect(merges).toHaveLength(270 - 2 - 256);
    // "a t" and "h e" both occur 6 times, more than any other pair; ties go to the lower symbol ids ('a' < 'h').
    expect(merges.slice(0, 2)).toEqual(['a t', 'h e']);
  });

  it('stops at minFrequency', () => {
    const tok = trainTokenizer({ type: 'bpe', texts: ENGLISH, vocabSize: 10000, minFrequency: 4 });
    const merges = tok.json.model['merges'] as string[];
    expect(merges.length).toBeGreaterThan(0);
    expect(tok.vocabSize).toBe(1 + 256 + merges.length);
    expect(tok.vocabSize).toBeLessThan(300);
  });

  it('is deterministic and applies the normalizers', () => {
    const a = trainTokenizer({ type: 'bpe', texts: ENGLISH, vocabSize: 300, normalizer: ['nfkc', 'lowercase'] });
    const b = trainTokenizer({ type: 'bpe', texts: ENGLISH, vocabSize: 300, normalizer: ['nfkc', 'lowercase'] });
    expect(JSON.stringify(a.json)).toBe(JSON.stringify(b.json));
    expect(a.json.normalizer).toEqual({ type: 'Sequence', normalizers: [{ type: 'NFKC' }, { type: 'Lowercase' }] });
    expect(a.decode(a.encodeIds('THE ＣＡＴ'))).toBe('the cat');
  });

  it('saves a standard tokenizer.json that AutoTokenizer reloads to the same ids', async () => {
    const tok = trainTokenizer({ type: 'bpe', texts: ENGLISH, vocabSize: 280 });
    const dir = join(scratch, 'bpe');
    await tok.savePretrained(dir);
    const json = JSON.parse(readFileSync(join(dir, 'tokenizer.json'), 'utf8'));
    expect(Object.keys(json).sort()).toEqual([
      'added_tokens',
      'decoder',
      'model',
      'normalizer',
      'padding',
      'post_processor',
      'pre_tokenizer',
      'truncation',
      'version',
    ]);
    expect(json.model.type).toBe('BPE');
    const config = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(config.tokenizer_class).toBe('PreTrainedTokenizerFast');
    const again = await AutoTokenizer.fromPretrained(dir);
    expect(again.encode(ENGLISH).inputIds).toEqual(tok.encode(ENGLISH).inputIds);
  });
});

describe('WordPiece trainer', () => {
  it('builds ## continuation pieces and BERT special tokens', () => {
    const tok = trainTokenizer({ type: 'wordpiece', texts: ENGLISH, vocabSize: 60, normalizer: 'lowercase' });
    expect(tok.convertIdsToTokens([0, 1, 2, 3, 4])).toEqual(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]']);
    const vocab = [...tok.getVocab().keys()];
    expect(vocab.some((t) => t.startsWith('##'))).toBe(true);
    expect(vocab).toContain('the');
    const ids = tok.encodeIds('The cat sat');
    expect(tok.convertIdsToTokens(ids)).toEqual(['[CLS]', 'the', 'cat', 'sat', '[SEP]']);
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('the cat sat');
    expect(tok.encodeIds('zebra')).toContain(tok.unkTokenId);
  });

  it('needs an unknown token', () => {
    expect(() =>
      trainTokenizer({ type: 'wordpiece', texts: ENGLISH, vocabSize: 60, specialTokens: ['[CLS]'] }),
    ).toThrow(/needs an unknown token/);
  });

  it('rejects a vocabulary smaller than its special tokens', () => {
    expect(() => trainTokenizer({ type: 'wordpiece', texts: ENGLISH, vocabSize: 3 })).toThrow(
      /vocabSize must be an integer above the 5 special tokens/,
    );
  });
});

describeWithShared('Korean byte-level BPE (nsmc)', ['data/nsmc/train.tsv'], () => {
  it('round-trips every line of 2,000 held-out reviews losslessly', () => {
    const lines = readFileSync(sharedPath('data/nsmc/train.tsv'), 'utf8')
      .split('\n')
      .slice(1)
      .map((l) => l.split('\t')[0]!);
    const tok = trainTokenizer({ type: 'bpe', texts: lines.slice(0, 3000), vocabSize: 2000 });
    const heldOut = lines.slice(3000, 5000);
    let tokens = 0;
    for (const text of heldOut) {
      const ids = tok.encodeIds(text);
      tokens += ids.length;
      expect(tok.decode(ids)).toBe(text);
    }
    // Merges learned Korean syllables: far fewer tokens than UTF-8 bytes (3 per syllable).
    expect(tokens).toBeLessThan(Buffer.byteLength(heldOut.join('')) / 2);
  });
});
