/** Softmax and LogSoftmax along one axis (opset 13+ semantics: the axis alone, not a flattened 2-D view). */
import { normalizeAxis } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import { expectDType, splitAtAxis } from './common.js';
import { erf } from './elementwise.js';

/**
 * Shifts each lane along `axis` by its max (so exp never overflows), then writes either exp(x - max) / sum or
 * x - max - log(sum). Sums are accumulated in double.
 */
export function softmax(op: 'softmax' | 'logSoftmax', x: KernelTensor, axis: number): KernelTensor {
  expectDType(op, 'input', x, ['float32']);
  const { outer, len, inner } = splitAtAxis(x.shape, normalizeAxis(axis, x.shape.length, op));
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let max = -Infinity;
      for (let k = 0; k < len; k++) max = Math.max(max, src[base + k * inner]!);
      let sum = 0;
      for (let k = 0; k < len; k++) sum += Math.exp(src[base + k * inner]! - max);
      if (op === 'softmax') {
        for (let k = 0; k < len; k++) out[base + k * inner] = Math.exp(src[base + k * inner]! - max) / sum;
      } else {
        const logSum = Math.log(sum);
        for (let k = 0; k < len; k++) out[base + k * inner] = src[base + k * inner]! - max - logSum;
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** (x - mean) / sqrt(var + eps) · scale + bias over the last axis; statistics in double. */
export function layerNorm(x: KernelTensor, scale: KernelTensor, bias: KernelTensor, epsilon: number): KernelTensor {
  expectDType('layerNorm', 'input', x, ['float32']);
  const n = x.shape[x.shape.length - 1] ?? 1;
  if (scale.data.length !== n || bias.data.length !== n) {
    throw new RangeError(
      `layerNorm: scale and bias need ${n} values (the last dim of the input), got ${scale.data.length} and ${bias.data.length}`,
    );
  }
  const src = x.data;
  const out = new Float32Array(src.length);
  for (let base = 0; base < src.length; base += n) {
    let mean = 0;
    for (let k = 0; k < n; k++) mean += src[base + k]!;
    mean /= n;
    let variance = 0;
    for (let k = 0; k < n; k++) variance += (src[base + k]! - mean) ** 2;
    const inv = 1 / Math.sqrt(variance / n + epsilon);
    for (let k = 0; k < n; k++) out[base + k] = (src[base + k]! - mean) * inv * scale.data[k]! + bias.data[k]!;
  }
  return { data: out, shape: [...x.shape] };
}

export function geluErf(v: number): number {
  return 0.5 * v * (1 + erf(v * Math.SQRT1_2));
}

export function geluTanh(v: number): number {
  return 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v * v * v)));
}
