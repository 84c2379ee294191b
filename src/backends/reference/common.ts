/** Layout and validation helpers shared by the reference kernels. */
import { allocate, dtypeOf, type DType } from '../../tensor/dtype.js';
import { sizeOf, stridesOf, type Shape } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';

/**
 * The flat offset, `base + Σ index[d] * strides[d]`, of every element of `shape` taken in row-major order.
 * Strides of 0 repeat an element (broadcasting), permuted strides transpose, scaled strides step (slices):
 * every movement kernel is "read the input at these offsets".
 */
export function stridedOffsets(shape: Shape, strides: readonly number[], base = 0): Int32Array {
  const total = sizeOf(shape);
  const offsets = new Int32Array(total);
  const rank = shape.length;
  if (total === 0) return offsets;
  if (rank === 0) {
    offsets[0] = base;
    return offsets;
  }
  const innerSize = shape[rank - 1]!;
  const innerStride = strides[rank - 1]!;
  const index = new Array<number>(rank - 1).fill(0);
  let offset = base;
  for (let start = 0; start < total; start += innerSize) {
    for (let j = 0; j < innerSize; j++) offsets[start + j] = offset + j * innerStride;
    // Odometer over the outer dims: bump the last one, carry into earlier ones.
    for (let d = rank - 2; d >= 0; d--) {
      index[d]!++;
      offset += strides[d]!;
      if (index[d]! < shape[d]!) break;
      offset -= index[d]! * strides[d]!;
      index[d] = 0;
    }
  }
  return offsets;
}

/** Strides that read `inShape` broadcast (right-aligned, numpy rules) to `outShape`: 0 along repeated dims. */
export function broadcastStrides(inShape: Shape, outShape: Shape): number[] {
  const inStrides = stridesOf(inShape);
  const lead = outShape.length - inShape.length;
  return outShape.map((_, d) => {
    const i = d - lead;
    return i < 0 || inShape[i] === 1 ? 0 : inStrides[i]!;
  });
}

/**
 * Offsets reading `input` broadcast to `outShape`, or null where no re-indexing is needed: broadcasting only adds
 * or repeats dims, so an input as large as the output is already laid out like it.
 */
export function broadcastOffsets(input: KernelTensor, outShape: Shape): Int32Array | null {
  if (input.data.length === sizeOf(outShape)) return null;
  return stridedOffsets(outShape, broadcastStrides(input.shape, outShape));
}

/** A new tensor of `input`'s dtype holding input.data[offsets[i]] at position i. */
export function gatherOffsets(input: KernelTensor, offsets: Int32Array, shape: Shape): KernelTensor {
  const out = allocate(dtypeOf(input.data), offsets.length);
  const src = input.data;
  for (let i = 0; i < offsets.length; i++) out[i] = src[offsets[i]!]!;
  return { data: out, shape };
}

/** Splits `shape` around `axis` into (outer, len, inner): element (o, a, i) sits at (o * len + a) * inner + i. */
export function splitAtAxis(shape: Shape, axis: number): { outer: number; len: number; inner: number } {
  return { outer: sizeOf(shape.slice(0, axis)), len: shape[axis] ?? 1, inner: sizeOf(shape.slice(axis + 1)) };
}

export function expectArity(op: string, inputs: readonly KernelTensor[], count: number): void {
  if (inputs.length !== count) {
    throw new TypeError(`${op}: expected ${count} input${count === 1 ? '' : 's'}, got ${inputs.length}`);
  }
}

/** Throws unless `t` has one of `allowed` dtypes, naming the op, the role of the input and what was expected. */
export function expectDType(op: string, role: string, t: KernelTensor, allowed: readonly DType[]): DType {
  const dtype = dtypeOf(t.data);
  if (!allowed.includes(dtype)) {
    throw new TypeError(`${op}: expected ${role} of dtype ${allowed.join(' or ')}, got ${dtype}`);
  }
  return dtype;
}

/** Throws unless `a` and `b` share a dtype (ONNX ops never promote); returns it. */
export function expectSameDType(op: string, a: KernelTensor, b: KernelTensor): DType {
  const da = dtypeOf(a.data);
  const db = dtypeOf(b.data);
  if (da !== db) throw new TypeError(`${op}: expected both inputs of the same dtype, got ${da} and ${db}`);
  return da;
}

/** An index along a dim of size `dim`, negative counting from the end (numpy / ONNX); out of range throws. */
export function resolveIndex(op: string, index: number, dim: number): number {
  const resolved = index < 0 ? index + dim : index;
  if (resolved < 0 || resolved >= dim) {
    throw new RangeError(`${op}: index ${index} is out of range for an axis of size ${dim}`);
  }
  return resolved;
}
