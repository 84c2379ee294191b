import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect } from 'vitest';
import { Tensor } from '../../src/tensor/tensor.js';
import { projectRoot } from '../../src/util/paths.js';

/**
 * A file or folder of the Hugging Face goldens vendored in test/fixtures/golden (a checked copy of ../shared/golden
 * without the Llama-2 tokenizer; see its README), e.g. goldenPath('bert', 'model'), goldenPath('tokenizers', 'gpt2').
 */
export function goldenPath(...parts: string[]): string {
  return resolve(projectRoot, 'test', 'fixtures', 'golden', ...parts);
}

/** One golden array from <case>/expected.json (values rounded to 6 significant digits). */
export interface GoldenArray {
  shape: number[];
  data: number[];
}

export type Json = Record<string, any>;

export function goldenCase(name: string): { dir: string; inputs: Json; expected: Json } {
  const dir = goldenPath(name);
  return {
    dir: `${dir}/model`,
    inputs: JSON.parse(readFileSync(`${dir}/inputs.json`, 'utf8')),
    expected: JSON.parse(readFileSync(`${dir}/expected.json`, 'utf8')),
  };
}

/** An int32 tensor from nested id lists. */
export function ids(rows: number[][] | number[]): Tensor {
  const nested = rows as unknown[];
  const shape = Array.isArray(nested[0]) ? [nested.length, (nested[0] as number[]).length] : [nested.length];
  return Tensor.from((rows as number[][]).flat(), shape, 'int32');
}

/** Max |actual - expected| with the shapes checked; the golden data are rounded to 6 significant digits. */
export function maxAbsDiff(actual: Tensor, golden: GoldenArray): number {
  expect([...actual.shape]).toEqual(golden.shape);
  let worst = 0;
  const data = actual.data;
  for (let i = 0; i < golden.data.length; i++) worst = Math.max(worst, Math.abs(data[i]! - golden.data[i]!));
  return worst;
}

export function expectClose(actual: Tensor, golden: GoldenArray, atol = 1e-4): void {
  expect(maxAbsDiff(actual, golden)).toBeLessThan(atol);
}

/** |a - b| / max(|b|, tiny) over all entries, worst case, for gradient goldens. */
export function expectRelClose(actual: Tensor, golden: GoldenArray, rtol = 1e-4, atol = 1e-6): void {
  expect([...actual.shape]).toEqual(golden.shape);
  const data = actual.data;
  for (let i = 0; i < golden.data.length; i++) {
    const want = golden.data[i]!;
    const diff = Math.abs(data[i]! - want);
    if (diff > atol + rtol * Math.abs(want)) {
      throw new Error(`entry ${i}: got ${data[i]}, expected ${want} (diff ${diff})`);
    }
  }
}
