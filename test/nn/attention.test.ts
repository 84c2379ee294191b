import { describe, expect, it } from 'vitest';
import { Generator, noGrad, ops, Tensor, tensor } from '../../src/tensor/index.js';
import {
  attentionBias,
  MASKED,
  MultiHeadAttention,
  RotaryEmbedding,
  scaledDotProductAttention,
  type LayerKV,
  type Linear,
} from '../../src/nn/index.js';
import { expectClose, seeded, timeSlice } from './helpers.js';

const B = 2;
const T = 4;
const C = 8;

function attention(
  options: Partial<ConstructorParameters<typeof MultiHeadAttention>[1]> = {},
  seed = 1,
): MultiHeadAttention {
  return new MultiHeadAttention(C, { numHeads: 2, std: 0.5, generator: new Generator(seed), ...options }).eval();
}

/** x W_ᵀ + b for one row, straight from the Linear's weights. */
function project(layer: Linear, row: ArrayLike<number>): number[] {
  const [out, inp] = layer.weight.shape as [number, number];
  return Array.from({ length: out }, (_, o) => {
    let s = layer.bias ? layer.bias.data[o]! : 0;
    for (let i = 0; i < inp; i++) s += layer.weight.data[o * inp + i]! * row[i]!;
    return s;
  });
}

/**
 * Multi-head attention written out by hand: per batch and head, softmax(q·k / √d) over the allowed keys, times v,
 * heads concatenated and projected. `allowed(b, i, j)` says whether query i may see key j.
 */
function referenceAttention(
  mha: MultiHeadAttention,
  x: Tensor,
  kvSource: Tensor,
  allowed: (b: number, i: number, j: number) => boolean,
): number[] {
  const [batch, tq] = x.shape as [number, number, number];
  const tk = kvSource.shape[1]!;
  const { numHeads: H, numKeyValueHeads: Hkv, headDim: D } = mha;
  const row = (t: Tensor, b: number, i: number): Float32Array =>
    t.data.subarray((b * t.shape[1]! + i) * t.shape[2]!, (b * t.shape[1]! + i + 1) * t.shape[2]!) as Float32Array;
  const out: number[] = [];
  for (let b = 0; b < batch; b++) {
    const keys = Array.from({ length: tk }, (_, j) => project(mha.k_proj, row(kvSource, b, j)));
    const values = Array.from({ length: tk }, (_, j) => project(mha.v_proj, row(kvSource, b, j)));
    for (let i = 0; i < tq; i++) {
      const q = project(mha.q_proj, row(x, b, i));
      const merged: number[] = [];
      for (let h = 0; h < H; h++) {
        const kvHead = Math.floor(h / (H / Hkv));
        const scores = keys.map((k, j) => {
          if (!allowed(b, i, j)) return -Infinity;
          let s = 0;
          for (let e = 0; e < D; e++) s += q[h * D + e]! * k[kvHead * D + e]!;
          return s / Math.sqrt(D);
        });
        const top = Math.max(...scores);
        const weights = scores.map((s) => Math.exp(s - top));
        const total = weights.reduce((a, w) => a + w, 0);
        for (let e = 0; e < D; e++)
          merged.push(values.reduce((a, v, j) => a + (weights[j]! / total) * v[kvHead * D + e]!, 0));
      }
      out.push(...project(mha.out_proj, merged));
    }
  }
  return out;
}

/** HF's (B, S) 1/0 mask as the additive bias every query shares. */
function padding(mask: Tensor): Tensor {
  return attentionBias(mask, { batch: mask.shape[0]!, queryLength: 1, keyLength: mask.shape[1]!, causal: false })!;
}

