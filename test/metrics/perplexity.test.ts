import { describe, expect, it } from 'vitest';
import { perplexity } from '../../src/metrics/index.js';

describe('perplexity', () => {
  it('is exp of the mean token loss', () => {
    expect(perplexity(Math.log(10))).toBeCloseTo(10, 12);
    expect(perplexity(0)).toBe(1);
  });

  it('refuses a NaN, infinite or negative loss', () => {
    expect(() => perplexity(Number.NaN)).toThrow(
      'perplexity: the mean loss must be a finite number >= 0 (nats per token), got NaN',
    );
    expect(() => perplexity(-1)).toThrow(/got -1/);
  });
});
