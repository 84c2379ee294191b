/** Reductions over axes (ReduceSum/ReduceMax/ReduceMin, opset 18) and ArgMax. */
import { allocate, type DType } from '../../tensor/dtype.js';
import { normalizeAxis, shapeString, sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import { expectDType, splitAtAxis, stridedOffsets } from './common.js';

export interface Reduction {
  /** The accumulator's start: the identity of `combine`, also the result over an empty set. */
  identity: (dtype: DType) => number;
  combine: (acc: number, value: number) => number;
}

const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export const SUM: Reduction = { identity: () => 0, combine: (acc, v) => acc + v };
// Math.max/min propagate NaN, as numpy and torch do.
export const MAX: Reduction = {
  identity: (dtype) => (dtype === 'int32' ? INT32_MIN : -Infinity),
  combine: Math.max,
};
export const MIN: Reduction = {
  identity: (dtype) => (dtype === 'int32' ? INT32_MAX : Infinity),
  combine: Math.min,
};

/** Output shape of reducing `shape` over `reduced` axes (flags per axis). */
function reducedShape(shape: Shape, reduced: readonly boolean[], keepdims: boolean): number[] {
  return keepdims ? shape.map((d, i) => (reduced[i] ? 1 : d)) : shape.filter((_, i) => !reduced[i]);
}

/**
 * Reduces `x` over `axes` (empty: all axes, ONNX's noop_with_empty_axes = 0). Accumulates in double, so a float32
 * sum is rounded once, and an int32 sum wraps modulo 2^32 only at the end.
 */
export function reduce(
  op: string,
  x: KernelTensor,
  axes: readonly number[],
  keepdims: boolean,
  how: Reduction,
): KernelTensor {
  const dtype = expectDType(op, 'input', x, ['float32', 'int32']);
  const rank = x.shape.length;
  const reduced = new Array<boolean>(rank).fill(axes.length === 0);
  for (const axis of axes) {
    const a = normalizeAxis(axis, rank, op);
    if (reduced[a]) throw new RangeError(`${op}: axis ${axis} is listed twice in axes [${axes.join(', ')}]`);
    reduced[a] = true;
  }
  const keptShape = reducedShape(x.shape, reduced, true);
  // Each input element's output slot: the output's strides with 0 along reduced axes.
  const keptStrides = stridesOf(keptShape).map((s, d) => (reduced[d] ? 0 : s));
  const slots = stridedOffsets(x.shape, keptStrides);
  const acc = new Float64Array(sizeOf(keptShape));
  acc.fill(how.identity(dtype));
  const src = x.data;
  for (let i = 0; i < src.length; i++) acc[slots[i]!] = how.combine(acc[slots[i]!]!, src[i]!);
  const out = allocate(dtype, acc.length);
  out.set(acc);
  return { data: out, shape: reducedShape(x.shape, reduced, keepdims) };
}

/**
 * Index of the largest value along `axis`, int32: the first one on ties (ONNX select_last_index = 0), and the
 * first NaN if there is one (NaN counts as the largest, as in numpy and torch).
 */
export function argMax(x: KernelTensor, axis: number, keepdims: boolean): KernelTensor {
  expectDType('argMax', 'input', x, ['float32', 'int32']);
  const a = normalizeAxis(axis, x.shape.length, 'argMax');
  const { outer, len, inner } = splitAtAxis(x.shape, a);
  if (len === 0) throw new RangeError(`argMax: axis ${axis} of shape ${shapeString(x.shape)} is empty`);
  const src = x.data;
  const out = new Int32Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * len * inner + i;
      let best = src[base]!;
      let bestIndex = 0;
      for (let k = 1; k < len && best === best; k++) {
        const v = src[base + k * inner]!;
        if (v > best || v !== v) {
          best = v;
          bestIndex = k;
        }
      }
      out[o * inner + i] = bestIndex;
    }
  }
  const reduced = x.shape.map((_, d) => d === a);
  return { data: out, shape: reducedShape(x.shape, reduced, keepdims) };
}