describe('MultiHeadAttention', () => {
  const x = seeded([B, T, C], 10);

  it('self-attention equals a hand-built softmax(QKᵀ/√d)V', () => {
    const mha = attention();
    const { output, weights } = mha.forward(x, { outputAttentions: true });
    expect(output.shape).toEqual([B, T, C]);
    expect(weights!.shape).toEqual([B, 2, T, T]);
    expectClose(
      output,
      referenceAttention(mha, x, x, () => true),
      1e-5,
    );
  });

  it('causal: each query sees only itself and earlier keys, so the future cannot change the past', () => {
    const mha = attention();
    const { output, weights } = mha.forward(x, { causal: true, outputAttentions: true });
    expectClose(
      output,
      referenceAttention(mha, x, x, (_, i, j) => j <= i),
      1e-5,
    );
    const w = weights!.data;
    for (let q = 0; q < T; q++) for (let k = q + 1; k < T; k++) expect(w[q * T + k]).toBe(0);
    // Changing the last token leaves the outputs at earlier positions untouched.
    const changed = ops.concat([ops.slice(x, 1, 0, T - 1), seeded([B, 1, C], 99)], 1);
    const after = mha.forward(changed, { causal: true }).output;
    expectClose(timeSlice(after, 0, T - 1), timeSlice(output, 0, T - 1), 1e-6);
  });

  it('padding mask: padded keys get zero weight', () => {
    const mha = attention();
    const pad = tensor(
      [
        [1, 1, 1, 1],
        [1, 1, 0, 0],
      ],
      { dtype: 'int32' },
    );
    const { output, weights } = mha.forward(x, { mask: padding(pad), outputAttentions: true });
    expectClose(
      output,
      referenceAttention(mha, x, x, (b, _i, j) => b === 0 || j < 2),
      1e-5,
    );
    const w = weights!.toArray() as number[][][][];
    for (const row of w[1]!.flat()) expect(row.slice(2)).toEqual([0, 0]);
  });

  it('attention weights sum to one over the keys', () => {
    const { weights } = attention().forward(x, { causal: true, outputAttentions: true });
    expectClose(ops.sum(weights!, -1), new Float32Array(B * 2 * T).fill(1), 1e-6);
  });

  it('cross-attention attends to other states of another length and width', () => {
    const memory = seeded([B, 6, 5], 11);
    const mha = attention({ crossAttention: true, keyValueDim: 5 });
    const pad = tensor(
      [
        [1, 1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0, 0],
      ],
      { dtype: 'int32' },
    );
    const { output } = mha.forward(x, { keyValueStates: memory, mask: padding(pad) });
    expectClose(
      output,
      referenceAttention(mha, x, memory, (b, _i, j) => b === 0 || j < 3),
      1e-5,
    );
    expect(() => mha.forward(x)).toThrow(/cross-attention needs keyValueStates/);
    expect(() => attention().forward(x, { keyValueStates: memory })).toThrow(/crossAttention: true/);
  });

  it('grouped-query attention equals multi-head attention with each key/value head repeated', () => {
    const gqa = attention({ numHeads: 4, numKeyValueHeads: 2, headDim: 2 });
    const mha = attention({ numHeads: 4, headDim: 2 }, 2);
    // Copy weights: query heads 0,1 share kv head 0 and 2,3 share kv head 1 (HF repeat_kv order).
    mha.q_proj.loadStateDict(gqa.q_proj.stateDict());
    mha.out_proj.loadStateDict(gqa.out_proj.stateDict());
    for (const name of ['k_proj', 'v_proj'] as const) {
      const src = gqa[name];
      const headRows = (h: number): Tensor => ops.slice(src.weight, 0, h * 2, h * 2 + 2);
      const headBias = (h: number): Tensor => ops.slice(src.bias!, 0, h * 2, h * 2 + 2);
      const order = [0, 0, 1, 1];
      mha[name].loadStateDict({ weight: ops.concat(order.map(headRows), 0), bias: ops.concat(order.map(headBias), 0) });
    }
    expect(gqa.k_proj.weight.shape).toEqual([4, C]);
    const a = gqa.forward(x, { causal: true });
    const b = mha.forward(x, { causal: true });
    expectClose(a.output, b.output, 1e-6);
    expectClose(
      a.output,
      referenceAttention(gqa, x, x, (_, i, j) => j <= i),
      1e-5,
    );
    // Gradients: a shared kv head collects the gradients of the heads it serves.
    const probe = seeded([B, T, C], 30);
    ops.sum(ops.mul(a.output, probe)).backward();
    ops.sum(ops.mul(b.output, probe)).backward();
    const rows = (g: Tensor, h: number): Float32Array => g.data.subarray(h * 2 * C, (h + 1) * 2 * C) as Float32Array;
    const mhaGrad = mha.v_proj.weight.grad!;
    const summed = [0, 1].flatMap((kv) =>
      Array.from(rows(mhaGrad, 2 * kv), (v, i) => v + rows(mhaGrad, 2 * kv + 1)[i]!),
    );
    expectClose(gqa.v_proj.weight.grad!, summed, 1e-5);
  });

  it('without biases there are no bias parameters', () => {
    const mha = attention({ bias: false });
    expect(mha.namedParameters().map(([n]) => n)).toEqual([
      'q_proj.weight',
      'k_proj.weight',
      'v_proj.weight',
      'out_proj.weight',
    ]);
  });

  it('names a wrongly shaped input', () => {
    expect(() => attention().forward(seeded([2, 4, 6], 1))).toThrow(
      /expected input \(batch, length, 8\), got \[2, 4, 6\]/,
    );
  });

  it('rejects head counts that do not divide', () => {
    expect(() => new MultiHeadAttention(10, { numHeads: 3 })).toThrow(/not divisible by numHeads 3/);
    expect(() => new MultiHeadAttention(8, { numHeads: 4, numKeyValueHeads: 3 })).toThrow(
      /not a multiple of numKeyValueHeads 3/,
    );
  });
});

