import type { LayerKV } from '../models/modeling_outputs.js';
import type { Generator } from '../tensor/random.js';
import { shapeString } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import type { RotaryEmbedding } from './positional.js';

/**
 * Multi-head attention (self and cross, grouped-query). Submodule fields are named as in Hugging Face's BART and
 * Marian (`q_proj`, `k_proj`, `v_proj`, `out_proj`), since a field's name is its state-dict key.
 */

export interface MultiHeadAttentionOptions {
  numHeads: number;
  /** Key/value heads for grouped-query attention (each serves numHeads / numKeyValueHeads query heads); default numHeads. */
  numKeyValueHeads?: number;
  /** Default: embedDim / numHeads. */
  headDim?: number;
  /** Keys and values come from other states (an encoder's output) given in each call, and are cached once. */
  crossAttention?: boolean;
  /** Width of the states keys and values are computed from in cross-attention; default embedDim. */
  keyValueDim?: number;
  /** Biases on the four projections (default true; Llama has none). */
  bias?: boolean;
  /** Dropout on the attention weights while training. */
  dropout?: number;
  /** Rotary position embedding applied to queries and keys (Llama, GPT-NeoX); self-attention only. */
  rotary?: RotaryEmbedding;
  std?: number;
  generator?: Generator;
}

export interface AttentionCall {
  /** (B, S, keyValueDim): what cross-attention attends to (not needed once cached in `pastKeyValue`). */
  keyValueStates?: Tensor | null;
  /** Bool (true = may attend) or additive float mask broadcastable to (B, heads, Tq, Tk); see `paddingMask`. */
  mask?: Tensor | null;
  /** Masks future keys; with a cache the Tq queries are the last Tq of the Tk positions. */
  causal?: boolean;
  /** Self-attention: keys/values of earlier positions, extended here. Cross-attention: reused as is. */
  pastKeyValue?: LayerKV | null;
  /** Return this layer's keys/values (past and new) for the next decoding step. */
  useCache?: boolean;
  /** Return the attention weights (B, heads, Tq, Tk). */
  outputAttentions?: boolean;
  /** (B, T) int32 positions for rotary embeddings; default past length + arange(T). */
  positionIds?: Tensor | null;
}

export interface AttentionOutput {
  output: Tensor; // (B, Tq, embedDim)
  weights?: Tensor; // (B, heads, Tq, Tk)
  presentKeyValue?: LayerKV; // each (B, kvHeads, Tk, D)
}

export class MultiHeadAttention extends Module {
  readonly numHeads: number;
  readonly numKeyValueHeads: number;
  readonly headDim: number;
  readonly dropout: number;
  readonly isCrossAttention: boolean;
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  out_proj: Linear;
  rotary: RotaryEmbedding | null;

  constructor(readonly embedDim: number, options: MultiHeadAttentionOptions) {
    super();
    const { numHeads, numKeyValueHeads = numHeads, bias = true, dropout = 0, std, generator } = options;
    const headDim = options.headDim ?? embedDim / numHeads;
    if (!Number.isInteger(headDim)) {
      throw new RangeError(`MultiHeadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}; pass headDim`);
    }
    if (numHeads % numKeyValueHeads !== 0) {
      throw new RangeError(`MultiHeadAttention: numHeads ${numHeads} is not a multiple of numKeyValueHeads ${numKeyValueHeads}`);
    }
    this.numHeads = numHeads;
    this.numKeyValueHeads = numKeyValueHeads;
    this.headDim = headDim;
    this.dropout = dropout;
    this.isCrossAttention = options.crossAttention ?? false;
    const kvDim = options.keyValueDim ?? embedDim;
    const init = { bias, std, generator };
    this.q_proj = new Linear(embedDim, numHeads * headDim, init);
    this.k_proj = new Linear(kvDim, numKeyValueHeads * headDim, init);
    this.v_proj = new Linear(kvDim, numKeyValueHeads * headDim, init);
    this.out_proj = new Linear(numHeads * headDim, embedDim, init);
    this.rotary = options.rotary ?? null;
  }

