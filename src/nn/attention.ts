import type { Generator } from '../tensor/random.js';
import { activeTracer, keep } from '../tensor/engine.js';
import { shapeString } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { extendKV, type LayerKV } from './kv_cache.js';
import { Linear } from './layers.js';
import { Module } from './module.js';
import { defaultPositionIds } from './positional.js';
import type { RotaryEmbedding } from './rotary.js';

/**
 * Attention: the one implementation that every model in src/models, the nn stacks, the char-GPT example and the
 * studio use. A model file keeps its projections (their names are its state-dict keys) and quirks (fused qkv,
 * T5's unscaled scores and relative bias) and calls these for the rest.
 *
 * Shapes: B batch, H query heads, Hkv key/value heads (H a multiple of Hkv: grouped-query attention), Tq queries,
 * Tk keys (cached + new; query i sits at absolute position Tk - Tq + i), D head size, C = H·D.
 *
 *   splitHeads(x, H)                  (B, T, H·D) → (B, H, T, D)
 *   mergeHeads(x)                     (B, H, T, D) → (B, T, H·D)
 *   attentionBias(attentionMask, …)   HF's (B, Tk) 1/0 padding mask (+ causal, + sliding window) → an additive
 *                                     (B, 1, Tq, Tk) mask built once per forward pass and shared by every layer
 *   scaledDotProductAttention(q, k, v, { mask, causal, slidingWindow, scale, dropoutP, training })
 *                                     q (B, H, Tq, D), k and v (B, Hkv, Tk, D) → output (B, H, Tq, D) and the
 *                                     weights (B, H, Tq, Tk)
 *   multiHeadAttention(q, k, v, H, …) the three above for projected (B, T, H·D) inputs
 *   extendKV(past, k, v)              (nn/kv_cache.ts) the cache grown by this step's keys and values
 *   MultiHeadAttention                projections + rotary + cache + the above, for the nn stacks
 */

/** The additive value HF puts on masked keys (finfo(float32).min), kept finite so fully masked rows stay NaN-free. */
export const MASKED = -3.4028234663852886e38;

/** (B, T, H·D) → (B, H, T, D). */
export function splitHeads(x: Tensor, heads: number): Tensor {
  const [b, t, c] = x.shape as [number, number, number];
  if (x.rank !== 3 || c % heads !== 0) {
    throw new RangeError(
      `splitHeads: expected (batch, length, heads·headDim) with ${heads} heads, got ${shapeString(x.shape)}`,
    );
  }
  return ops.transpose(ops.reshape(x, [b, t, heads, c / heads]), 1, 2);
}

/** (B, H, T, D) → (B, T, H·D). */
export function mergeHeads(x: Tensor): Tensor {
  const [b, h, t, d] = x.shape as [number, number, number, number];
  return ops.reshape(ops.transpose(x, 1, 2), [b, t, h * d]);
}

/** Whether query i (absolute position `offset + i`) may see key j: causal, and within the sliding window if any. */
function visible(i: number, j: number, offset: number, slidingWindow: number | null): boolean {
  const position = offset + i;
  return j <= position && (slidingWindow === null || j > position - slidingWindow);
}

const causalCache = new Map<string, Tensor>();

/**
 * (Tq, Tk) additive causal mask: query i (at absolute position Tk - Tq + i) sees keys up to itself, and with a
 * sliding window (Mistral) only the last `slidingWindow` of them, itself included.
 */
export function causalMask(tq: number, tk: number, slidingWindow: number | null = null): Tensor {
  const key = `${tq}x${tk}w${slidingWindow}`;
  let m = causalCache.get(key);
  if (!m) {
    const data = new Float32Array(tq * tk);
    for (let i = 0; i < tq; i++)
      for (let j = 0; j < tk; j++) if (!visible(i, j, tk - tq, slidingWindow)) data[i * tk + j] = MASKED;
    m = keep(new Tensor(data, [tq, tk]));
    if (causalCache.size > 64) causalCache.clear();
    causalCache.set(key, m);
  }
  return m;
}

