import type { CausalLM, CausalLMInputs, CausalLMOutput } from '../../src/models/modeling_outputs.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

/**
 * A tiny decoder-only model that honours the whole CausalLM contract in plain JS: each position's logits depend on
 * the mean embedding of the unmasked tokens up to it (so padding, causality and the KV cache matter) plus its
 * position id (so position ids matter). It records the length of every forward call.
 */
export class ToyCausalLM implements CausalLM {
  readonly config: { vocabSize: number; contextWindow: number; eosTokenId: number | null; padTokenId: number | null };
  readonly calls: number[] = [];
  private readonly embed: Float32Array;
  private readonly positions: Float32Array;
  private readonly head: Float32Array;

  constructor(
    readonly vocabSize = 7,
    readonly dim = 4,
    options: { eosTokenId?: number | null; padTokenId?: number | null; seed?: number; context?: number } = {},
  ) {
    const g = new Generator(options.seed ?? 1);
    const context = options.context ?? 64;
    this.config = {
      vocabSize,
      contextWindow: context,
      eosTokenId: options.eosTokenId ?? null,
      padTokenId: options.padTokenId ?? null,
    };
    const randn = (n: number, std: number): Float32Array => Float32Array.from({ length: n }, () => std * g.normal());
    this.embed = randn(vocabSize * dim, 1);
    this.positions = randn(context * dim, 0.5);
    this.head = randn(dim * vocabSize, 2);
  }

  forward({ inputIds, attentionMask, positionIds, pastKeyValues }: CausalLMInputs): CausalLMOutput {
    const [b, t] = inputIds.shape as [number, number];
    const d = this.dim;
    const v = this.vocabSize;
    this.calls.push(t);
    const past = pastKeyValues?.[0]?.key.shape[2] ?? 0;
    const total = past + t;
    // keys (B, 1, total, D): cached token embeddings, then this call's.
    const keys = new Float32Array(b * total * d);
    for (let r = 0; r < b; r++) {
      if (past) keys.set(pastKeyValues![0]!.key.data.subarray(r * past * d, (r + 1) * past * d), r * total * d);
      for (let i = 0; i < t; i++) {
        const id = inputIds.data[r * t + i]!;
        keys.set(this.embed.subarray(id * d, (id + 1) * d), (r * total + past + i) * d);
      }
    }
    const logits = new Float32Array(b * t * v);
    for (let r = 0; r < b; r++) {
      for (let i = 0; i < t; i++) {
        const h = new Float64Array(d);
        let count = 0;
        for (let j = 0; j <= past + i; j++) {
          if (attentionMask && attentionMask.data[r * total + j] === 0) continue;
          count++;
          for (let c = 0; c < d; c++) h[c] = h[c]! + keys[(r * total + j) * d + c]!;
        }
        const pos = positionIds ? positionIds.data[r * t + i]! : past + i;
        for (let c = 0; c < d; c++) h[c] = Math.tanh(h[c]! / Math.max(count, 1) + this.positions[pos * d + c]!);
        for (let k = 0; k < v; k++) {
          let s = 0;
          for (let c = 0; c < d; c++) s += h[c]! * this.head[c * v + k]!;
          logits[(r * t + i) * v + k] = s;
        }
      }
    }
    const cache = new Tensor(keys, [b, 1, total, d]);
    return { logits: new Tensor(logits, [b, t, v]), pastKeyValues: [{ key: cache, value: cache }] };
  }
}
