/** Softmax and LogSoftmax along one axis (opset 13+ semantics: the axis alone, not a flattened 2-D view). */
import { normalizeAxis } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import { expectDType, splitAtAxis } from './common.js';

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
