/**
 * quantizedMatmul: y = x · Wᵀ (+ bias) with W (N, K) held as integer codes and float scales, in the layouts
 * onnxruntime's com.microsoft kernels read, so the onnx lowering passes the same buffers straight through:
 *
 *   int8  q (N, K) in [-127, 127], scale (N): W[n, k] = q[n, k] · scale[n] (symmetric, one scale per output column).
 *         x is quantized dynamically, the whole tensor at once, to uint8 with a zero point, exactly as
 *         DynamicQuantizeMatMul does (DynamicQuantizeLinear's rounding), then multiplied in integers: the reference
 *         reproduces the kernel's result, not the float product it approximates.
 *   q4    q (N, K/blockSize, blockSize/2) bytes, each holding two 4-bit codes (low nibble first), scale
 *         (N, K/blockSize): W[n, k] = (code − 8) · scale[n, k / blockSize] (MatMulNBits with its default zero
 *         point 8). x stays float (weight-only quantization).
 */
import { shapeString } from '../../tensor/shape.js';
import type { KernelTensor, PrimitiveAttrs } from '../backend.js';
import { expectDType } from './common.js';

const fround = Math.fround;

/** Round half to even, as nearbyint in the default rounding mode. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** DynamicQuantizeLinear's uint8 codes, scale and zero point for `x` (all of it). */
export function dynamicQuantize(x: Float32Array): { codes: Uint8Array; scale: number; zeroPoint: number } {
  let min = 0;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    if (x[i]! < min) min = x[i]!;
    if (x[i]! > max) max = x[i]!;
  }
  const scale = max === min ? 1 : fround((max - min) / 255);
  const zeroPoint = roundHalfEven(Math.max(0, Math.min(255, fround(0 - fround(min / scale)))));
  const codes = new Uint8Array(x.length);
  for (let i = 0; i < x.length; i++)
    codes[i] = Math.max(0, Math.min(255, roundHalfEven(fround(x[i]! / scale)) + zeroPoint));
  return { codes, scale, zeroPoint };
}

function int8Product(
  x: Float32Array,
  q: Int32Array,
  scale: Float32Array,
  rows: number,
  K: number,
  N: number,
): Float32Array {
  const { codes, scale: xScale, zeroPoint } = dynamicQuantize(x);
  const out = new Float32Array(rows * N);
  for (let n = 0; n < N; n++) {
    const multiplier = fround(xScale * scale[n]!);
    for (let m = 0; m < rows; m++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += (codes[m * K + k]! - zeroPoint) * q[n * K + k]!;
      out[m * N + n] = fround(acc * multiplier);
    }
  }
  return out;
}

/** The float (N, K) weight a q4 layout holds. */
export function dequantizeQ4(
  q: Int32Array,
  scale: Float32Array,
  K: number,
  N: number,
  blockSize: number,
): Float32Array {
  const w = new Float32Array(N * K);
  const blocks = K / blockSize;
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const byte = q[(n * K + k) >> 1]!;
      const code = k % 2 === 0 ? byte & 0x0f : byte >> 4;
      w[n * K + k] = (code - 8) * scale[n * blocks + Math.floor(k / blockSize)]!;
    }
  }
  return w;
}

function floatProduct(x: Float32Array, w: Float32Array, rows: number, K: number, N: number): Float32Array {
  const out = new Float32Array(rows * N);
  for (let m = 0; m < rows; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k]! * w[n * K + k]!;
      out[m * N + n] = acc;
    }
  }
  return out;
}

export function quantizedMatmul(inputs: KernelTensor[], attrs: PrimitiveAttrs['quantizedMatmul']): KernelTensor {
  const [x, q, scale, bias] = inputs;
  if (!x || !q || !scale || inputs.length > 4)
    throw new RangeError(`quantizedMatmul: expects x, q, scale[, bias], got ${inputs.length} inputs`);
  expectDType('quantizedMatmul', 'input', x, ['float32']);
  expectDType('quantizedMatmul', 'codes', q, ['int32']);
  expectDType('quantizedMatmul', 'scale', scale, ['float32']);
  const { inFeatures: K, outFeatures: N, scheme, blockSize } = attrs;
  if (x.shape[x.shape.length - 1] !== K) {
    throw new RangeError(
      `quantizedMatmul: input ${shapeString(x.shape)} does not end in the weight's ${K} input features`,
    );
  }
  const expectedCodes = scheme === 'int8' ? N * K : (N * K) / 2;
  if (q.data.length !== expectedCodes) {
    throw new RangeError(`quantizedMatmul: ${scheme} codes ${shapeString(q.shape)} do not hold a (${N}, ${K}) weight`);
  }
  const rows = x.data.length / K;
  const xs = x.data as Float32Array;
  const codes = q.data as Int32Array;
  const scales = scale.data as Float32Array;
  const out =
    scheme === 'int8'
      ? int8Product(xs, codes, scales, rows, K, N)
      : floatProduct(xs, dequantizeQ4(codes, scales, K, N, blockSize), rows, K, N);
  if (bias) {
    const b = bias.data as Float32Array;
    for (let i = 0; i < out.length; i++) out[i] = fround(out[i]! + b[i % N]!);
  }
  return { data: out, shape: [...x.shape.slice(0, -1), N] };
}
