import { describe, expect, it } from 'vitest';
import * as P from '../../src/generation/logits_process.js';

const ctx = (sequences: number[][], vocabSize: number) => ({ sequences, vocabSize });
const apply = (p: P.LogitsProcessor, row: number[], sequences: number[][] = [[0]]): number[] => {
  const scores = Float32Array.from(row);
  p(scores, ctx(sequences, row.length));
  return Array.from(scores);
};

describe('logits processors (transformers semantics)', () => {
  it('repetition penalty divides positive and multiplies negative scores of seen tokens, once each', () => {
    expect(apply(P.repetitionPenalty(2), [2, -2, 1], [[0, 1, 1]])).toEqual([1, -4, 1]);
  });

  it('no-repeat n-gram bans tokens that would repeat an n-gram of the row', () => {
    // Row 1 2 3 1 2: the bigram prefix (2) was followed by 3, the trigram prefix (1 2) by 3.
    expect(apply(P.noRepeatNgram(2), [0, 0, 0, 0], [[1, 2, 3, 1, 2]])).toEqual([0, 0, 0, -Infinity]);
    expect(apply(P.noRepeatNgram(3), [0, 0, 0, 0], [[1, 2, 3, 1, 2]])).toEqual([0, 0, 0, -Infinity]);
    expect(apply(P.noRepeatNgram(3), [0, 0, 0, 0], [[1, 2, 3, 2, 1]])).toEqual([0, 0, 0, 0]);
  });

  it('bad words ban single ids always and sequences after their prefix, never a lone EOS', () => {
    const p = P.badWords([[3], [1, 2], [0]], [0]);
    expect(apply(p, [5, 5, 5, 5], [[2, 1]])).toEqual([5, 5, -Infinity, -Infinity]);
    expect(apply(p, [5, 5, 5, 5], [[1, 2]])).toEqual([5, 5, 5, -Infinity]);
  });

  it('top-k keeps the k best (k = 0 keeps all)', () => {
    expect(apply(P.topK(2), [1, 3, 2, 0])).toEqual([-Infinity, 3, 2, -Infinity]);
    expect(apply(P.topK(0), [1, 3, 2, 0])).toEqual([1, 3, 2, 0]);
  });

  it('top-p removes the low tail whose cumulative probability is at most 1 - p', () => {
    const logits = [0.1, 0.6, 0.3].map(Math.log);
    expect(apply(P.topP(0.5), logits).map(Number.isFinite)).toEqual([false, true, false]);
    expect(apply(P.topP(0.75), logits).map(Number.isFinite)).toEqual([false, true, true]);
  });

  it('temperature divides, min length bans EOS until the length, forced EOS and BOS force one token', () => {
    expect(apply(P.temperature(2), [2, -4])).toEqual([1, -2]);
    expect(apply(P.minLength(3, [1]), [5, 5], [[0, 0]])).toEqual([5, -Infinity]);
    expect(apply(P.minLength(2, [1]), [5, 5], [[0, 0]])).toEqual([5, 5]);
    expect(apply(P.forcedEos(4, [2]), [1, 2, 3], [[0, 0, 0]])).toEqual([-Infinity, -Infinity, 0]);
    expect(apply(P.forcedEos(5, [2]), [1, 2, 3], [[0, 0, 0]])).toEqual([1, 2, 3]);
    expect(apply(P.forcedBos(0), [1, 2, 3], [[7]])).toEqual([0, -Infinity, -Infinity]);
  });

  it('log-softmax rows normalise each row', () => {
    const scores = Float32Array.from([0, 0, 1, 1]);
    P.logSoftmaxRows(scores, 2);
    expect(Array.from(scores).map((x) => +x.toFixed(6))).toEqual([-0.693147, -0.693147, -0.693147, -0.693147]);
  });
});
