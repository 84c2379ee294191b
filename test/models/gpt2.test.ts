import { describe, it, expect } from 'vitest';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { expectClose, expectRelClose, goldenCase, ids } from './golden.js';

describe('GPT2LMHeadModel golden', () => {
  const { dir, inputs, expected } = goldenCase('gpt2');

  it('matches logits, loss and hidden states (padded batch)', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    const out = noGrad(() =>
      model.forward({
        inputIds: ids(inputs.input_ids),
        attentionMask: ids(inputs.attention_mask),
        labels: ids(inputs.labels),
        outputHiddenStates: true,
      }),
    );
    expectClose(out.logits, expected.logits);
    expect(out.loss!.item()).toBeCloseTo(expected.loss, 4);
    expect(out.hiddenStates).toHaveLength(3);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });

  it('matches the gradients of the LM loss, including the tied lm_head / wte weight', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    const out = model.forward({
      inputIds: ids(inputs.input_ids),
      attentionMask: ids(inputs.attention_mask),
      labels: ids(inputs.labels),
    });
    out.loss!.backward();
    const params = new Map(model.namedParameters());
    const byName = (name: string) => params.get(name) ?? model.stateDict().get(name);
    for (const [name, golden] of Object.entries(expected.grad.grads) as Array<[string, any]>) {
      expectRelClose(byName(name)!.grad!, golden, 1e-4, 1e-6);
    }
    noGrad(() => {
      for (const p of model.parameters()) if (p.grad) p.data.set(ops.sub(p, ops.mul(p.grad, 0.1)).data);
    });
    const after = noGrad(() =>
      model
        .forward({
          inputIds: ids(inputs.input_ids),
          attentionMask: ids(inputs.attention_mask),
          labels: ids(inputs.labels),
        })
        .loss!.item(),
    );
    expect(
      Math.abs(after - expected.grad.loss_after_sgd_step.loss) / expected.grad.loss_after_sgd_step.loss,
    ).toBeLessThan(1e-4);
  });

  it('decodes the golden greedy ids with the KV cache, with the golden top-5 logits at every step', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    const sequence: number[] = [...inputs.generate.input_ids[0]];
    noGrad(() => {
      let out = model.forward({ inputIds: ids([sequence]), useCache: true });
      for (const step of expected.generate.step_top5) {
        const last = ops.reshape(ops.slice(out.logits, 1, -1), [-1]);
        const values = [...last.data];
        step.ids[0].forEach((id: number, k: number) =>
          expect(Math.abs(values[id]! - step.values[0][k])).toBeLessThan(1e-4),
        );
        const next = ops.argmax(last, -1).item();
        sequence.push(next);
        out = model.forward({ inputIds: ids([[next]]), pastKeyValues: out.pastKeyValues, useCache: true });
      }
    });
    expect(sequence).toEqual(expected.generate.sequences[0]);
  });
});
