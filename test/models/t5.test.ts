import { describe, expect, it } from 'vitest';
import { relativePositionBucket, T5ForConditionalGeneration } from '../../src/models/t5/modeling_t5.js';
import { describeSeq2SeqGolden } from '../generation/seq2seq-golden.js';

describeSeq2SeqGolden('t5', (dir) => T5ForConditionalGeneration.fromPretrained(dir));

describe('T5 relative position buckets', () => {
  it('matches transformers for t5-small settings (32 buckets, max distance 128)', () => {
    // Reference values: transformers' _relative_position_bucket formula evaluated with numpy float32.
    const bidirectional = [-200, -128, -64, -20, -8, -7, -1, 0, 1, 7, 8, 20, 64, 128, 200].map((r) =>
      relativePositionBucket(r, true, 32, 128),
    );
    expect(bidirectional).toEqual([15, 15, 14, 10, 8, 7, 1, 0, 17, 23, 24, 26, 30, 31, 31]);
    const causal = [-200, -64, -16, -15, -1, 0, 5].map((r) => relativePositionBucket(r, false, 32, 128));
    expect(causal).toEqual([31, 26, 16, 15, 1, 0, 0]);
  });
});
