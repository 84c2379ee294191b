import { describe, it, expect } from 'vitest';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { expectClose, goldenCase, ids } from './golden.js';

describe('LlamaForCausalLM golden', () => {
  const { dir, inputs, expected } = goldenCase('llama');

  it('matches logits, loss and hidden states (padded batch, GQA, rotary)', async () => {
    const model = await LlamaForCausalLM.fromPretrained(dir);
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
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });

  it('gives the same last-token logits with the KV cache as without, and greedy-decodes the golden ids', async () => {
    const model = await LlamaForCausalLM.fromPretrained(dir);
    const prompt: number[] = inputs.generate.input_ids[0];
    const sequence = [...prompt];
    noGrad(() => {
      let out = model.forward({ inputIds: ids([prompt]), useCache: true });
      for (let step = 0; step < 20; step++) {
        const last = ops.slice(out.logits, 1, -1);
        const next = ops.argmax(last, -1).data[0]!;
        sequence.push(next);
        if (step === 2) {
          const full = model.forward({ inputIds: ids([sequence.slice(0, -1)]) });
          expect(Math.max(...ops.abs(ops.sub(ops.slice(full.logits, 1, -1), last)).data)).toBeLessThan(1e-4);
        }
        out = model.forward({ inputIds: ids([[next]]), pastKeyValues: out.pastKeyValues, useCache: true });
      }
    });
    expect(sequence).toEqual(expected.generate.sequences[0]);
  });

  it('gives a left-padded row the logits of the same prompt unpadded (positions from the mask, no NaN)', async () => {
    const model = await LlamaForCausalLM.fromPretrained(dir);
    const prompt = [1, 375, 505, 15, 465];
    noGrad(() => {
      const alone = model.forward({ inputIds: ids([prompt]) }).logits;
      const padded = model.forward({
        inputIds: ids([
          [0, 0, ...prompt],
          [1, 7, 8, 9, 10, 11, 12],
        ]),
        attentionMask: ids([
          [0, 0, 1, 1, 1, 1, 1],
          [1, 1, 1, 1, 1, 1, 1],
        ]),
        positionIds: ids([
          [0, 0, 0, 1, 2, 3, 4],
          [0, 1, 2, 3, 4, 5, 6],
        ]),
      }).logits;
      expect(padded.data.every(Number.isFinite)).toBe(true);
      const realRows = ops.slice(ops.slice(padded, 0, 0, 1), 1, 2);
      expect(Math.max(...ops.abs(ops.sub(realRows, alone)).data)).toBeLessThan(1e-4);
    });
  });
});
