import { describe, expect, it } from 'vitest';
import { bool, expectTensor, f32, i32, run } from './kernels.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

describe('reference transpose', () => {
  it('swaps the axes of a matrix', () => {
    expectTensor(
      run('transpose', [f32([1, 2, 3, 4, 5, 6], [2, 3])], { perm: [1, 0] }),
      f32([1, 4, 2, 5, 3, 6], [3, 2]),
    );
  });

  it('permutes three axes: out[k][i][j] = x[i][j][k]', () => {
    // x (2, 3, 4) holds its own flat index i*12 + j*4 + k
    const expected: number[] = [];
    for (let k = 0; k < 4; k++)
      for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) expected.push(i * 12 + j * 4 + k);
    expectTensor(run('transpose', [i32(range(24), [2, 3, 4])], { perm: [2, 0, 1] }), i32(expected, [4, 2, 3]));
  });

  it('rejects a perm that is not a permutation', () => {
    expect(() => run('transpose', [f32([1, 2], [1, 2])], { perm: [0, 0] })).toThrow(
      'transpose: perm [0, 0] is not a permutation of the axes of [1, 2]',
    );
  });
});

describe('reference slice', () => {
  const x = f32(range(6));
  const slice1d = (start: number, end: number, step: number) =>
    run('slice', [x], { starts: [start], ends: [end], steps: [step] });

  it('steps forward', () => {
    expectTensor(slice1d(1, 6, 2), f32([1, 3, 5]));
    expectTensor(slice1d(2, 4, 1), f32([2, 3]));
  });

  it('counts negative bounds from the end and clamps out-of-range ones, as ONNX', () => {
    expectTensor(slice1d(-2, 6, 1), f32([4, 5]));
    expectTensor(slice1d(1, -1, 1), f32([1, 2, 3, 4]));
    expectTensor(slice1d(-100, 100, 4), f32([0, 4]));
  });

  it('steps backward; an end at or below -dim - 1 runs through index 0', () => {
    expectTensor(slice1d(5, -7, -1), f32([5, 4, 3, 2, 1, 0]));
    expectTensor(slice1d(100, -100, -2), f32([5, 3, 1]));
    expectTensor(slice1d(4, 1, -1), f32([4, 3, 2]));
    // -1 is the last element, as start and as end
    expectTensor(slice1d(-1, -4, -1), f32([5, 4, 3]));
  });

  it('gives empty dims for empty ranges', () => {
    expectTensor(slice1d(2, 2, 1), f32([], [0]));
    expectTensor(slice1d(1, 3, -1), f32([], [0]));
    expectTensor(run('slice', [f32([], [0])], { starts: [0], ends: [-1], steps: [-1] }), f32([], [0]));
  });

  it('slices every axis at once', () => {
    // (3, 4): rows 0 and 2, columns 3 and 1
    const m = f32(range(12), [3, 4]);
    expectTensor(run('slice', [m], { starts: [0, 3], ends: [3, -5], steps: [2, -2] }), f32([3, 1, 11, 9], [2, 2]));
  });

  it('rejects zero steps and attributes missing an axis', () => {
    expect(() => slice1d(0, 6, 0)).toThrow('slice: step 0 on axis 0 must be a nonzero integer');
    expect(() => run('slice', [f32([1, 2], [1, 2])], { starts: [0], ends: [1], steps: [1] })).toThrow(
      'slice: starts [0], ends [1] and steps [1] need one entry per axis of [1, 2]',
    );
  });
});

