import { describe, expect, it, vi } from 'vitest';
import { CompiledDecoding, decodesCompiled, promptsCompiled } from '../../src/models/compiled_decoding.js';
import { generate } from '../../src/generation/utils.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import type { CausalLM } from '../../src/models/modeling_outputs.js';
import { loadPretrained } from '../../src/models/modeling_utils.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { goldenCase, ids } from './golden.js';

/** Greedy decoding of the golden prompt, checking the golden top-5 logits at every step. */
function decodeGolden(
  model: CausalLM,
  inputs: ReturnType<typeof goldenCase>['inputs'],
  expected: ReturnType<typeof goldenCase>['expected'],
): number[] {
  const sequence: number[] = [...inputs.generate.input_ids[0]];
  noGrad(() => {
    let out = model.forward({ inputIds: ids([sequence]), attentionMask: ids([sequence.map(() => 1)]), useCache: true });
    for (const step of expected.generate.step_top5) {
      const last = ops.reshape(ops.slice(out.logits, 1, -1), [-1]);
      const values = [...last.data];
      step.ids[0].forEach((id: number, k: number) =>
        expect(Math.abs(values[id]! - step.values[0][k])).toBeLessThan(1e-4),
      );
      const next = ops.argmax(last, -1).item();
      sequence.push(next);
      out = model.forward({
        inputIds: ids([[next]]),
        attentionMask: ids([sequence.map(() => 1)]),
        positionIds: ids([[sequence.length - 1]]),
        pastKeyValues: out.pastKeyValues,
        useCache: true,
      });
    }
  });
  return sequence;
}

describe('compiled decode steps', () => {
  // Llama with dynamic NTK rope scaling would stay eager (its frequencies depend on the length) and say so.
  for (const [name, cls, compiled] of [
    ['gpt2', GPT2LMHeadModel, true],
    ['llama', LlamaForCausalLM, true],
    ['llama_rope_dynamic', LlamaForCausalLM, false],
  ] as const) {
    it(`${name}: every one-token step matches the HF golden logits and greedy ids (compiled: ${compiled})`, async () => {
      const { dir, inputs, expected } = goldenCase(name);
      const model = await loadPretrained<GPT2LMHeadModel | LlamaForCausalLM>(cls, dir);
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      expect(decodeGolden(new CompiledDecoding(model), inputs, expected)).toEqual(expected.generate.sequences[0]);
      expect(decodesCompiled(model)).toBe(compiled);
      expect(warn).toHaveBeenCalledTimes(compiled ? 0 : 1);
      warn.mockRestore();
    });
  }

  it('generate() decodes a left-padded batch the same compiled (prompt and steps, with and without the cache) and eager', async () => {
    const { dir } = goldenCase('gpt2');
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    const prompt = [
      [5, 6, 7, 8],
      [999, 999, 40, 41],
    ];
    const attentionMask = [
      [1, 1, 1, 1],
      [0, 0, 1, 1],
    ];
    const options = { maxNewTokens: 12, attentionMask, eosTokenId: null, padTokenId: 999 };
    const eager = generate(model, prompt, { ...options, compiled: false });
    expect(generate(model, prompt, options).sequences).toEqual(eager.sequences);
    expect([promptsCompiled(model), decodesCompiled(model)]).toEqual([true, true]);
    // Without the cache every step runs the prompt graph over the whole sequence.
    expect(generate(model, prompt, { ...options, useCache: false }).sequences).toEqual(eager.sequences);
  });
});
