// Property: byte-level BPE decodes what it encodes, exactly, for any Unicode text.
import { Tokenizer } from '@huggingface/tokenizers';
import { describe, expect, it } from 'vitest';
import { GPT2_SPLIT_PATTERN, toByteLevel } from '../../src/tokenizers/bytes.js';
import { AutoTokenizer, trainTokenizer, type PreTrainedTokenizer } from '../../src/tokenizers/index.js';
import { goldenPath } from '../models/golden.js';

/** mulberry32: a tiny seeded PRNG, so a failing string can be reproduced from the seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const cp = (lo: number, hi: number) => (r: () => number) => String.fromCodePoint(lo + Math.floor(r() * (hi - lo + 1)));
const pick = (items: string[]) => (r: () => number) => items[Math.floor(r() * items.length)]!;

/** Kinds of fragments random strings are built from. */
const FRAGMENTS: ((r: () => number) => string)[] = [
  cp(0x61, 0x7a), // ASCII letters
  cp(0x21, 0x40), // digits and punctuation
  cp(0xac00, 0xd7a3), // Hangul syllables
  cp(0x1100, 0x11ff), // Hangul jamo
  cp(0x0300, 0x036f), // combining marks (also after nothing)
  cp(0x4e00, 0x9fff), // CJK
  cp(0x1f300, 0x1faff), // emoji
  pick(['👨‍👩‍👧‍👦', '👍🏽', '🇰🇷', '❤️', 'é', 'ﬁ', '\u200b', '\ufeff']), // ZWJ, skin tone, flag, variation selector, zero-width
  pick([' ', '  ', '   ', '\t', '\n', '\r\n', '\u00a0', '\u3000', ' \n ']), // whitespace runs
  (r) => {
    // any scalar value outside the surrogate range
    const v = Math.floor(r() * 0x10ffff);
    return String.fromCodePoint(v >= 0xd800 && v <= 0xdfff ? v - 0x800 : v);
  },
];

function randomText(r: () => number): string {
  const n = 1 + Math.floor(r() * 24);
  let s = '';
  for (let i = 0; i < n; i++) s += FRAGMENTS[Math.floor(r() * FRAGMENTS.length)]!(r);
  return s;
}

function expectRoundTrip(tok: PreTrainedTokenizer, seed: number, count: number): void {
  const r = rng(seed);
  for (let i = 0; i < count; i++) {
    const text = randomText(r);
    const ids = tok.encodeIds(text, { addSpecialTokens: false });
    expect(
      tok.decode(ids, { cleanUpTokenizationSpaces: false }),
      `seed ${seed} string ${i}: ${JSON.stringify(text)}`,
    ).toBe(text);
  }
}

describe('byte-level BPE round trip on random Unicode', () => {
  it('holds for a freshly trained tokenizer (seed 1)', () => {
    const r = rng(99);
    const corpus = Array.from({ length: 400 }, () => randomText(r));
    const tok = trainTokenizer({ type: 'bpe', texts: corpus, vocabSize: 600, minFrequency: 1 });
    expectRoundTrip(tok, 1, 500);
  });
});

describe('GPT-2 round trip on random Unicode', () => {
  it('holds for GPT-2 (seed 2)', async () => {
    const gpt2 = await AutoTokenizer.fromPretrained(goldenPath('tokenizers', 'gpt2'));
    expectRoundTrip(gpt2, 2, 500);
  });
});

describe("the trainer's byte-level split", () => {
  it("equals @huggingface/tokenizers' ByteLevel pre-tokenizer on random Unicode (seed 3)", () => {
    const probe = new Tokenizer(
      {
        normalizer: null,
        pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
        post_processor: null,
        decoder: null,
        added_tokens: [],
        model: { type: 'WordPiece', vocab: { '[UNK]': 0 }, unk_token: '[UNK]', continuing_subword_prefix: '##' },
      },
      {},
    );
    const r = rng(3);
    for (let i = 0; i < 500; i++) {
      const text = randomText(r) + " it's 12 o'clock ";
      expect((text.match(GPT2_SPLIT_PATTERN) ?? []).map(toByteLevel), JSON.stringify(text)).toEqual(
        probe.pre_tokenizer!(text),
      );
    }
  });
});