  forward(hidden: Tensor, call: AttentionCall = {}): AttentionOutput {
    if (hidden.rank !== 3 || hidden.shape[2] !== this.embedDim) {
      throw new RangeError(`MultiHeadAttention: expected input (batch, length, ${this.embedDim}), got ${shapeString(hidden.shape)}`);
    }
    const [b, tq] = hidden.shape as [number, number, number];
    const cross = this.isCrossAttention;
    const past = call.pastKeyValue ?? null;
    if (cross && !past && !call.keyValueStates) {
      throw new Error('MultiHeadAttention: cross-attention needs keyValueStates (or a cached pastKeyValue)');
    }
    if (!cross && call.keyValueStates) {
      throw new Error('MultiHeadAttention: keyValueStates given to a self-attention module; build it with crossAttention: true');
    }

    let q = this.splitHeads(this.q_proj.forward(hidden), this.numHeads); // (B, H, Tq, D)
    let k: Tensor;
    let v: Tensor;
    if (cross && past) {
      // The encoder output does not change while decoding: its keys/values were computed on the first step.
      ({ key: k, value: v } = past);
    } else {
      const source = call.keyValueStates ?? hidden;
      k = this.splitHeads(this.k_proj.forward(source), this.numKeyValueHeads); // (B, Hkv, S, D)
      v = this.splitHeads(this.v_proj.forward(source), this.numKeyValueHeads);
      if (this.rotary && !cross) {
        const pastLength = past ? past.key.shape[2]! : 0;
        const positions = call.positionIds ?? defaultPositions(b, tq, pastLength);
        [q, k] = this.rotary.applyRotary(q, k, positions);
      }
      if (past && !cross) {
        k = ops.concat([past.key, k], 2);
        v = ops.concat([past.value, v], 2);
      }
    }

    const { output, weights } = F.scaledDotProductAttention(q, this.repeatKeyValueHeads(k), this.repeatKeyValueHeads(v), {
      mask: call.mask,
      causal: call.causal,
      dropoutP: this.dropout,
      training: this.training,
    }); // (B, H, Tq, D)
    const merged = ops.reshape(ops.transpose(output, 1, 2), [b, tq, this.numHeads * this.headDim]); // (B, Tq, H·D)
    return {
      output: this.out_proj.forward(merged),
      weights: call.outputAttentions ? weights : undefined,
      presentKeyValue: call.useCache ? { key: k, value: v } : undefined,
    };
  }

  /** (B, T, H·D) → (B, H, T, D). */
  private splitHeads(x: Tensor, heads: number): Tensor {
    const [b, t] = x.shape as [number, number, number];
    return ops.transpose(ops.reshape(x, [b, t, heads, this.headDim]), 1, 2);
  }

  /** (B, Hkv, T, D) → (B, H, T, D): each key/value head serves a contiguous group of query heads (HF repeat_kv). */
  private repeatKeyValueHeads(x: Tensor): Tensor {
    const groups = this.numHeads / this.numKeyValueHeads;
    if (groups === 1) return x;
    const [b, , t, d] = x.shape as [number, number, number, number];
    // concat rather than expand: expand's target shape (which grows with the cache) is part of the onnx session key.
    const copies = ops.concat(new Array<Tensor>(groups).fill(ops.unsqueeze(x, 2)), 2); // (B, Hkv, groups, T, D)
    return ops.reshape(copies, [b, this.numHeads, t, d]);
  }
}

/** (B, T) int32: past length + 0..T-1 in every row. */
export function defaultPositions(batch: number, length: number, pastLength = 0): Tensor {
  const data = new Int32Array(batch * length);
  for (let i = 0; i < data.length; i++) data[i] = pastLength + (i % length);
  return new Tensor(data, [batch, length]);
}

/**
 * A padding mask (B, S) with 1 (or true) for tokens and 0 for padding, as HF's `attention_mask`, turned into a
 * bool mask (B, 1, 1, S) that broadcasts over heads and queries.
 */
export function paddingMask(mask: Tensor): Tensor {
  if (mask.rank !== 2) throw new RangeError(`paddingMask: expected a (batch, length) mask, got ${shapeString(mask.shape)}`);
  const keep = mask.dtype === 'bool' ? mask : ops.logicalNot(ops.eq(mask, 0));
  return ops.reshape(keep, [mask.shape[0]!, 1, 1, mask.shape[1]!]);
}