describe('reference concat', () => {
  it('joins along any axis', () => {
    const a = f32([1, 2, 3, 4], [2, 2]);
    expectTensor(run('concat', [a, f32([5, 6], [2, 1])], { axis: 1 }), f32([1, 2, 5, 3, 4, 6], [2, 3]));
    expectTensor(run('concat', [a, f32([5, 6], [1, 2]), a], { axis: 0 }), f32([1, 2, 3, 4, 5, 6, 1, 2, 3, 4], [5, 2]));
    expectTensor(run('concat', [i32([1]), i32([], [0]), i32([2, 3])], { axis: -1 }), i32([1, 2, 3]));
  });

  it('names both shapes when they differ outside the axis', () => {
    expect(() => run('concat', [f32([1, 2, 3, 4], [2, 2]), f32([1, 2, 3], [3, 1])], { axis: 1 })).toThrow(
      'concat: shapes [2, 2] and [3, 1] differ outside axis 1',
    );
    expect(() => run('concat', [f32([1]), i32([1])], { axis: 0 })).toThrow(
      'concat: expected both inputs of the same dtype',
    );
  });
});

describe('reference expand', () => {
  it('broadcasts to a larger shape', () => {
    // (3, 1) -> (2, 3, 4): out[b][i][j] = x[i]
    const expected: number[] = [];
    for (let b = 0; b < 2; b++) for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) expected.push(i + 1);
    expectTensor(run('expand', [f32([1, 2, 3], [3, 1])], { shape: [2, 3, 4] }), f32(expected, [2, 3, 4]));
  });

  it('broadcasts both ways, as ONNX Expand', () => {
    expectTensor(run('expand', [f32([1, 2, 3])], { shape: [1] }), f32([1, 2, 3]));
    expectTensor(run('expand', [bool([1], [1, 1])], { shape: [2] }), bool([1, 1], [1, 2]));
    expect(() => run('expand', [f32([1, 2, 3, 4, 5, 6], [2, 3])], { shape: [4, 3] })).toThrow(
      'expand: shapes [2, 3] and [4, 3] cannot be broadcast together',
    );
  });
});

describe('reference gather', () => {
  const table = f32([0, 1, 10, 11, 20, 21, 30, 31], [4, 2]);

  it('looks up rows (embedding), negative indices from the end', () => {
    expectTensor(
      run('gather', [table, i32([3, 0, 1, -1], [2, 2])], { axis: 0 }),
      f32([30, 31, 0, 1, 10, 11, 30, 31], [2, 2, 2]),
    );
    expectTensor(run('gather', [table, i32([1], [])], { axis: 0 }), f32([10, 11], [2]));
  });

  it('takes along an inner axis', () => {
    expectTensor(run('gather', [f32([1, 2, 3, 4, 5, 6], [2, 3]), i32([2, 0])], { axis: 1 }), f32([3, 1, 6, 4], [2, 2]));
  });

  it('rejects out-of-range and non-int32 indices', () => {
    expect(() => run('gather', [table, i32([4])], { axis: 0 })).toThrow(
      'gather: index 4 is out of range for an axis of size 4',
    );
    expect(() => run('gather', [table, i32([-5])], { axis: 0 })).toThrow('gather: index -5 is out of range');
    expect(() => run('gather', [table, f32([1])], { axis: 0 })).toThrow(
      'gather: expected indices of dtype int32, got float32',
    );
  });
});

describe('reference gatherElements', () => {
  const data = f32([1, 2, 3, 4], [2, 2]);

  it('picks one element per index, as torch.gather', () => {
    expectTensor(run('gatherElements', [data, i32([0, 0, 1, 0], [2, 2])], { axis: 1 }), f32([1, 1, 4, 3], [2, 2]));
    // axis 0: out[i][j] = data[index[i][j]][j]; -1 is the last row
    expectTensor(run('gatherElements', [data, i32([1, 0, 0, -1], [2, 2])], { axis: 0 }), f32([3, 2, 1, 4], [2, 2]));
  });

  it('allows indices smaller than data outside the axis', () => {
    const d33 = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);
    expectTensor(run('gatherElements', [d33, i32([2, 0], [2, 1])], { axis: 1 }), f32([3, 4], [2, 1]));
  });

  it('rejects indices of another rank or out of range', () => {
    expect(() => run('gatherElements', [data, i32([0, 1])], { axis: 0 })).toThrow(
      'gatherElements: indices shape [2] must have the rank of data shape [2, 2]',
    );
    expect(() => run('gatherElements', [data, i32([0, 2], [1, 2])], { axis: 1 })).toThrow(
      'gatherElements: index 2 is out of range for an axis of size 2',
    );
  });
});

