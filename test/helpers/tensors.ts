import type { Tensor } from '../../src/tensor/tensor.js';

/** The largest |a − b| over two tensors of the same size. */
export function maxTensorDiff(a: Tensor, b: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]! - b.data[i]!));
  return m;
}

/** The largest |value| of a tensor. */
export function maxMagnitude(a: Tensor): number {
  let m = 0;
  for (let i = 0; i < a.size; i++) m = Math.max(m, Math.abs(a.data[i]!));
  return m;
}
