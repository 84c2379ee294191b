import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { BartForConditionalGeneration } from '../../src/models/bart/modeling_bart.js';
import { goldenPath } from './golden.js';
import { describeSeq2SeqGolden } from '../generation/seq2seq-golden.js';

describeSeq2SeqGolden('bart', (dir) => BartForConditionalGeneration.fromPretrained(dir));

describe('bart bad input', () => {
  it('rejects an input longer than max_position_embeddings, and unknown options', async () => {
    const model = await BartForConditionalGeneration.fromPretrained(goldenPath('bart', 'model'));
    const long = [Array.from({ length: 65 }, () => 5)];
    expect(() => generate(model, long, { maxNewTokens: 2 })).toThrow(
      /input has 65 tokens, more than the model's context window of 64/,
    );
    expect(() => generate(model, [[0, 5, 2]], { maxNewTokenz: 2 } as never)).toThrow(
      /unknown option 'maxNewTokenz' \(did you mean 'maxNewTokens'\?\)/,
    );
  });
});
