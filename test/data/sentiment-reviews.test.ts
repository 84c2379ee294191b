import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The training reviews written for attn (data/sentiment-en) must stay apart from the held-out review sets that the
// English sentiment default is judged on (test/fixtures/sentiment): no training review may share 40% or more of its
// words with a held-out one, or the out-of-domain figures would measure memory.
const trainingDir = fileURLToPath(new URL('../../data/sentiment-en/', import.meta.url));
const heldOutDir = fileURLToPath(new URL('../fixtures/sentiment/', import.meta.url));

interface Review {
  sentence: string;
  label: string;
  source: string;
}

function readReviews(dir: string, take: (file: string) => boolean = () => true): Review[] {
  return readdirSync(dir)
    .filter((file) => file.endsWith('.tsv') && take(file))
    .flatMap((file) => {
      const [header, ...lines] = readFileSync(dir + file, 'utf8')
        .trimEnd()
        .split('\n');
      expect(header, file).toBe('sentence\tlabel\tdomain');
      return lines.map((line, index) => {
        const fields = line.split('\t');
        expect(fields, `${file} line ${index + 2}`).toHaveLength(3);
        return { sentence: fields[0]!, label: fields[1]!, source: `${file} line ${index + 2}` };
      });
    });
}

const wordsOf = (sentence: string): Set<string> => new Set(sentence.toLowerCase().match(/[a-z']+/g) ?? []);

function jaccard(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  let shared = 0;
  for (const word of a) if (b.has(word)) shared++;
  return shared / (a.size + b.size - shared);
}

describe('data/sentiment-en training reviews', () => {
  it('are labelled 0 or 1, balanced, and none is repeated', () => {
    const reviews = readReviews(trainingDir);
    expect(reviews.length).toBeGreaterThan(1900);
    for (const review of reviews) expect(['0', '1'], review.source).toContain(review.label);
    const positives = reviews.filter((review) => review.label === '1').length;
    expect(Math.abs(positives / reviews.length - 0.5)).toBeLessThan(0.02);
    expect(new Set(reviews.map((review) => review.sentence.toLowerCase())).size).toBe(reviews.length);
  });

  /** Training reviews sharing 40% or more of their words with a review of the held-out files `take` picks. */
  function overlapsWith(take: (file: string) => boolean): string[] {
    const heldOut = readReviews(heldOutDir, take).map((review) => ({ ...review, words: wordsOf(review.sentence) }));
    return readReviews(trainingDir).flatMap((review) => {
      const words = wordsOf(review.sentence);
      return heldOut
        .filter((other) => jaccard(words, other.words) >= 0.4)
        .map((other) => `${review.source} "${review.sentence}" ~ ${other.source} "${other.sentence}"`);
    });
  }
  const isThirdParty = (file: string): boolean => file.startsWith('uci-');

  it('share less than 40% of their words with any held-out review written for attn', () => {
    expect(overlapsWith((file) => !isThirdParty(file))).toEqual([]);
  });

  it('match at most 7 of the 3,000 real UCI sentences, by chance (short stock phrases, listed in the README)', () => {
    // e.g. "Exactly what I wanted." in UCI's Amazon file; the training reviews were written without seeing UCI's.
    expect(overlapsWith(isThirdParty).length).toBeLessThanOrEqual(7);
  });
});