describe('reference scatterAdd', () => {
  it('adds updates at their indices; repeated indices add up', () => {
    const data = f32([1, 2, 3, 4]);
    expectTensor(run('scatterAdd', [data, i32([0, 0, 3]), f32([10, 20, 30])], { axis: 0 }), f32([31, 2, 3, 34]));
    expectTensor(data, f32([1, 2, 3, 4]));
  });

  it('scatters along axis 0 of a matrix: out[index[i][j]][j] += updates[i][j]', () => {
    const out = run(
      'scatterAdd',
      [f32([0, 0, 0, 0, 0, 0], [2, 3]), i32([0, 1, 0, 1, 0, 0], [2, 3]), f32([1, 2, 3, 4, 5, 6], [2, 3])],
      { axis: 0 },
    );
    expectTensor(out, f32([1, 5, 9, 4, 2, 0], [2, 3]));
    expectTensor(run('scatterAdd', [i32([1, 1]), i32([-1]), i32([5])], { axis: 0 }), i32([1, 6]));
  });

  it('wants indices and updates of one shape', () => {
    expect(() => run('scatterAdd', [f32([1, 2]), i32([0]), f32([1, 2])], { axis: 0 })).toThrow(
      'scatterAdd: indices shape [1] and updates shape [2] must be equal',
    );
  });
});

describe('reference trilu', () => {
  const m = f32([1, 2, 3, 4, 5, 6, 7, 8, 9], [3, 3]);

  it('keeps the upper or lower triangle with a diagonal offset', () => {
    expectTensor(run('trilu', [m], { upper: true, k: 0 }), f32([1, 2, 3, 0, 5, 6, 0, 0, 9], [3, 3]));
    expectTensor(run('trilu', [m], { upper: false, k: 0 }), f32([1, 0, 0, 4, 5, 0, 7, 8, 9], [3, 3]));
    expectTensor(run('trilu', [m], { upper: true, k: 1 }), f32([0, 2, 3, 0, 0, 6, 0, 0, 0], [3, 3]));
    expectTensor(run('trilu', [m], { upper: false, k: -1 }), f32([0, 0, 0, 4, 0, 0, 7, 8, 0], [3, 3]));
  });

  it('handles non-square matrices, batches and bool masks', () => {
    expectTensor(run('trilu', [f32(range(8), [2, 4])], { upper: true, k: 0 }), f32([0, 1, 2, 3, 0, 5, 6, 7], [2, 4]));
    expectTensor(
      run('trilu', [bool([1, 1, 1, 1, 1, 1, 1, 1], [2, 2, 2])], { upper: false, k: 0 }),
      bool([1, 0, 1, 1, 1, 0, 1, 1], [2, 2, 2]),
    );
    expect(() => run('trilu', [f32([1, 2])], { upper: true, k: 0 })).toThrow(
      'trilu: expected at least 2 dims, got shape [2]',
    );
  });
});

describe('reference cumsum', () => {
  it('sums inclusively along an axis', () => {
    const m = f32([1, 2, 3, 4, 5, 6], [2, 3]);
    expectTensor(run('cumsum', [m], { axis: 1 }), f32([1, 3, 6, 4, 9, 15], [2, 3]));
    expectTensor(run('cumsum', [m], { axis: 0 }), f32([1, 2, 3, 5, 7, 9], [2, 3]));
    expectTensor(run('cumsum', [i32([3, -1, 4])], { axis: 0 }), i32([3, 2, 6]));
  });
});

describe('reference backend dispatch', () => {
  it('checks the number of inputs', () => {
    expect(() => run('add', [f32([1])], {})).toThrow('add: expected 2 inputs, got 1');
    expect(() => run('cast', [f32([1])], { to: 'float64' as never })).toThrow(
      'cast: expected "to" to be float32, int32 or bool',
    );
  });
});
