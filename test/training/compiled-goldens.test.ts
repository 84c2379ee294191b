import { describe, expect, it } from 'vitest';
import { BertForSequenceClassification } from '../../src/models/bert/modeling_bert.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import type { Module } from '../../src/nn/module.js';
import { SGD } from '../../src/optim/index.js';
import { noGrad, tidy } from '../../src/tensor/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { compileOptimizerStep } from '../../src/training/compiled_step.js';
import { expectRelClose, goldenCase, ids, type Json } from '../models/golden.js';

/**
 * The HF goldens with gradients, computed by a compiled training step (one captured onnxruntime graph): the loss,
 * the listed gradients (graph outputs) and the loss after the graph's SGD step (lr 0.1 on every parameter).
 */
async function checkCompiled(
  model: Module & { forward(inputs: Record<string, Tensor>): { loss?: Tensor } },
  batch: Record<string, Tensor>,
  expected: Json,
  names: (name: string) => string,
): Promise<void> {
  model.train(false); // the goldens have dropout off
  const params = new Map(model.namedParameters());
  const optimizer = new SGD(model.parameters(), { lr: 0.1 });
  const step = compileOptimizerStep(optimizer);
  const run = (): Record<string, Tensor> =>
    step.run(batch, (b) => {
      const loss = model.forward(b).loss!;
      loss.backward();
      const grads: Record<string, Tensor> = {};
      for (const name of Object.keys(expected.grad.grads)) grads[`grad.${name}`] = params.get(names(name))!.grad!;
      optimizer.step();
      optimizer.zeroGrad();
      return { loss, ...grads };
    }).outputs;
  const out = tidy(run);
  expect(step.counts.captured).toBe(1);
  expect(Math.abs(out.loss!.item() - expected.grad.loss) / expected.grad.loss).toBeLessThan(1e-5);
  for (const [name, golden] of Object.entries(expected.grad.grads) as Array<[string, Json]>) {
    expectRelClose(out[`grad.${name}`]!, golden as never, 1e-4, 1e-6);
  }
  const after = noGrad(() => model.forward(batch).loss!.item());
  expect(
    Math.abs(after - expected.grad.loss_after_sgd_step.loss) / expected.grad.loss_after_sgd_step.loss,
  ).toBeLessThan(1e-4);
  step.dispose();
}

describe('compiled training step on the HF goldens', () => {
  it('gpt2: loss, gradients (tied lm_head / wte) and the loss after one SGD step', async () => {
    const { dir, inputs, expected } = goldenCase('gpt2');
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    const batch = {
      inputIds: ids(inputs.input_ids),
      attentionMask: ids(inputs.attention_mask),
      labels: ids(inputs.labels),
    };
    await checkCompiled(model as never, batch, expected, (name) =>
      name === 'lm_head.weight' ? 'transformer.wte.weight' : name,
    );
  });

  it('bert_seqcls: loss, gradients and the loss after one SGD step', async () => {
    const { dir, inputs, expected } = goldenCase('bert_seqcls');
    const model = await BertForSequenceClassification.fromPretrained(dir);
    const batch = {
      inputIds: ids(inputs.input_ids),
      attentionMask: ids(inputs.attention_mask),
      tokenTypeIds: ids(inputs.token_type_ids),
      labels: ids(inputs.labels),
    };
    await checkCompiled(model as never, batch, expected, (name) => name);
  });
});
