import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import type { CausalLM } from '../../src/models/modeling_outputs.js';
import { goldenCase } from '../models/golden.js';
import { expectGreedyGolden } from './seq2seq-golden.js';

const cases: Array<[string, (dir: string) => Promise<CausalLM>]> = [
  ['gpt2', (dir) => GPT2LMHeadModel.fromPretrained(dir)],
  ['llama', (dir) => LlamaForCausalLM.fromPretrained(dir)],
];

for (const [name, load] of cases) {
  describe(`${name} generate golden`, () => {
    const { dir, inputs, expected } = goldenCase(name);
    const g = inputs.generate;
    const options = {
      attentionMask: g.attention_mask,
      maxNewTokens: g.kwargs.max_new_tokens,
      padTokenId: g.kwargs.pad_token_id,
      outputScores: true,
    };

    it('greedy ids and processed scores match transformers, with and without the KV cache', async () => {
      const model = await load(dir);
      expectGreedyGolden(generate(model, g.input_ids, options), expected.generate, model.config.vocabSize);
      expect(generate(model, g.input_ids, { ...options, useCache: false }).sequences).toEqual(
        expected.generate.sequences,
      );
    });

    it('a left-padded batch generates each prompt as it does alone', async () => {
      const model = await load(dir);
      const prompt: number[] = g.input_ids[0];
      const short = prompt.slice(2);
      const pad = g.kwargs.pad_token_id;
      const batch = generate(model, [prompt, [pad, pad, ...short]], {
        maxNewTokens: 6,
        padTokenId: pad,
        attentionMask: [prompt.map(() => 1), [0, 0, ...short.map(() => 1)]],
      });
      const alone = generate(model, [short], { maxNewTokens: 6, padTokenId: pad });
      expect(batch.sequences[0]).toEqual(expected.generate.sequences[0].slice(0, prompt.length + 6));
      expect(batch.sequences[1]!.slice(2)).toEqual(alone.sequences[0]);
    });
  });
}