export interface AttentionBiasOptions {
  batch: number;
  queryLength: number;
  /** Cached plus new positions. */
  keyLength: number;
  /** Decoder self-attention: query i (absolute position keyLength - queryLength + i) sees keys up to itself. */
  causal: boolean;
  /** With `causal`: each query sees only the last this-many positions, itself included (Mistral's sliding_window). */
  slidingWindow?: number | null;
}

/**
 * The additive attention mask, (B, 1, Tq, Tk) or broadcastable: 0 where a query may attend, MASKED where it may
 * not (padding keys, future keys, keys behind the sliding window). Causal and padding masks are combined by taking
 * the masked value once rather than adding two, so a query that sees no key (a left-padding position) gets uniform
 * weights instead of NaN, as in transformers. Null when nothing is masked.
 */
export function attentionBias(attentionMask: Tensor | null | undefined, options: AttentionBiasOptions): Tensor | null {
  const { batch, queryLength: tq, keyLength: tk, causal } = options;
  const window = causal ? (options.slidingWindow ?? null) : null;
  if (window !== null && (!Number.isInteger(window) || window < 1)) {
    throw new RangeError(`attentionBias: slidingWindow must be a positive integer, got ${window}`);
  }
  const needsCausal = causal && (tq > 1 || (window !== null && tk > window));
  if (attentionMask) {
    if (attentionMask.rank !== 2 || attentionMask.shape[0] !== batch || attentionMask.shape[1] !== tk) {
      throw new RangeError(
        `attentionMask has shape ${shapeString(attentionMask.shape)}; expected (batch, past + new tokens) = [${batch}, ${tk}]`,
      );
    }
  }
  // While a graph is being captured the mask is a graph input: the bias is built with ops (always, padding or not,
  // and the causal part whatever the sizes), so the graph serves every mask and length instead of baking in these.
  if (activeTracer)
    return attentionBiasOps(attentionMask ?? null, options, causal && (tq > 1 || window !== null), window);
  const keys = attentionMask?.data;
  const hasPadding = keys !== undefined && keys.some((v) => v === 0);
  if (!hasPadding) return needsCausal ? causalMask(tq, tk, window) : null;
  if (!causal) {
    // Padding alone: one row of key biases per batch entry, broadcast over heads and queries.
    const bias = new Float32Array(batch * tk);
    for (let i = 0; i < bias.length; i++) if (keys![i] === 0) bias[i] = MASKED;
    return new Tensor(bias, [batch, 1, 1, tk]);
  }
  const offset = tk - tq;
  const bias = new Float32Array(batch * tq * tk);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < tq; i++) {
      const row = (b * tq + i) * tk;
      for (let j = 0; j < tk; j++)
        if (!visible(i, j, offset, window) || keys![b * tk + j] === 0) bias[row + j] = MASKED;
    }
  }
  return new Tensor(bias, [batch, 1, tq, tk]);
}

/**
 * `attentionBias` from ops, for graph capture: MASKED on padding keys and, when `causal`, on keys after each query
 * or behind its sliding window. Positions are ranges (which a compiled graph rebuilds for any length), not a
 * precomputed table.
 */
function attentionBiasOps(
  attentionMask: Tensor | null,
  options: AttentionBiasOptions,
  causal: boolean,
  window: number | null,
): Tensor | null {
  const { batch, queryLength: tq, keyLength: tk } = options;
  const padding = attentionMask
    ? ops.reshape(ops.where(ops.eq(attentionMask, 0), ops.scalar(MASKED), 0), [batch, 1, 1, tk])
    : null;
  if (!causal) return padding;
  const keys = new Tensor(
    Int32Array.from({ length: tk }, (_, j) => j),
    [tk],
  ); // (Tk)
  const queries = ops.reshape(
    new Tensor(
      Int32Array.from({ length: tq }, (_, i) => tk - tq + i),
      [tq],
    ),
    [tq, 1],
  ); // (Tq, 1)
  let visible = ops.le(keys, queries); // (Tq, Tk)
  if (window !== null) visible = ops.logicalAnd(visible, ops.gt(keys, ops.sub(queries, window)));
  const future = ops.where(visible, 0, ops.scalar(MASKED));
  // Both hold only 0 and MASKED: the minimum masks once where either does, as the eager bias does.
  return padding ? ops.minimum(padding, future) : future;
}

