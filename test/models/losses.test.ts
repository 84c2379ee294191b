import { describe, it, expect } from 'vitest';
import { BertConfig } from '../../src/models/bert/configuration_bert.js';
import { sequenceClassificationLoss } from '../../src/models/modeling_utils.js';
import { attentionBias, MASKED } from '../../src/nn/attention.js';
import { Tensor } from '../../src/tensor/tensor.js';

describe('sequenceClassificationLoss', () => {
  const logits = Tensor.from([0.5, -1, 2, 0], [2, 2]);

  it('picks the loss by problem type as transformers does', () => {
    const ce = sequenceClassificationLoss(
      logits,
      Tensor.from([1, 0], [2], 'int32'),
      new BertConfig({ model_type: 'bert' }),
    ).item();
    const lse = (a: number, b: number) => Math.log(Math.exp(a) + Math.exp(b));
    expect(ce).toBeCloseTo((lse(0.5, -1) + 1 + (lse(2, 0) - 2)) / 2, 5);

    const multi = new BertConfig({ model_type: 'bert', problem_type: 'multi_label_classification' });
    const bce = (x: number, y: number) =>
      -(y * Math.log(1 / (1 + Math.exp(-x))) + (1 - y) * Math.log(1 - 1 / (1 + Math.exp(-x))));
    const want = (bce(0.5, 1) + bce(-1, 0) + bce(2, 0) + bce(0, 1)) / 4;
    expect(sequenceClassificationLoss(logits, Tensor.from([1, 0, 0, 1], [2, 2]), multi).item()).toBeCloseTo(want, 5);

    const regression = new BertConfig({ model_type: 'bert', num_labels: 1 });
    expect(
      sequenceClassificationLoss(Tensor.from([1, 3], [2, 1]), Tensor.from([0, 1], [2]), regression).item(),
    ).toBeCloseTo((1 + 4) / 2, 6);
  });
});

describe('attentionBias', () => {
  it('masks future and padded keys once, so a row that sees nothing stays finite', () => {
    const bias = attentionBias(Tensor.from([0, 1, 1], [1, 3], 'int32'), {
      batch: 1,
      queryLength: 3,
      keyLength: 3,
      causal: true,
    })!;
    const M = MASKED;
    expect([...bias.data]).toEqual([M, M, M, M, 0, M, M, 0, 0]);
    expect(attentionBias(null, { batch: 2, queryLength: 1, keyLength: 5, causal: true })).toBeNull();
    expect(() =>
      attentionBias(Tensor.from([1, 1], [1, 2], 'int32'), { batch: 1, queryLength: 1, keyLength: 3, causal: true }),
    ).toThrow(/attentionMask has shape \[1, 2\]; expected \(batch, past \+ new tokens\) = \[1, 3\]/);
  });
});
