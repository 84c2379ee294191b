import { describe, it, expect } from 'vitest';
import { BertForMaskedLM, BertForSequenceClassification, BertModel } from '../../src/models/bert/modeling_bert.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { expectClose, expectRelClose, goldenCase, ids, type Json } from './golden.js';

function encoderInputs(inputs: Json) {
  return {
    inputIds: ids(inputs.input_ids),
    attentionMask: ids(inputs.attention_mask),
    tokenTypeIds: ids(inputs.token_type_ids),
  };
}

describe('BertModel golden', () => {
  const { dir, inputs, expected } = goldenCase('bert');

  it('matches last hidden state, pooler output and hidden states (padded batch)', async () => {
    const model = await BertModel.fromPretrained(dir);
    const out = noGrad(() => model.forward({ ...encoderInputs(inputs), outputHiddenStates: true }));
    expectClose(out.lastHiddenState, expected.last_hidden_state);
    expectClose(out.poolerOutput!, expected.pooler_output);
    expect(out.hiddenStates).toHaveLength(3);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });
});

describe('BertForSequenceClassification golden', () => {
  const { dir, inputs, expected } = goldenCase('bert_seqcls');
  const batch = () => ({ ...encoderInputs(inputs), labels: ids(inputs.labels) });

  it('matches logits, loss and hidden states', async () => {
    const model = await BertForSequenceClassification.fromPretrained(dir);
    expect(model.config.numLabels).toBe(3);
    const out = noGrad(() => model.forward({ ...batch(), outputHiddenStates: true }));
    expectClose(out.logits, expected.logits);
    expect(out.loss!.item()).toBeCloseTo(expected.loss, 5);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });

  it('matches the listed gradients and the loss after one SGD step on all parameters', async () => {
    const model = await BertForSequenceClassification.fromPretrained(dir);
    const loss = model.forward(batch()).loss!;
    expect(Math.abs(loss.item() - expected.grad.loss) / expected.grad.loss).toBeLessThan(1e-5);
    loss.backward();
    const params = new Map(model.namedParameters());
    for (const [name, golden] of Object.entries(expected.grad.grads) as Array<[string, any]>)
      expectRelClose(params.get(name)!.grad!, golden);
    noGrad(() => {
      for (const p of model.parameters()) if (p.grad) p.data.set(ops.sub(p, ops.mul(p.grad, 0.1)).data);
    });
    const after = noGrad(() => model.forward(batch()).loss!.item());
    expect(
      Math.abs(after - expected.grad.loss_after_sgd_step.loss) / expected.grad.loss_after_sgd_step.loss,
    ).toBeLessThan(1e-4);
  });
});

describe('BertForMaskedLM golden', () => {
  const { dir, inputs, expected } = goldenCase('bert_mlm');

  it('matches logits and loss with the decoder tied to the word embeddings', async () => {
    const model = await BertForMaskedLM.fromPretrained(dir);
    expect(model.cls.predictions.decoder.weight).toBe(model.bert.embeddings.word_embeddings.weight);
    const out = noGrad(() => model.forward({ ...encoderInputs(inputs), labels: ids(inputs.labels) }));
    expectClose(out.logits, expected.logits);
    expect(out.loss!.item()).toBeCloseTo(expected.loss, 4);
  });
});
