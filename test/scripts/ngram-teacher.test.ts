import { describe, expect, it } from 'vitest';
import { crossFittedLogits, trainNgramClassifier } from '../../scripts/ngram-teacher.js';
import { Generator } from '../../src/tensor/random.js';

const generator = new Generator(3);
const pick = <T>(items: readonly T[]): T => items[generator.randint(items.length)]!;
const subjects = ['영화', '배우', '연출', '음악', '결말'];
const positive = ['최고다', '재밌다', '감동적이다'];
const negative = ['별로다', '지루하다', '최악이다'];
/** Reviews whose label is carried by the verdict word, with a random filler word so that no two are alike. */
function reviews(count: number): { texts: string[]; labels: number[] } {
  const texts: string[] = [];
  const labels: number[] = [];
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    const filler = Array.from({ length: 6 }, () => String.fromCharCode(0xac00 + generator.randint(2000))).join('');
    texts.push(`${pick(subjects)} ${filler} ${pick(label ? positive : negative)}`);
    labels.push(label);
  }
  return { texts, labels };
}

describe('n-gram teacher', () => {
  const options = { hashBits: 16 };

  it('learns labels carried by words and scores unseen texts by them', () => {
    const train = reviews(400);
    const test = reviews(200);
    const score = trainNgramClassifier(train.texts, train.labels, options);
    const right = test.texts.filter((text, i) => (score.logit(text) > 0 ? 1 : 0) === test.labels[i]).length;
    expect(right / test.texts.length).toBe(1);
  });

  it('cross-fitted logits do not know a label only its own text carries', () => {
    // Random labels on random strings: a model that saw a text remembers its label, one that did not can only guess.
    const texts = Array.from({ length: 400 }, () =>
      Array.from({ length: 8 }, () => String.fromCharCode(0xac00 + generator.randint(11000))).join(''),
    );
    const labels = texts.map(() => generator.randint(2));
    const accuracy = (logits: number[]): number =>
      logits.filter((logit, i) => (logit > 0 ? 1 : 0) === labels[i]).length / labels.length;
    const seen = trainNgramClassifier(texts, labels, { ...options, epochs: 5 });
    expect(accuracy(texts.map((text) => seen.logit(text)))).toBeGreaterThan(0.95);
    const heldOut = accuracy(crossFittedLogits(texts, labels, 5, options));
    expect(heldOut).toBeGreaterThan(0.4);
    expect(heldOut).toBeLessThan(0.6);
  });

  it('names a bad label and a count mismatch', () => {
    expect(() => trainNgramClassifier(['좋다', '싫다'], [1, 2])).toThrow(/label 1 is 2, expected 0 or 1/);
    expect(() => trainNgramClassifier(['좋다'], [1, 0])).toThrow(/1 texts but 2 labels/);
    expect(() => crossFittedLogits(['좋다'], [1], 1)).toThrow(/folds is 1, expected at least 2/);
  });
});
