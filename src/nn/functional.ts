import { randomTensor } from '../tensor/creation.js';
import { untraced } from '../tensor/engine.js';
import { defaultGenerator, type Generator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
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
  const scale = 1 / (1 - p);
  // A random input: a captured training step draws a fresh mask on each replay, exactly as this eager call does.
  const size = x.size;
  const keep = randomTensor(x.shape, () => {
    const mask = new Float32Array(size);
    for (let i = 0; i < mask.length; i++) mask[i] = generator.random() < p ? 0 : scale;
    return mask;
  });
  return ops.mul(x, keep);
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
  if (targets.dtype !== 'int32')
    throw new TypeError(`crossEntropy: targets must be int32 class ids, got ${targets.dtype}`);
  const [n, c] = logits.shape as [number, number];
  if (targets.rank !== 1 || targets.shape[0] !== n) {
    throw new RangeError(
      `crossEntropy: targets ${shapeString(targets.shape)} do not match logits ${shapeString(logits.shape)}: expected (${n})`,
    );
  }
  // Checked in JS, computed with ops: a captured step then serves every batch of targets.
  const ids = untraced(() => targets.data);
  ids.forEach((t, i) => {
    if (t !== ignoreIndex && (t < 0 || t >= c))
      throw new RangeError(`crossEntropy: target ${t} at position ${i} is outside [0, ${c})`);
  });
  const ignored = ops.eq(targets, ignoreIndex);
  const safe = ops.where(ignored, 0, targets);
  const keepMask = ops.cast(ops.logicalNot(ignored), 'float32');
  const logp = ops.logSoftmax(logits, -1);
  const picked = ops.reshape(ops.gatherElements(logp, ops.reshape(safe, [n, 1]), 1), [n]);
  let perRow = ops.neg(picked);
  if (labelSmoothing > 0) {
    const smooth = ops.neg(ops.mean(logp, -1));
    perRow = ops.add(ops.mul(perRow, 1 - labelSmoothing), ops.mul(smooth, labelSmoothing));
  }
  perRow = ops.mul(perRow, keepMask);
  if (reduction === 'none') return perRow;
  const total = ops.sum(perRow);
  // torch returns NaN for a mean over zero targets; a clear 0 is kinder to training loops that log it.
  return reduction === 'sum' ? total : ops.div(total, ops.maximum(ops.sum(keepMask), 1));
}

export function mseLoss(input: Tensor, target: Tensor, reduction: 'mean' | 'sum' | 'none' = 'mean'): Tensor {
  const d = ops.sub(input, target);
  const sq = ops.mul(d, d);
  return reduction === 'none' ? sq : reduction === 'sum' ? ops.sum(sq) : ops.mean(sq);
}
