import type { DType, TypedArray } from '../tensor/dtype.js';
import type { Shape } from '../tensor/shape.js';

/** A buffer as the kernels see it: contiguous row-major data and its shape. */
export interface KernelTensor {
  readonly data: TypedArray;
  readonly shape: Shape;
}

/**
 * The primitive ops every backend implements (tinygrad-style: a small core; everything else in attn is composed
 * from these). Each has only static attributes, so each lowers to a fixed set of ONNX nodes, and a sequence of
 * them can be captured into one ONNX graph.
 */
export interface PrimitiveAttrs {
  // elementwise, one float input
  neg: Record<string, never>;
  abs: Record<string, never>;
  exp: Record<string, never>;
  log: Record<string, never>;
  sqrt: Record<string, never>;
  reciprocal: Record<string, never>;
  tanh: Record<string, never>;
  sigmoid: Record<string, never>;
  relu: Record<string, never>;
  erf: Record<string, never>;
  sin: Record<string, never>;
  cos: Record<string, never>;
  // elementwise, two inputs, broadcasting
  add: Record<string, never>;
  sub: Record<string, never>;
  mul: Record<string, never>;
  div: Record<string, never>;
  pow: Record<string, never>;
  maximum: Record<string, never>;
  minimum: Record<string, never>;
  equal: Record<string, never>;
  less: Record<string, never>;
  lessEqual: Record<string, never>;
  greater: Record<string, never>;
  greaterEqual: Record<string, never>;
  and: Record<string, never>;
  or: Record<string, never>;
  not: Record<string, never>;
  /** where(cond: bool, a, b), broadcasting all three. */
  where: Record<string, never>;
  cast: { to: DType };
  reduceSum: { axes: number[]; keepdims: boolean };
  reduceMax: { axes: number[]; keepdims: boolean };
  reduceMin: { axes: number[]; keepdims: boolean };
  /** int32 result. */
  argMax: { axis: number; keepdims: boolean };
  /** Batched, broadcasting over leading dims, as numpy.matmul. */
  matmul: Record<string, never>;
  /**
   * gemm(A, B[, C]) = op(A) @ op(B) + C for 2-D A and B, op transposing when asked, C broadcast to the (M, N)
   * result: a linear layer in one kernel, reading the (out, in) weight without copying it transposed.
   */
  gemm: { transA: boolean; transB: boolean };
  /** layerNorm(x, scale, bias) over the last axis, population variance (ONNX LayerNormalization). */
  layerNorm: { epsilon: number };
  /** GELU, exact (erf) or the tanh approximation, in one dispatch. */
  gelu: { approximate: 'none' | 'tanh' };
  transpose: { perm: number[] };
  /** Explicit starts/ends/steps for every axis (already normalized and clamped). */
  slice: { starts: number[]; ends: number[]; steps: number[] };
  concat: { axis: number };
  /** Constant padding: `pads` holds every axis's begin counts, then every axis's end counts (ONNX Pad). */
  pad: { pads: number[]; value: number };
  expand: { shape: number[] };
  /** gather(data, indices: int32) along axis, as numpy.take. */
  gather: { axis: number };
  /** gatherElements(data, indices: int32), as torch.gather. */
  gatherElements: { axis: number };
  /** scatterAdd(data, indices: int32, updates): data with updates added at indices along axis, as torch.scatter_add. */
  scatterAdd: { axis: number };
  softmax: { axis: number };
  logSoftmax: { axis: number };
  /** Keeps the upper (or lower) triangle of the last two dims, diagonal offset k. */
  trilu: { upper: boolean; k: number };
  cumsum: { axis: number };
  /**
   * x (…, K) times a quantized (N, K) weight, transposed: onnxruntime's integer kernels (layouts in
   * backends/reference/quantized.ts). Inputs x, q (int32 codes), scale[, bias (N)].
   */
  quantizedMatmul: { scheme: 'int8' | 'q4'; blockSize: number; inFeatures: number; outFeatures: number };
}

export type PrimitiveOp = keyof PrimitiveAttrs;

export interface Backend {
  readonly name: 'reference' | 'onnx';
  /** Runs one primitive; outputs are new buffers (inputs are never written). */
  run<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): KernelTensor;
  setNumThreads?(n: number): void;
}
