import { defaultGenerator, type Generator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { keep } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { shapeString } from '../tensor/shape.js';

/** Stateless neural-network functions, composed from tensor ops (so every one is differentiable on every backend). */

/** x @ weightᵀ + bias, with weight stored (out, in) as nn.Linear. */
export const linear = ops.linear;

/** Rows of `weight` (V, C) at `ids` (any shape) → (...ids.shape, C). */
export function embedding(ids: Tensor, weight: Tensor): Tensor {
  return ops.indexSelect(weight, ids, 0);
}

/** Normalizes over the last dim: (x - mean) / sqrt(var + eps) * weight + bias (population variance). */
export function layerNorm(x: Tensor, weight?: Tensor | null, bias?: Tensor | null, eps = 1e-5): Tensor {
  const n = x.shape[x.rank - 1]!;
  return ops.layerNorm(x, weight ?? ops.full([n], 1), bias ?? ops.full([n], 0), eps);
}

/** x / sqrt(mean(x²) + eps) * weight over the last dim (Llama, T5). */
export function rmsNorm(x: Tensor, weight?: Tensor | null, eps = 1e-6): Tensor {
  const y = ops.mul(x, ops.rsqrt(ops.add(ops.mean(ops.mul(x, x), -1, true), eps)));
  return weight ? ops.mul(y, weight) : y;
}

/** Inverted dropout: zeroes with probability p and scales the rest by 1/(1-p); identity when not training. */
export function dropout(x: Tensor, p: number, training: boolean, generator: Generator = defaultGenerator): Tensor {
  if (p < 0 || p >= 1) throw new RangeError(`dropout: p must be in [0, 1), got ${p}`);
  if (!training || p === 0) return x;
  const keep = new Float32Array(x.size);
  const scale = 1 / (1 - p);
  for (let i = 0; i < keep.length; i++) keep[i] = generator.random() < p ? 0 : scale;
  return ops.mul(x, new Tensor(keep, x.shape));
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (HF uses -100). */
  ignoreIndex?: number;
  /** Mixes the one-hot target with a uniform distribution (torch's label_smoothing). */
  labelSmoothing?: number;
  reduction?: 'mean' | 'sum' | 'none';
}

/**
 * Cross-entropy of logits (N, C) against int32 class targets (N), as torch.nn.functional.cross_entropy:
 * the mean is over targets that are not ignored.
 */
export function crossEntropy(logits: Tensor, targets: Tensor, options: CrossEntropyOptions = {}): Tensor {
  const { ignoreIndex = -100, labelSmoothing = 0, reduction = 'mean' } = options;
  if (logits.rank !== 2) throw new RangeError(`crossEntropy: logits must be (N, C), got ${shapeString(logits.shape)}`);
  if (targets.dtype !== 'int32') throw new TypeError(`crossEntropy: targets must be int32 class ids, got ${targets.dtype}`);
  const [n, c] = logits.shape as [number, number];
  if (targets.rank !== 1 || targets.shape[0] !== n) {
    throw new RangeError(`crossEntropy: targets ${shapeString(targets.shape)} do not match logits ${shapeString(logits.shape)}: expected (${n})`);
  }
  const safe = new Int32Array(n);
  const keepMask = new Float32Array(n);
  let kept = 0;
  targets.data.forEach((t, i) => {
    if (t === ignoreIndex) return;
    if (t < 0 || t >= c) throw new RangeError(`crossEntropy: target ${t} at position ${i} is outside [0, ${c})`);
    safe[i] = t;
    keepMask[i] = 1;
    kept++;
  });
  const logp = ops.logSoftmax(logits, -1);
  const picked = ops.reshape(ops.gatherElements(logp, new Tensor(safe, [n, 1]), 1), [n]);
  let perRow = ops.neg(picked);
  if (labelSmoothing > 0) {
    const smooth = ops.neg(ops.mean(logp, -1));
    perRow = ops.add(ops.mul(perRow, 1 - labelSmoothing), ops.mul(smooth, labelSmoothing));
  }
  perRow = ops.mul(perRow, new Tensor(keepMask, [n]));
  if (reduction === 'none') return perRow;
  const total = ops.sum(perRow);
  // torch returns NaN for a mean over zero targets; a clear 0 is kinder to training loops that log it.
  return reduction === 'sum' ? total : ops.div(total, Math.max(kept, 1));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  const d = ops.sub(input, target);
  const sq = ops.mul(d, d);
  return reduction === 'none' ? sq : reduction === 'sum' ? ops.sum(sq) : ops.mean(sq);
}

export interface AttentionOptions {
  /** Boolean (true = may attend) or additive float mask, broadcastable to (B, H, Tq, Tk). */
  mask?: Tensor | null;
  /** Masks future keys; with a KV cache the queries are the last Tq of Tk positions. */
  causal?: boolean;
  /** Defaults to 1/sqrt(head dim); T5 uses 1. */
  scale?: number;
  dropoutP?: number;
  training?: boolean;
}

/**
 * softmax(q kᵀ · scale + mask) v for q (B, H, Tq, D), k and v (B, H, Tk, D). Returns the output and the attention
 * weights (B, H, Tq, Tk) so they can be inspected.
 */
export function scaledDotProductAttention(q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}): { output: Tensor; weights: Tensor } {
  const d = q.shape[q.rank - 1]!;
  const scale = options.scale ?? 1 / Math.sqrt(d);
  let scores = ops.matmul(q, ops.transpose(k, -2, -1)); // (B, H, Tq, Tk)
  if (scale !== 1) scores = ops.mul(scores, scale);
  const tq = q.shape[q.rank - 2]!;
  const tk = k.shape[k.rank - 2]!;
  if (options.causal) scores = ops.add(scores, causalMask(tq, tk));
  if (options.mask) {
    scores = options.mask.dtype === 'bool' ? ops.where(options.mask, scores, MASKED) : ops.add(scores, options.mask);
  }
  let weights = ops.softmax(scores, -1);
  if (options.dropoutP && options.training) weights = dropout(weights, options.dropoutP, true);
  return { output: ops.matmul(weights, v), weights };
}

/** The additive value HF puts on masked keys (finfo(float32).min), kept finite so rows stay NaN-free. */
export const MASKED = -3.4028234663852886e38;

const causalCache = new Map<string, Tensor>();

/** (Tq, Tk) additive mask: query i (at absolute position Tk - Tq + i) sees keys 0..Tk-Tq+i. */
export function causalMask(tq: number, tk: number): Tensor {
  const key = `${tq}x${tk}`;
  let m = causalCache.get(key);
  if (!m) {
    const data = new Float32Array(tq * tk);
    const offset = tk - tq;
    for (let i = 0; i < tq; i++) for (let j = i + offset + 1; j < tk; j++) data[i * tk + j] = MASKED;
    m = keep(new Tensor(data, [tq, tk]));
    if (causalCache.size > 64) causalCache.clear();
    causalCache.set(key, m);
  }
  return m;
}