describe('KV cache', () => {
  /** Runs the sequence one token at a time through the cache; returns the concatenated outputs. */
  function incremental(mha: MultiHeadAttention, x: Tensor, first = 1): { output: Tensor; cache: LayerKV } {
    let cache: LayerKV | undefined;
    const outputs: Tensor[] = [];
    for (let start = 0; start < T;) {
      const end = start === 0 ? first : start + 1;
      const out = mha.forward(ops.slice(x, 1, start, end), { causal: true, pastKeyValue: cache, useCache: true });
      outputs.push(out.output);
      cache = out.presentKeyValue!;
      start = end;
    }
    return { output: ops.concat(outputs, 1), cache: cache! };
  }

  const x = seeded([B, T, C], 20);

  it.each([
    ['multi-head', {}],
    ['grouped-query', { numHeads: 4, numKeyValueHeads: 2, headDim: 2 }],
    ['rotary', { rotary: new RotaryEmbedding(4) }],
  ])('token-by-token decoding equals the full causal pass (%s)', (_name, options) => {
    noGrad(() => {
      const mha = attention(options);
      const full = mha.forward(x, { causal: true }).output;
      const { output, cache } = incremental(mha, x);
      expectClose(output, full, 1e-5);
      expect(cache.key.shape).toEqual([B, mha.numKeyValueHeads, T, mha.headDim]);
      // A prompt of two tokens then single tokens gives the same too.
      expectClose(incremental(mha, x, 2).output, full, 1e-5);
    });
  });

  it('cross-attention computes the memory keys once and reuses them', () => {
    const mha = attention({ crossAttention: true });
    const memory = seeded([B, 3, C], 21);
    const first = mha.forward(ops.slice(x, 1, 0, 1), { keyValueStates: memory, useCache: true });
    const cached = first.presentKeyValue!;
    // With the cache the memory is not needed; the result matches a fresh computation.
    const second = mha.forward(ops.slice(x, 1, 1, 2), { pastKeyValue: cached, useCache: true });
    expect(second.presentKeyValue!.key).toBe(cached.key);
    expectClose(second.output, mha.forward(ops.slice(x, 1, 1, 2), { keyValueStates: memory }).output, 1e-6);
  });
});

describe('scaledDotProductAttention', () => {
  it('grouped-query heads equal every key/value head repeated for the query heads it serves (HF repeat_kv)', () => {
    const q = seeded([2, 4, 3, 5], 40);
    const k = seeded([2, 2, 6, 5], 41);
    const v = seeded([2, 2, 6, 5], 42);
    const repeat = (x: Tensor): Tensor =>
      ops.concat(
        [0, 0, 1, 1].map((h) => ops.slice(x, 1, h, h + 1)),
        1,
      ); // (B, 4, T, D)
    const grouped = scaledDotProductAttention(q, k, v, { causal: true });
    const repeated = scaledDotProductAttention(q, repeat(k), repeat(v), { causal: true });
    expect(grouped.output.shape).toEqual([2, 4, 3, 5]);
    expect(grouped.weights.shape).toEqual([2, 4, 3, 6]);
    expectClose(grouped.output, repeated.output, 1e-6);
    expectClose(grouped.weights, repeated.weights, 1e-6);
    expect(() => scaledDotProductAttention(q, seeded([2, 3, 6, 5], 43), v)).toThrow(
      /4 query heads cannot share 3 key\/value heads/,
    );
  });

  it('a sliding window of w lets query i see keys i-w+1 … i, also for the last queries of a cached sequence', () => {
    // Two new queries at absolute positions 3 and 4 of five keys, window 2.
    const bias = attentionBias(null, { batch: 1, queryLength: 2, keyLength: 5, causal: true, slidingWindow: 2 })!;
    const M = MASKED;
    expect(Array.from(bias.data)).toEqual([M, M, 0, 0, M, M, M, M, 0, 0]);
    // One query past the window still needs a mask; within the window it does not.
    expect(
      Array.from(attentionBias(null, { batch: 1, queryLength: 1, keyLength: 3, causal: true, slidingWindow: 2 })!.data),
    ).toEqual([M, 0, 0]);
    expect(attentionBias(null, { batch: 1, queryLength: 1, keyLength: 2, causal: true, slidingWindow: 2 })).toBeNull();
    // With padding, the window and the padding combine.
    const padded = attentionBias(tensor([[0, 1, 1, 1]], { dtype: 'int32' }), {
      batch: 1,
      queryLength: 4,
      keyLength: 4,
      causal: true,
      slidingWindow: 2,
    })!;
    expect(Array.from(padded.data)).toEqual([M, M, M, M, M, 0, M, M, M, 0, 0, M, M, M, 0, 0]);
    // The causal option of the function itself applies the same window.
    const q = seeded([1, 1, 4, 3], 44);
    const kv = seeded([1, 1, 4, 3], 45);
    const viaOption = scaledDotProductAttention(q, kv, kv, { causal: true, slidingWindow: 2 });
    const viaBias = scaledDotProductAttention(q, kv, kv, {
      mask: attentionBias(null, { batch: 1, queryLength: 4, keyLength: 4, causal: true, slidingWindow: 2 }),
    });
    expectClose(viaOption.weights, viaBias.weights, 0);
    expect(Array.from(viaOption.weights.data.subarray(12, 14))).toEqual([0, 0]);
  });
});