export interface AttentionOptions {
  /** Bool (true = may attend) or additive float mask (`attentionBias`), broadcastable to (B, H, Tq, Tk). */
  mask?: Tensor | null;
  /** Masks future keys; with a KV cache the Tq queries are the last Tq of the Tk positions. */
  causal?: boolean;
  /** With `causal`: each query sees only the last this-many positions (itself included). */
  slidingWindow?: number | null;
  /** Defaults to 1/sqrt(D); T5 uses 1 (its scale is folded into the weights). */
  scale?: number;
  /** Dropout on the attention weights, applied only when `training`. */
  dropoutP?: number;
  training?: boolean;
  generator?: Generator;
}

export interface AttentionResult {
  output: Tensor; // (B, H, Tq, D)
  weights: Tensor; // (B, H, Tq, Tk)
}

/**
 * softmax(q kᵀ · scale + mask) v for q (B, H, Tq, D) and k, v (B, Hkv, Tk, D). With Hkv < H (grouped-query
 * attention) query heads g·r … g·r + r - 1 (r = H / Hkv) share key/value head g, as HF's repeat_kv; the keys are
 * not copied: the queries regroup as (B, Hkv, r·Tq, D) by a reshape alone. Any rank ≥ 3 works without grouping.
 */
export function scaledDotProductAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  options: AttentionOptions = {},
): AttentionResult {
  const rank = q.rank;
  if (rank < 3 || k.rank !== rank || v.rank !== rank) {
    throw new RangeError(
      `scaledDotProductAttention: q, k, v must share a rank ≥ 3, got ${shapeString(q.shape)}, ${shapeString(k.shape)}, ${shapeString(v.shape)}`,
    );
  }
  const d = q.shape[rank - 1]!;
  const tq = q.shape[rank - 2]!;
  const tk = k.shape[rank - 2]!;
  const heads = q.shape[rank - 3]!;
  const kvHeads = k.shape[rank - 3]!;
  if (heads % kvHeads !== 0 || (heads !== kvHeads && rank !== 4)) {
    throw new RangeError(
      `scaledDotProductAttention: ${heads} query heads cannot share ${kvHeads} key/value heads (q ${shapeString(q.shape)}, k ${shapeString(k.shape)})`,
    );
  }
  const groups = heads / kvHeads;
  const b = q.shape[0]!;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  const grouped = groups === 1 ? q : ops.reshape(q, [b, kvHeads, groups * tq, d]); // (B, Hkv, r·Tq, D)
  let scores = ops.matmul(grouped, ops.transpose(k, -2, -1)); // (B, H, Tq, Tk) or (B, Hkv, r·Tq, Tk)
  if (scale !== 1) scores = ops.mul(scores, scale);
  if (groups !== 1) scores = ops.reshape(scores, [b, heads, tq, tk]);
  if (options.causal) scores = ops.add(scores, causalMask(tq, tk, options.slidingWindow ?? null));
  if (options.mask) {
    scores = options.mask.dtype === 'bool' ? ops.where(options.mask, scores, MASKED) : ops.add(scores, options.mask);
  }
  let weights = ops.softmax(scores, -1); // (B, H, Tq, Tk)
  if (options.dropoutP && options.training) weights = F.dropout(weights, options.dropoutP, true, options.generator);
  if (groups === 1) return { output: ops.matmul(weights, v), weights };
  const context = ops.matmul(ops.reshape(weights, [b, kvHeads, groups * tq, tk]), v); // (B, Hkv, r·Tq, D)
  return { output: ops.reshape(context, [b, heads, tq, d]), weights };
}

/**
 * Attention over heads from projected (B, T, H·D) queries, keys and values: split, attend, merge → the context
 * (B, Tq, H·D) and the weights (B, H, Tq, Tk). For encoders whose projections are the model's own (BERT, DistilBERT).
 */
export function multiHeadAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  heads: number,
  options: AttentionOptions = {},
): { context: Tensor; weights: Tensor } {
  const { output, weights } = scaledDotProductAttention(
    splitHeads(q, heads),
    splitHeads(k, heads),
    splitHeads(v, heads),
    options,
  );
  return { context: mergeHeads(output), weights };
}

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
  /** Rotary position embedding (nn/rotary.ts, any rope_scaling) applied to queries and keys; self-attention only. */
  rotary?: RotaryEmbedding;
  std?: number;
  generator?: Generator;
}

