import { expect } from 'vitest';
import { Generator, randn, Tensor } from '../../src/tensor/index.js';

/** Seeded normal values of a shape. */
export function seeded(shape: number[], seed: number, std = 1): Tensor {
  return randn(shape, { std, generator: new Generator(seed) });
}

/** Every value of `actual` within `tol` of `expected` (same length), reporting the worst index. */
export function expectClose(
  actual: Tensor | ArrayLike<number>,
  expected: Tensor | ArrayLike<number>,
  tol = 1e-5,
): void {
  const a = actual instanceof Tensor ? actual.data : actual;
  const e = expected instanceof Tensor ? expected.data : expected;
  expect(a.length).toBe(e.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - e[i]!);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  expect(worst, `largest difference at index ${at}: ${a[at]} vs ${e[at]}`).toBeLessThanOrEqual(tol);
}

/** Rows [start, end) of axis 1 of a (B, T, C) tensor, as a flat array. */
export function timeSlice(t: Tensor, start: number, end: number): number[] {
  const [b, time, c] = t.shape as [number, number, number];
  const out: number[] = [];
  for (let i = 0; i < b; i++)
    for (let j = start; j < end; j++) for (let k = 0; k < c; k++) out.push(t.data[(i * time + j) * c + k]!);
  return out;
}
