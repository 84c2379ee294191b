import { describe, expect, it } from 'vitest';
import { bool, expectTensor, f32, i32, run } from './kernels.js';

describe('reference reductions', () => {
  const x = f32([1, 2, 3, 4, 5, 6], [2, 3]);

  it('sums over chosen axes, with and without kept dims', () => {
    expectTensor(run('reduceSum', [x], { axes: [1], keepdims: false }), f32([6, 15], [2]));
    expectTensor(run('reduceSum', [x], { axes: [1], keepdims: true }), f32([6, 15], [2, 1]));
    expectTensor(run('reduceSum', [x], { axes: [0], keepdims: false }), f32([5, 7, 9], [3]));
    expectTensor(run('reduceSum', [x], { axes: [0, 1], keepdims: false }), f32([21], []));
    // (2, 2, 2) over axes 0 and 2 -> (2)
    expectTensor(
      run('reduceSum', [f32([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2])], { axes: [0, 2], keepdims: false }),
      f32([14, 22], [2]),
    );
  });

  it('reduces every axis when axes is empty', () => {
    expectTensor(run('reduceSum', [x], { axes: [], keepdims: false }), f32([21], []));
    expectTensor(run('reduceMax', [x], { axes: [], keepdims: true }), f32([6], [1, 1]));
  });

  it('takes max and min, propagating NaN', () => {
    const y = f32([3, -1, 7, -5, 2, NaN], [2, 3]);
    expectTensor(run('reduceMax', [y], { axes: [1], keepdims: false }), f32([7, NaN]));
    expectTensor(run('reduceMin', [y], { axes: [0], keepdims: false }), f32([-5, -1, NaN]));
    expectTensor(run('reduceMin', [i32([4, -2, 9])], { axes: [0], keepdims: false }), i32([-2], []));
    expectTensor(run('reduceSum', [i32([4, -2, 9])], { axes: [0], keepdims: false }), i32([11], []));
  });

  it('gives the identity over an empty set', () => {
    const empty = f32([], [0, 2]);
    expectTensor(run('reduceSum', [empty], { axes: [0], keepdims: false }), f32([0, 0]));
    expectTensor(run('reduceMax', [empty], { axes: [0], keepdims: false }), f32([-Infinity, -Infinity]));
    expectTensor(run('reduceMin', [i32([], [0])], { axes: [0], keepdims: false }), i32([2147483647], []));
  });

  it('rejects repeated axes and bool input', () => {
    expect(() => run('reduceSum', [x], { axes: [1, 1], keepdims: false })).toThrow('reduceSum: axis 1 is listed twice');
    expect(() => run('reduceSum', [x], { axes: [2], keepdims: false })).toThrow('reduceSum: axis 2 is out of range');
    expect(() => run('reduceMax', [bool([1])], { axes: [], keepdims: false })).toThrow(
      'reduceMax: expected input of dtype float32 or int32, got bool',
    );
  });
});

describe('reference argMax', () => {
  it('returns the first index on ties, as int32', () => {
    expectTensor(run('argMax', [f32([1, 3, 3, 2])], { axis: 0, keepdims: false }), i32([1], []));
    const m = f32([1, 5, 2, 4, 5, 0], [2, 3]);
    expectTensor(run('argMax', [m], { axis: 0, keepdims: false }), i32([1, 0, 0], [3]));
    expectTensor(run('argMax', [m], { axis: 1, keepdims: true }), i32([1, 1], [2, 1]));
    expectTensor(run('argMax', [m], { axis: -1, keepdims: false }), i32([1, 1], [2]));
    expectTensor(run('argMax', [i32([-4, -2, -2])], { axis: 0, keepdims: false }), i32([1], []));
  });

  it('treats the first NaN as the largest value', () => {
    expectTensor(run('argMax', [f32([1, NaN, 5, NaN])], { axis: 0, keepdims: false }), i32([1], []));
  });

  it('refuses an empty axis', () => {
    expect(() => run('argMax', [f32([], [2, 0])], { axis: 1, keepdims: false })).toThrow(
      'argMax: axis 1 of shape [2, 0] is empty',
    );
  });
});
