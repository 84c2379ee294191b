import { describe, expect, it } from 'vitest';
import { corpusBleu, tokenize13a } from '../../src/metrics/index.js';

describe('tokenize13a', () => {
  it('splits punctuation and symbols, keeps numbers and apostrophes, unescapes entities', () => {
    expect(tokenize13a("Hello, world! It's 3.14 and 1,000-2,000 &amp; more.")).toBe(
      "Hello , world ! It's 3.14 and 1,000 - 2,000 & more .",
    );
    expect(tokenize13a('a (b) "c" [d]/e')).toBe('a ( b ) " c " [ d ] / e');
  });
});

describe('corpusBleu (sacreBLEU)', () => {
  it("reproduces sacreBLEU's README example: 48.53 82.4/50.0/45.5/37.5 (BP = 0.943, hyp_len 17, ref_len 18)", () => {
    const hypotheses = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
    const references = [
      ['The dog bit the man.', 'The dog had bit the man.'],
      ['It was not unexpected.', 'No one was surprised.'],
      ['The man bit him first.', 'The man had bitten the dog.'],
    ];
    const bleu = corpusBleu(hypotheses, references);
    expect(bleu.score.toFixed(2)).toBe('48.53');
    expect(bleu.precisions.map((p) => p.toFixed(1))).toEqual(['82.4', '50.0', '45.5', '37.5']);
    expect(bleu.bp.toFixed(3)).toBe('0.943');
    expect([bleu.sysLen, bleu.refLen]).toEqual([17, 18]);
  });

  it('reproduces the Hugging Face evaluate sacrebleu example (100, counts [7, 5, 3, 1])', () => {
    const bleu = corpusBleu(
      ['hello there general kenobi', 'foo bar foobar'],
      [
        ['hello there general kenobi', 'hello there !'],
        ['foo bar foobar', 'foo bar foobar'],
      ],
    );
    expect(bleu.score).toBeCloseTo(100, 10);
    expect(bleu.counts).toEqual([7, 5, 3, 1]);
    expect(bleu.totals).toEqual([7, 5, 3, 1]);
  });

  it('is the geometric mean of clipped precisions (hand-computed: (5/6 · 3/5 · 2/4 · 1/3)^¼)', () => {
    const bleu = corpusBleu(['the cat sat on a mat'], ['the cat sat on the mat']);
    expect(bleu.counts).toEqual([5, 3, 2, 1]);
    expect(bleu.totals).toEqual([6, 5, 4, 3]);
    expect(bleu.score).toBeCloseTo(100 * (1 / 12) ** 0.25, 10);
  });

  it("smooths zero n-gram matches: 'exp' halves 100/total per zero order, 'floor' and 'none' as sacreBLEU", () => {
    // Unigrams 4/5, bigrams 1/4, trigrams 0/3, 4-grams 0/2; 5 tokens against 6: BP = exp(1 - 6/5).
    const hyp = ['the cat on a mat'];
    const ref = ['the cat sat on the mat'];
    const bp = Math.exp(-0.2);
    const geometric = (ps: number[]) => Math.exp(ps.reduce((s, p) => s + Math.log(p), 0) / ps.length);
    expect(corpusBleu(hyp, ref).score).toBeCloseTo(bp * geometric([80, 25, 100 / 6, 100 / 8]), 10);
    expect(corpusBleu(hyp, ref, { smoothMethod: 'floor' }).score).toBeCloseTo(
      bp * geometric([80, 25, 10 / 3, 10 / 2]),
      10,
    );
    expect(corpusBleu(hyp, ref, { smoothMethod: 'none' }).score).toBe(0);
    expect(corpusBleu(hyp, ref, { smoothMethod: 'add-k' }).score).toBeCloseTo(
      bp * geometric([80, 200 / 5, 100 / 4, 100 / 3]),
      10,
    );
  });

  it('scores 0 when the hypotheses are too short to have 4-grams, and when nothing matches', () => {
    expect(corpusBleu(['the cat sat'], ['the cat sat on the mat']).score).toBe(0);
    expect(corpusBleu(['xyz'], ['the cat']).score).toBe(0);
  });

  it('lowercases on request and accepts one reference string per hypothesis', () => {
    expect(corpusBleu(['THE CAT SAT ON THE MAT'], ['the cat sat on the mat'], { lowercase: true }).score).toBeCloseTo(
      100,
      10,
    );
    expect(() => corpusBleu(['a', 'b'], [['a', 'b']])).toThrow('corpusBleu: 2 predictions for 1 references');
  });
});
