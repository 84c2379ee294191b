import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  copyNgramHead,
  NgramClassifier,
  ngramFeatures,
  writeNgramHeadEntry,
  type NgramHeadConfig,
} from '../../src/models/ngram/modeling_ngram.js';
import { Generator } from '../../src/tensor/random.js';

const scratch = mkdtempSync(join(tmpdir(), 'attn-ngram-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
let folders = 0;
/** A new empty folder holding a config.json of a BERT. */
const folder = (): string => {
  const dir = join(scratch, String(folders++));
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ model_type: 'bert', vocab_size: 10 }));
  return dir;
};

/** Random float weights for a 2^bits table, most of them 0 as after training on few texts. */
function randomWeights(bits: number, seed: number): Float32Array {
  const generator = new Generator(seed);
  return Float32Array.from({ length: 2 ** bits }, () =>
    generator.random() < 0.3 ? (generator.random() - 0.5) * 4 : 0,
  );
}

describe('n-gram features', () => {
  it('are the distinct character 1–5-grams of the space-padded text, its words and word pairs', () => {
    // ' ab ': 1-grams ' ', a, b; 2-grams ' a', ab, 'b '; 3-grams ' ab', 'ab '; 4-gram ' ab '; the word ab: 10.
    expect(ngramFeatures('ab', 5, 30)).toHaveLength(10);
    // ' a b ': 1-grams ' ', a, b; 2-grams ' a', 'a ', ' b', 'b '; 3-grams ' a ', 'a b', ' b '; 4-grams ' a b',
    // 'a b '; 5-gram ' a b ': 13, and the words a, b and the pair 'a b': 16.
    expect(ngramFeatures('a b', 5, 30)).toHaveLength(16);
    expect(ngramFeatures('a b', 2, 30)).toHaveLength(3 + 4 + 3);
  });

  it('fold compatibility forms (NFKC) and runs of whitespace, and stay inside the table', () => {
    const sorted = (f: Int32Array): number[] => [...f].sort((a, b) => a - b);
    expect(sorted(ngramFeatures('ｇｏｏｄ  movie\t', 5, 20))).toEqual(sorted(ngramFeatures(' good movie', 5, 20)));
    const features = ngramFeatures('정말 재미있고 감동적인 영화였어요', 5, 10);
    expect(features.every((f) => f >= 0 && f < 1024)).toBe(true);
    expect(new Set(features).size).toBe(features.length);
  });
});

describe('NgramClassifier', () => {
  const bits = 12;
  const weights = randomWeights(bits, 1);
  const classifier = NgramClassifier.fromWeights(5, bits, weights, 0.25);

  it('stores each weight as an int8 code within half a step of its block scale', () => {
    classifier.codes.forEach((code, i) => {
      const scale = classifier.scales[i >> 6]!;
      expect(Math.abs(code * scale - weights[i]!)).toBeLessThanOrEqual(scale / 2 + 1e-7);
      if (weights[i] === 0) expect(code).toBe(0);
    });
    // Each block's largest weight is exactly ±127 steps.
    expect(Math.max(...Array.from(classifier.codes.subarray(0, 64), Math.abs))).toBe(127);
  });

  it("gives a text's logit as the bias plus the weights of its features", () => {
    for (const text of ['a good movie', '정말 최고의 영화', 'x']) {
      let expected = 0.25;
      for (const f of ngramFeatures(text, 5, bits)) expected += classifier.codes[f]! * classifier.scales[f >> 6]!;
      expect(classifier.logit(text)).toBeCloseTo(expected, 5);
      let float = 0.25;
      for (const f of ngramFeatures(text, 5, bits)) float += weights[f]!;
      expect(Math.abs(classifier.logit(text) - float)).toBeLessThan(0.05 * ngramFeatures(text, 5, bits).length);
    }
  });

  it('saves and loads to the same logits, and copies along with its config.json entry', async () => {
    const dir = folder();
    const entry = await classifier.save(dir, 0.4);
    expect(entry).toEqual({ max_chars: 5, hash_bits: bits, weight: 0.4, temperature: 1 });
    const loaded = await NgramClassifier.load(dir, entry);
    for (const text of ['a good movie', '지루하다']) expect(loaded.logit(text)).toBe(classifier.logit(text));
    await writeNgramHeadEntry(dir, entry);
    const copy = folder();
    expect(await copyNgramHead(dir, copy)).toBe(true);
    expect((await NgramClassifier.load(copy, entry)).logit('a good movie')).toBe(classifier.logit('a good movie'));
    // Keys stay sorted, as transformers writes them; a folder without a head copies nothing.
    expect(Object.keys(JSON.parse(readFileSync(join(copy, 'config.json'), 'utf8')))).toEqual([
      'model_type',
      'ngram_head',
      'vocab_size',
    ]);
    expect(await copyNgramHead(folder(), folder())).toBe(false);
  });

  it('names the field, file or tensor at fault when a head cannot be loaded', async () => {
    const dir = folder();
    const entry = await classifier.save(dir, 0.5);
    const bad = (change: Partial<Record<keyof NgramHeadConfig, unknown>>): NgramHeadConfig =>
      ({ ...entry, ...change }) as NgramHeadConfig;
    await expect(NgramClassifier.load(dir, bad({ hash_bits: 40 }))).rejects.toThrow(
      /config\.json: ngram_head\.hash_bits is 40, expected a whole number in 8\.\.30/,
    );
    await expect(NgramClassifier.load(dir, bad({ weight: 1.5 }))).rejects.toThrow(/ngram_head\.weight is 1\.5/);
    await expect(NgramClassifier.load(dir, bad({ temperature: 0 }))).rejects.toThrow(
      /ngram_head\.temperature is 0, expected a number in 0\.01\.\.100/,
    );
    await expect(NgramClassifier.load(folder(), entry)).rejects.toThrow(
      /ngram_head\.safetensors: the n-gram head that config\.json's ngram_head names cannot be read/,
    );
    await expect(NgramClassifier.load(dir, bad({ hash_bits: bits + 1 }))).rejects.toThrow(
      /ngram_head\.safetensors does not match config\.json ngram_head: expected 2\^13 = 8192 codes, got 4096/,
    );
  });
});
