/** numpy.matmul (ONNX MatMul) on float32. */
import { broadcastShapes, shapeString, sizeOf, type Shape } from '../../tensor/shape.js';
import type { KernelTensor } from '../backend.js';
import { broadcastStrides, expectDType, stridedOffsets } from './common.js';
import { arithmetic } from './elementwise.js';
import { transpose } from './movement.js';

/**
 * A 1-D left operand is a row vector (1, K) and a 1-D right operand a column vector (K, 1); the added dim is
 * dropped from the result. Leading (batch) dims broadcast as numpy does. Each (M, K) @ (K, N) product runs i-k-j,
 * so the inner loop streams contiguous rows of B and of the output; sums accumulate in the float32 output.
 */
export function matmul(a: KernelTensor, b: KernelTensor): KernelTensor {
  expectDType('matmul', 'first input', a, ['float32']);
  expectDType('matmul', 'second input', b, ['float32']);
  if (a.shape.length === 0 || b.shape.length === 0) {
    throw new RangeError(
      `matmul: shapes ${shapeString(a.shape)} and ${shapeString(b.shape)}: scalars cannot be multiplied`,
    );
  }
  const aShape = a.shape.length === 1 ? [1, a.shape[0]!] : a.shape;
  const bShape = b.shape.length === 1 ? [b.shape[0]!, 1] : b.shape;
  const M = aShape[aShape.length - 2]!;
  const K = aShape[aShape.length - 1]!;
  const N = bShape[bShape.length - 1]!;
  if (bShape[bShape.length - 2] !== K) {
    throw new RangeError(
      `matmul: shapes ${shapeString(a.shape)} and ${shapeString(b.shape)} do not match: ` +
        `${K} columns against ${bShape[bShape.length - 2]} rows`,
    );
  }
  const aBatch = aShape.slice(0, -2);
  const bBatch = bShape.slice(0, -2);
  let batch: number[];
  try {
    batch = broadcastShapes(aBatch, bBatch, 'matmul');
  } catch {
    throw new RangeError(
      `matmul: batch dims of shapes ${shapeString(a.shape)} and ${shapeString(b.shape)} cannot be broadcast together`,
    );
  }
  // Offsets, in whole matrices, of each output batch's operands.
  const aMatrices = stridedOffsets(batch, broadcastStrides(aBatch, batch));
  const bMatrices = stridedOffsets(batch, broadcastStrides(bBatch, batch));
  const out = new Float32Array(sizeOf(batch) * M * N);
  const ad = a.data;
  const bd = b.data;
  for (let batchIndex = 0; batchIndex < aMatrices.length; batchIndex++) {
    const aBase = aMatrices[batchIndex]! * M * K;
    const bBase = bMatrices[batchIndex]! * K * N;
    const outBase = batchIndex * M * N;
    for (let i = 0; i < M; i++) {
      const outRow = outBase + i * N;
      for (let k = 0; k < K; k++) {
        const aik = ad[aBase + i * K + k]!;
        const bRow = bBase + k * N;
        for (let j = 0; j < N; j++) out[outRow + j] += aik * bd[bRow + j]!;
      }
    }
  }
  return { data: out, shape: resultShape(a.shape, b.shape, batch, M, N) };
}

function resultShape(aShape: Shape, bShape: Shape, batch: number[], M: number, N: number): number[] {
  const shape = [...batch];
  if (aShape.length > 1) shape.push(M);
  if (bShape.length > 1) shape.push(N);
  return shape;
}

/** Gemm: op(A) @ op(B) (+ C broadcast to the result), with 2-D A and B; composed from transpose and matmul. */
export function gemm(inputs: readonly KernelTensor[], transA: boolean, transB: boolean): KernelTensor {
  if (inputs.length < 2 || inputs.length > 3)
    throw new RangeError(`gemm: expected 2 or 3 inputs, got ${inputs.length}`);
  const [a, b, c] = inputs as [KernelTensor, KernelTensor, KernelTensor | undefined];
  if (a.shape.length !== 2 || b.shape.length !== 2) {
    throw new RangeError(`gemm: A and B must be 2-D, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  }
  const product = matmul(transA ? transpose(a, [1, 0]) : a, transB ? transpose(b, [1, 0]) : b);
  if (!c) return product;
  return arithmetic('gemm', product, c, { float: (x, y) => x + y });
}
