// Goldens of the Llama-family causal LMs added for real hub checkpoints: Qwen2 (q/k/v biases, GQA, tied
// embeddings; with gradients and optimizer steps), Mistral (sliding window 4) and Llama with linear and dynamic-NTK
// rope scaling. Each: logits, loss and hidden states on a right-padded batch, then greedy generation with the KV
// cache, ids and processed top-5 scores at every step.
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { AutoModelForCausalLM } from '../../src/models/auto/index.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { MistralForCausalLM } from '../../src/models/mistral/modeling_mistral.js';
import { Qwen2ForCausalLM } from '../../src/models/qwen2/modeling_qwen2.js';
import { AdamW } from '../../src/optim/adam.js';
import { SGD } from '../../src/optim/sgd.js';
import type { Optimizer } from '../../src/optim/optimizer.js';
import { noGrad } from '../../src/tensor/engine.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectGreedyGolden } from '../generation/seq2seq-golden.js';
import { expectClose, expectRelClose, goldenCase, ids, type Json } from './golden.js';

type Loader = (dir: string) => Promise<LlamaForCausalLM>;

const CASES: Array<[string, Loader, string]> = [
  ['qwen2', (dir) => Qwen2ForCausalLM.fromPretrained(dir), 'Qwen2ForCausalLM'],
  ['mistral', (dir) => MistralForCausalLM.fromPretrained(dir), 'MistralForCausalLM'],
  ['llama_rope_linear', (dir) => LlamaForCausalLM.fromPretrained(dir), 'LlamaForCausalLM'],
  ['llama_rope_dynamic', (dir) => LlamaForCausalLM.fromPretrained(dir), 'LlamaForCausalLM'],
];

const batchOf = (inputs: Json) => ({
  inputIds: ids(inputs.input_ids),
  attentionMask: ids(inputs.attention_mask),
  labels: ids(inputs.labels),
});

for (const [name, load, className] of CASES) {
  describe(`${name} golden`, () => {
    const { dir, inputs, expected } = goldenCase(name);

    it('matches logits, loss and hidden states on a right-padded batch', async () => {
      const model = await load(dir);
      const out = noGrad(() => model.forward({ ...batchOf(inputs), outputHiddenStates: true }));
      expectClose(out.logits, expected.logits);
      expect(Math.abs(out.loss!.item() - expected.loss)).toBeLessThan(1e-4);
      expect(out.hiddenStates).toHaveLength(expected.hidden_states.length);
      out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
    });

    it('greedy generation with the KV cache gives the golden ids and processed top-5 scores', async () => {
      const model = await load(dir);
      const g = inputs.generate;
      const options = {
        attentionMask: g.attention_mask,
        maxNewTokens: g.kwargs.max_new_tokens,
        padTokenId: g.kwargs.pad_token_id,
        outputScores: true,
      };
      expectGreedyGolden(generate(model, g.input_ids, options), expected.generate, model.config.vocabSize);
    });

    it(`loads through AutoModelForCausalLM as ${className}`, async () => {
      const model = await AutoModelForCausalLM.fromPretrained(dir);
      expect(model.constructor.name).toBe(className);
    });
  });
}

describe('qwen2 gradient golden', () => {
  const { dir, inputs, expected } = goldenCase('qwen2');

  it('ties lm_head to the embeddings and saves it once', async () => {
    const model = await Qwen2ForCausalLM.fromPretrained(dir);
    expect(model.lm_head.weight).toBe(model.model.embed_tokens.weight);
    expect([...model.checkpointTensors().keys()]).not.toContain('lm_head.weight');
  });

  it('matches the listed gradients (the tied lm_head sums both uses) and the loss after one SGD / AdamW step', async () => {
    const lossAfter = async (makeOptimizer: (m: Qwen2ForCausalLM) => Optimizer<never> | null): Promise<number> => {
      const model = await Qwen2ForCausalLM.fromPretrained(dir);
      const loss = model.forward(batchOf(inputs)).loss!;
      expect(Math.abs(loss.item() - expected.grad.loss) / expected.grad.loss).toBeLessThan(1e-5);
      loss.backward();
      const optimizer = makeOptimizer(model);
      if (optimizer === null) {
        const params = new Map(model.namedParameters());
        const byName = (n: string) => params.get(n) ?? model.stateDict().get(n);
        for (const [n, golden] of Object.entries(expected.grad.grads) as Array<[string, Json]>)
          expectRelClose(byName(n)!.grad!, golden as never, 1e-4, 1e-6);
        return NaN;
      }
      optimizer.step();
      return noGrad(() => model.forward(batchOf(inputs)).loss!.item());
    };
    await lossAfter(() => null);
    const sgd = await lossAfter((m) => new SGD(m.parameters(), { lr: 0.1 }) as never);
    expect(
      Math.abs(sgd - expected.grad.loss_after_sgd_step.loss) / expected.grad.loss_after_sgd_step.loss,
    ).toBeLessThan(1e-4);
    const adamw = await lossAfter(
      (m) => new AdamW(m.parameters(), { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.01 }) as never,
    );
    expect(
      Math.abs(adamw - expected.grad.loss_after_adamw_step.loss) / expected.grad.loss_after_adamw_step.loss,
    ).toBeLessThan(1e-4);
  });
});

describe('Qwen2 sliding window', () => {
  it('applies only with use_sliding_window, and only in layers max_window_layers and up', async () => {
    const { dir } = goldenCase('qwen2');
    const load = (overrides: Record<string, unknown>) =>
      Qwen2ForCausalLM.fromPretrained(dir, { configOverrides: overrides });
    const [full, upper, all] = [
      await load({}),
      await load({ useSlidingWindow: true, slidingWindow: 2, maxWindowLayers: 1 }),
      await load({ useSlidingWindow: true, slidingWindow: 2, maxWindowLayers: 0 }),
    ];
    const tokens = ids([[5, 17, 33, 9, 71, 12, 40]]);
    const run = (m: Qwen2ForCausalLM) => noGrad(() => m.forward({ inputIds: tokens, outputHiddenStates: true }));
    const [a, b, c] = [run(full), run(upper), run(all)];
    const diff = (x: Tensor, y: Tensor) =>
      Math.max(...Array.from(x.data, (v, i) => Math.abs(Number(v) - Number(y.data[i]))));
    expect(diff(b.hiddenStates![1]!, a.hiddenStates![1]!)).toBe(0); // layer 0 attends to everything
    expect(diff(c.hiddenStates![1]!, a.hiddenStates![1]!)).toBeGreaterThan(1e-3);
    expect(diff(b.logits, a.logits)).toBeGreaterThan(1e-3);
  });
});
