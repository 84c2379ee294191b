/**
 * Kernels that move or select values: transpose, slice, concat, expand, gather, gatherElements, scatterAdd,
 * trilu and cumsum. Most are "read the input at computed offsets" (see stridedOffsets).
 */
import { allocate, dtypeOf } from '../../tensor/dtype.js';
import { broadcastShapes, normalizeAxis, shapeString, sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import {
  broadcastStrides,
  expectDType,
  expectSameDType,
  gatherOffsets,
  resolveIndex,
  splitAtAxis,
  stridedOffsets,
} from './common.js';

/** Output dim d is input dim perm[d]. */
export function transpose(x: KernelTensor, perm: readonly number[]): KernelTensor {
  const rank = x.shape.length;
  const seen = new Set(perm);
  if (perm.length !== rank || seen.size !== rank || perm.some((p) => !Number.isInteger(p) || p < 0 || p >= rank)) {
    throw new RangeError(
      `transpose: perm [${perm.join(', ')}] is not a permutation of the axes of ${shapeString(x.shape)}`,
    );
  }
  const strides = stridesOf(x.shape);
  const shape = perm.map((p) => x.shape[p]!);
  return gatherOffsets(
    x,
    stridedOffsets(
      shape,
      perm.map((p) => strides[p]!),
    ),
    shape,
  );
}

/**
 * ONNX Slice over every axis, exactly as onnxruntime resolves it (so both backends agree on any attributes):
 * a negative start or end counts from the end (adds dim); then for step > 0 both are clamped to [0, dim], for
 * step < 0 start is clamped to [0, dim − 1] and end to [−1, dim − 1], where −1 now means "through index 0".
 * So a full reversal is start = dim − 1 (or −1), end = −dim − 1 (or any smaller value), step = −1. The result
 * takes start, start + step, … up to but excluding end; an empty range gives a 0-length dim.
 */
export function slice(
  x: KernelTensor,
  starts: readonly number[],
  ends: readonly number[],
  steps: readonly number[],
): KernelTensor {
  const rank = x.shape.length;
  if (starts.length !== rank || ends.length !== rank || steps.length !== rank) {
    throw new RangeError(
      `slice: starts [${starts}], ends [${ends}] and steps [${steps}] need one entry per axis of ` +
        shapeString(x.shape),
    );
  }
  const inStrides = stridesOf(x.shape);
  const shape: number[] = [];
  let base = 0;
  for (let d = 0; d < rank; d++) {
    const step = steps[d]!;
    const dim = x.shape[d]!;
    if (!Number.isInteger(step) || step === 0) {
      throw new RangeError(`slice: step ${step} on axis ${d} must be a nonzero integer`);
    }
    const fromEnd = (bound: number) => (bound < 0 ? bound + dim : bound);
    const start = clamp(fromEnd(starts[d]!), 0, step > 0 ? dim : dim - 1);
    const end = clamp(fromEnd(ends[d]!), step > 0 ? 0 : -1, step > 0 ? dim : dim - 1);
    const count = Math.max(0, Math.ceil((end - start) / step));
    shape.push(count);
    if (count > 0) base += start * inStrides[d]!;
  }
  return gatherOffsets(
    x,
    stridedOffsets(
      shape,
      inStrides.map((s, d) => s * steps[d]!),
      base,
    ),
    shape,
  );
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(Math.max(value, min), max);
}

export function concat(inputs: readonly KernelTensor[], axis: number): KernelTensor {
  if (inputs.length === 0) throw new RangeError('concat: expected at least one input');
  const first = inputs[0]!;
  if (first.shape.length === 0) throw new RangeError('concat: scalars cannot be concatenated');
  const a = normalizeAxis(axis, first.shape.length, 'concat');
  for (const t of inputs) {
    expectSameDType('concat', first, t);
    if (t.shape.length !== first.shape.length || t.shape.some((d, i) => i !== a && d !== first.shape[i])) {
      throw new RangeError(
        `concat: shapes ${shapeString(first.shape)} and ${shapeString(t.shape)} differ outside axis ${a}`,
      );
    }
  }
  const shape = [...first.shape];
  shape[a] = inputs.reduce((n, t) => n + t.shape[a]!, 0);
  const { outer, inner } = splitAtAxis(shape, a);
  const outChunk = shape[a]! * inner;
  const out = allocate(dtypeOf(first.data), sizeOf(shape));
  let offset = 0;
  for (const t of inputs) {
    // Each outer index holds one contiguous chunk of every input, placed side by side.
    const chunk = t.shape[a]! * inner;
    for (let o = 0; o < outer; o++) out.set(t.data.subarray(o * chunk, (o + 1) * chunk), o * outChunk + offset);
    offset += chunk;
  }
  return { data: out, shape };
}

/**
 * ONNX Expand: the result shape is the numpy broadcast of x's shape and `shape` (both ways, so a 1 in `shape`
 * keeps x's dim); where `shape` is already the broadcast result this is numpy.broadcast_to.
 */
export function expand(x: KernelTensor, shape: readonly number[]): KernelTensor {
  const outShape = broadcastShapes(x.shape, shape, 'expand');
  return gatherOffsets(x, stridedOffsets(outShape, broadcastStrides(x.shape, outShape)), outShape);
}

/** numpy.take(data, indices, axis): shape data[:axis] + indices + data[axis+1:]; negative indices count back. */
export function gather(data: KernelTensor, indices: KernelTensor, axis: number): KernelTensor {
  expectDType('gather', 'indices', indices, ['int32']);
  const a = normalizeAxis(axis, data.shape.length, 'gather');
  const { outer, len, inner } = splitAtAxis(data.shape, a);
  const rows = Array.from(indices.data, (index) => resolveIndex('gather', index, len));
  const out = allocate(dtypeOf(data.data), outer * rows.length * inner);
  let pos = 0;
  for (let o = 0; o < outer; o++) {
    for (const row of rows) {
      const from = (o * len + row) * inner;
      for (let i = 0; i < inner; i++) out[pos++] = data.data[from + i]!;
    }
  }
  return { data: out, shape: [...data.shape.slice(0, a), ...indices.shape, ...data.shape.slice(a + 1)] };
}

/**
 * The data offset each element of `indices` points at (torch.gather / ONNX GatherElements addressing): its own
 * position on every axis but `axis`, where the index value (negative counts from the end) is used instead.
 */
function alongAxisOffsets(op: string, dataShape: Shape, indices: KernelTensor, axis: number): Int32Array {
  expectDType(op, 'indices', indices, ['int32']);
  const rank = dataShape.length;
  if (indices.shape.length !== rank || indices.shape.some((d, i) => i !== axis && d > dataShape[i]!)) {
    throw new RangeError(
      `${op}: indices shape ${shapeString(indices.shape)} must have the rank of data shape ` +
        `${shapeString(dataShape)} and no larger dims outside axis ${axis}`,
    );
  }
  const strides = stridesOf(dataShape);
  const offsets = stridedOffsets(
    indices.shape,
    strides.map((s, d) => (d === axis ? 0 : s)),
  );
  const dim = dataShape[axis]!;
  for (let i = 0; i < offsets.length; i++) offsets[i]! += resolveIndex(op, indices.data[i]!, dim) * strides[axis]!;
  return offsets;
}

/** torch.gather(data, axis, indices): the result has the shape of indices. */
export function gatherElements(data: KernelTensor, indices: KernelTensor, axis: number): KernelTensor {
  const a = normalizeAxis(axis, data.shape.length, 'gatherElements');
  return gatherOffsets(data, alongAxisOffsets('gatherElements', data.shape, indices, a), [...indices.shape]);
}

/** torch.scatter_add (ONNX ScatterElements, reduction = add): data plus each update at its index; repeats add up. */
export function scatterAdd(
  data: KernelTensor,
  indices: KernelTensor,
  updates: KernelTensor,
  axis: number,
): KernelTensor {
  expectDType('scatterAdd', 'data', data, ['float32', 'int32']);
  expectSameDType('scatterAdd', data, updates);
  if (indices.shape.length !== updates.shape.length || indices.shape.some((d, i) => d !== updates.shape[i])) {
    throw new RangeError(
      `scatterAdd: indices shape ${shapeString(indices.shape)} and updates shape ` +
        `${shapeString(updates.shape)} must be equal`,
    );
  }
  const a = normalizeAxis(axis, data.shape.length, 'scatterAdd');
  const offsets = alongAxisOffsets('scatterAdd', data.shape, indices, a);
  const out = data.data.slice();
  for (let i = 0; i < offsets.length; i++) out[offsets[i]!] += updates.data[i]!;
  return { data: out, shape: [...data.shape] };
}

/** ONNX Trilu over the last two dims (row r, column c): upper keeps c − r ≥ k, lower c − r ≤ k; the rest is 0. */
export function trilu(x: KernelTensor, upper: boolean, k: number): KernelTensor {
  const rank = x.shape.length;
  if (rank < 2) throw new RangeError(`trilu: expected at least 2 dims, got shape ${shapeString(x.shape)}`);
  const rows = x.shape[rank - 2]!;
  const cols = x.shape[rank - 1]!;
  const matrixSize = rows * cols;
  const out = allocate(dtypeOf(x.data), x.data.length);
  for (let m = 0; matrixSize > 0 && m < x.data.length; m += matrixSize) {
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const keep = upper ? c - r >= k : c - r <= k;
        if (keep) out[m + r * cols + c] = x.data[m + r * cols + c]!;
      }
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** Inclusive running sum along `axis` (ONNX CumSum, exclusive = reverse = 0), accumulated in the output dtype. */
export function cumsum(x: KernelTensor, axis: number): KernelTensor {
  expectDType('cumsum', 'input', x, ['float32', 'int32']);
  const { outer, len, inner } = splitAtAxis(x.shape, normalizeAxis(axis, x.shape.length, 'cumsum'));
  const out = x.data.slice();
  for (let o = 0; o < outer; o++) {
    for (let k = 1; k < len; k++) {
      const row = (o * len + k) * inner;
      for (let i = 0; i < inner; i++) out[row + i] += out[row - inner + i]!;
    }
  }
  return { data: out, shape: [...x.shape] };
}

/** Constant padding (non-negative pads): `pads` = begins of every axis, then ends of every axis. */
export function pad(x: KernelTensor, pads: readonly number[], value: number): KernelTensor {
  const rank = x.shape.length;
  if (pads.length !== 2 * rank || pads.some((p) => !Number.isInteger(p) || p < 0)) {
    throw new RangeError(
      `pad: pads [${pads}] must be ${2 * rank} whole numbers >= 0 for shape ${shapeString(x.shape)}`,
    );
  }
  const shape = x.shape.map((d, i) => d + pads[i]! + pads[i + rank]!);
  const out = allocate(dtypeOf(x.data), sizeOf(shape));
  if (value !== 0) out.fill(value);
  const outStrides = stridesOf(shape);
  const base = pads.slice(0, rank).reduce((acc, p, i) => acc + p * outStrides[i]!, 0);
  const targets = stridedOffsets(x.shape, outStrides, base);
  for (let i = 0; i < targets.length; i++) out[targets[i]!] = x.data[i]!;
  return { data: out, shape };
}