export interface AttentionCall {
  /** (B, S, keyValueDim): what cross-attention attends to (not needed once cached in `pastKeyValue`). */
  keyValueStates?: Tensor | null;
  /** Bool (true = may attend) or additive float mask broadcastable to (B, heads, Tq, Tk); see `attentionBias`. */
  mask?: Tensor | null;
  /** Masks future keys; with a cache the Tq queries are the last Tq of the Tk positions. */
  causal?: boolean;
  /** Self-attention: keys/values of earlier positions, extended here. Cross-attention: reused as is. */
  pastKeyValue?: LayerKV | null;
  /** Return this layer's keys/values (past and new) for the next decoding step. */
  useCache?: boolean;
  /** Return the attention weights (B, heads, Tq, Tk). */
  outputAttentions?: boolean;
  /** (T) or (B, T) int32 positions for rotary embeddings; default past length + arange(T). */
  positionIds?: Tensor | null;
}

export interface AttentionOutput {
  output: Tensor; // (B, Tq, embedDim)
  weights?: Tensor; // (B, heads, Tq, Tk)
  presentKeyValue?: LayerKV; // each (B, kvHeads, Tk, D)
}

/**
 * Multi-head attention (self and cross, grouped-query) as a module. Submodule fields are named as in Hugging Face's
 * BART and Marian (`q_proj`, `k_proj`, `v_proj`, `out_proj`), since a field's name is its state-dict key.
 */
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

  constructor(
    readonly embedDim: number,
    options: MultiHeadAttentionOptions,
  ) {
    super();
    const { numHeads, numKeyValueHeads = numHeads, bias = true, dropout = 0, std, generator } = options;
    const headDim = options.headDim ?? embedDim / numHeads;
    if (!Number.isInteger(headDim)) {
      throw new RangeError(
        `MultiHeadAttention: embedDim ${embedDim} is not divisible by numHeads ${numHeads}; pass headDim`,
      );
    }
    if (numHeads % numKeyValueHeads !== 0) {
      throw new RangeError(
        `MultiHeadAttention: numHeads ${numHeads} is not a multiple of numKeyValueHeads ${numKeyValueHeads}`,
      );
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
      throw new RangeError(
        `MultiHeadAttention: expected input (batch, length, ${this.embedDim}), got ${shapeString(hidden.shape)}`,
      );
    }
    const tq = hidden.shape[1]!;
    const cross = this.isCrossAttention;
    const past = call.pastKeyValue ?? null;
    if (cross && !past && !call.keyValueStates) {
      throw new Error('MultiHeadAttention: cross-attention needs keyValueStates (or a cached pastKeyValue)');
    }
    if (!cross && call.keyValueStates) {
      throw new Error(
        'MultiHeadAttention: keyValueStates given to a self-attention module; build it with crossAttention: true',
      );
    }

    let q = splitHeads(this.q_proj.forward(hidden), this.numHeads); // (B, H, Tq, D)
    let kv: LayerKV;
    if (cross && past) {
      // The encoder output does not change while decoding: its keys/values were computed on the first step.
      kv = past;
    } else {
      const source = call.keyValueStates ?? hidden;
      let k = splitHeads(this.k_proj.forward(source), this.numKeyValueHeads); // (B, Hkv, S, D)
      const v = splitHeads(this.v_proj.forward(source), this.numKeyValueHeads);
      if (this.rotary && !cross) {
        const pastLength = past ? past.key.shape[2]! : 0;
        const positions = call.positionIds ?? defaultPositionIds(tq, pastLength);
        [q, k] = this.rotary.applyRotary(q, k, positions, pastLength + tq);
      }
      kv = cross ? { key: k, value: v } : extendKV(past, k, v);
    }

    const { output, weights } = scaledDotProductAttention(q, kv.key, kv.value, {
      mask: call.mask,
      causal: call.causal,
      dropoutP: this.dropout,
      training: this.training,
    }); // (B, H, Tq, D)
    return {
      output: this.out_proj.forward(mergeHeads(output)),
      weights: call.outputAttentions ? weights : undefined,
      presentKeyValue: call.useCache ? kv : undefined,
    };
  }
}
