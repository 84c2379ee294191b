import { describe, it, expect } from 'vitest';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { noGrad } from '../../src/tensor/engine.js';
import { expectClose, goldenCase, ids } from './golden.js';

describe('DistilBertForSequenceClassification golden', () => {
  const { dir, inputs, expected } = goldenCase('distilbert_seqcls');

  it('matches logits, loss and hidden states (padded batch)', async () => {
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    const out = noGrad(() =>
      model.forward({
        inputIds: ids(inputs.input_ids),
        attentionMask: ids(inputs.attention_mask),
        labels: ids(inputs.labels),
        outputHiddenStates: true,
      }),
    );
    expectClose(out.logits, expected.logits);
    expect(out.loss!.item()).toBeCloseTo(expected.loss, 5);
    expect(out.hiddenStates).toHaveLength(3);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });
});
