import { describe, expect, it } from 'vitest';
import { expectTensor, f32, i32, run } from './kernels.js';

describe('reference matmul', () => {
  const a23 = f32([1, 2, 3, 4, 5, 6], [2, 3]);
  const b32 = f32([7, 8, 9, 10, 11, 12], [3, 2]);

  it('multiplies matrices', () => {
    expectTensor(run('matmul', [a23, b32], {}), f32([58, 64, 139, 154], [2, 2]));
  });

  it('treats 1-D operands as row / column vectors and drops the added dim', () => {
    expectTensor(run('matmul', [f32([1, 2, 3]), f32([4, 5, 6])], {}), f32([32], []));
    expectTensor(run('matmul', [f32([1, 2, 3]), b32], {}), f32([58, 64], [2]));
    expectTensor(run('matmul', [a23, f32([1, 0, -1])], {}), f32([-2, -2], [2]));
    // (3) @ (2, 3, 1) -> (2, 1): the vector against each batch's column
    expectTensor(run('matmul', [f32([1, 1, 1]), f32([1, 2, 3, 4, 5, 6], [2, 3, 1])], {}), f32([6, 15], [2, 1]));
  });

  it('broadcasts batch dims', () => {
    // (2, 1, 2, 2) @ (3, 2, 2) -> (2, 3, 2, 2): identity, then a row swap, against three matrices
    const a = f32([1, 0, 0, 1, 0, 1, 1, 0], [2, 1, 2, 2]);
    const b = f32([1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3], [3, 2, 2]);
    expectTensor(
      run('matmul', [a, b], {}),
      f32([1, 2, 3, 4, 5, 6, 7, 8, 0, 1, 2, 3, 3, 4, 1, 2, 7, 8, 5, 6, 2, 3, 0, 1], [2, 3, 2, 2]),
    );
    // A 2-D right operand is shared by every batch of the left one.
    expectTensor(
      run('matmul', [f32([1, 2, 3, 4, 5, 6, 1, 0, 0, 0, 1, 0], [2, 2, 3]), b32], {}),
      f32([58, 64, 139, 154, 7, 8, 9, 10], [2, 2, 2]),
    );
  });

  it('gives zeros for an empty inner dimension', () => {
    expectTensor(run('matmul', [f32([], [2, 0]), f32([], [0, 3])], {}), f32([0, 0, 0, 0, 0, 0], [2, 3]));
  });

  it('names both shapes when they do not fit', () => {
    expect(() => run('matmul', [a23, a23], {})).toThrow('matmul: shapes [2, 3] and [2, 3] do not match');
    expect(() =>
      run('matmul', [f32(new Array(12).fill(0), [2, 2, 3]), f32(new Array(18).fill(0), [3, 3, 2])], {}),
    ).toThrow('matmul: batch dims of shapes [2, 2, 3] and [3, 3, 2] cannot be broadcast together');
    expect(() => run('matmul', [i32([1]), i32([1])], {})).toThrow(
      'matmul: expected first input of dtype float32, got int32',
    );
  });
});
