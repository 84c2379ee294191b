/**
 * Elementwise kernels: unary maps, broadcasting binary ops, comparisons, logic, where and cast.
 * Values are computed in double and rounded once on store, so float32 add/sub/mul/div/sqrt match IEEE float32
 * exactly; int32 results wrap modulo 2^32 on store, as C integer arithmetic does in onnxruntime.
 */
import { allocate, dtypeOf, isDType, type DType } from '../../tensor/dtype.js';
import { broadcastShapes, sizeOf } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import { broadcastOffsets, expectDType, expectSameDType } from './common.js';

type UnaryFn = (x: number) => number;
type BinaryFn = (a: number, b: number) => number;

const FLOAT: readonly DType[] = ['float32'];
const NUMERIC: readonly DType[] = ['float32', 'int32'];

export function unary(op: string, x: KernelTensor, fn: UnaryFn, allowed: readonly DType[] = FLOAT): KernelTensor {
  expectDType(op, 'input', x, allowed);
  const src = x.data;
  const out = allocate(dtypeOf(src), src.length);
  for (let i = 0; i < src.length; i++) out[i] = fn(src[i]!);
  return { data: out, shape: [...x.shape] };
}

/** Broadcasts a and b (numpy rules) and maps each pair through `fn` into a new tensor of dtype `outDType`. */
function broadcastMap(op: string, a: KernelTensor, b: KernelTensor, fn: BinaryFn, outDType: DType): KernelTensor {
  const shape = broadcastShapes(a.shape, b.shape, op);
  const aOffsets = broadcastOffsets(a, shape);
  const bOffsets = broadcastOffsets(b, shape);
  const ad = a.data;
  const bd = b.data;
  const out = allocate(outDType, sizeOf(shape));
  for (let i = 0; i < out.length; i++) out[i] = fn(ad[aOffsets ? aOffsets[i]! : i]!, bd[bOffsets ? bOffsets[i]! : i]!);
  return { data: out, shape };
}

/** An arithmetic op's scalar functions; `int` only where int32 needs other code than the float formula. */
export interface Arithmetic {
  float: BinaryFn;
  int?: BinaryFn;
}

/** add/sub/mul/div/pow/maximum/minimum: same-dtype float32 or int32 inputs, result of that dtype. */
export function arithmetic(op: string, a: KernelTensor, b: KernelTensor, fns: Arithmetic): KernelTensor {
  expectDType(op, 'inputs', a, NUMERIC);
  const dtype = expectSameDType(op, a, b);
  return broadcastMap(op, a, b, dtype === 'int32' ? (fns.int ?? fns.float) : fns.float, dtype);
}

/** Comparisons: same-dtype inputs (bool allowed only where `allowed` says), bool result. */
export function compare(op: string, a: KernelTensor, b: KernelTensor, fn: BinaryFn, allowed = NUMERIC): KernelTensor {
  expectDType(op, 'inputs', a, allowed);
  expectSameDType(op, a, b);
  return broadcastMap(op, a, b, fn, 'bool');
}

export function logical(op: string, a: KernelTensor, b: KernelTensor, fn: BinaryFn): KernelTensor {
  expectDType(op, 'first input', a, ['bool']);
  expectDType(op, 'second input', b, ['bool']);
  return broadcastMap(op, a, b, fn, 'bool');
}

/** where(cond, a, b): cond bool, a and b of one dtype, all three broadcast together. */
export function where(cond: KernelTensor, a: KernelTensor, b: KernelTensor): KernelTensor {
  expectDType('where', 'condition', cond, ['bool']);
  const dtype = expectSameDType('where', a, b);
  const shape = broadcastShapes(broadcastShapes(cond.shape, a.shape, 'where'), b.shape, 'where');
  const [cOffsets, aOffsets, bOffsets] = [cond, a, b].map((t) => broadcastOffsets(t, shape));
  const out = allocate(dtype, sizeOf(shape));
  for (let i = 0; i < out.length; i++) {
    out[i] = cond.data[cOffsets ? cOffsets[i]! : i]
      ? a.data[aOffsets ? aOffsets[i]! : i]!
      : b.data[bOffsets ? bOffsets[i]! : i]!;
  }
  return { data: out, shape };
}

/**
 * cast: to int32 truncates toward zero (NaN gives 0 and values beyond int32 wrap modulo 2^32, JS ToInt32 — ONNX
 * leaves both undefined); to bool is `x != 0` (so NaN is true, as C++'s static_cast<bool>).
 */
export function cast(x: KernelTensor, to: DType): KernelTensor {
  if (!isDType(to)) throw new TypeError(`cast: expected "to" to be float32, int32 or bool, got ${String(to)}`);
  const src = x.data;
  const out = allocate(to, src.length);
  if (to === 'bool') {
    for (let i = 0; i < src.length; i++) out[i] = src[i] !== 0 ? 1 : 0;
  } else {
    // Int32Array's store truncates toward zero; Float32Array's rounds to nearest.
    out.set(src);
  }
  return { data: out, shape: [...x.shape] };
}

/** int32 Div as in C: truncates toward zero. Dividing by zero is undefined behaviour there, an error here. */
export function truncatingDivide(a: number, b: number): number {
  if (b === 0) throw new RangeError(`div: int32 division by zero (${a} / 0)`);
  return Math.trunc(a / b);
}

/**
 * C's pow, which onnxruntime calls, differs from Math.pow in two cases: pow(1, y) is 1 for every y (NaN
 * included) and pow(-1, ±Infinity) is 1; Math.pow gives NaN for both.
 */
export function cPow(base: number, exponent: number): number {
  if (base === 1 || (base === -1 && (exponent === Infinity || exponent === -Infinity))) return 1;
  return Math.pow(base, exponent);
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/**
 * The error function to double precision (|error| < 1e-15). Below |x| = 2.5 the series
 * erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), whose terms are all positive (no cancellation).
 * Beyond, 1 − erfc(x) with erfc's continued fraction e^(−x²)/√π · 1/(x + ½/(x + 1/(x + (3/2)/(x + …)))),
 * 60 levels deep (converged to double precision from x = 2 on).
 */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    const x2 = x * x;
    let term = x;
    let sum = x;
    for (let n = 1; n < 100 && Math.abs(term) > Math.abs(sum) * 1e-17; n++) {
      term *= (2 * x2) / (2 * n + 1);
      sum += term;
    }
    return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
  }
  let fraction = ax;
  for (let n = 60; n >= 1; n--) fraction = ax + n / 2 / fraction;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / fraction;
  return Math.sign(x) * (1 - erfc);
}
