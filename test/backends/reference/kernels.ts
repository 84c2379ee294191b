/** Small builders shared by the reference-backend tests. */
import { expect } from 'vitest';
import type { KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../../../src/backends/backend.js';
import { referenceBackend } from '../../../src/backends/reference/index.js';

export const f32 = (values: number[], shape: number[] = [values.length]): KernelTensor => ({
  data: Float32Array.from(values),
  shape,
});
export const i32 = (values: number[], shape: number[] = [values.length]): KernelTensor => ({
  data: Int32Array.from(values),
  shape,
});
export const bool = (values: number[], shape: number[] = [values.length]): KernelTensor => ({
  data: Uint8Array.from(values),
  shape,
});

export function run<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): KernelTensor {
  return referenceBackend.run(op, inputs, attrs);
}

/** Asserts the dtype (by array class), shape and values, each value within `tolerance` (exact by default). */
export function expectTensor(actual: KernelTensor, expected: KernelTensor, tolerance = 0): void {
  expect(actual.data.constructor.name).toBe(expected.data.constructor.name);
  expect([...actual.shape]).toEqual([...expected.shape]);
  const got = Array.from(actual.data);
  const want = Array.from(expected.data);
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    if (tolerance === 0 || !Number.isFinite(want[i])) expect(got[i], `element ${i}`).toBe(want[i]);
    else expect(Math.abs(got[i]! - want[i]!), `element ${i}: ${got[i]} vs ${want[i]}`).toBeLessThanOrEqual(tolerance);
  }
}
