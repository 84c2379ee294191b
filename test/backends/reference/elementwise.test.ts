import { describe, expect, it } from 'vitest';
import { erf } from '../../../src/backends/reference/elementwise.js';
import { bool, expectTensor, f32, i32, run } from './kernels.js';

describe('reference unary kernels', () => {
  it('maps float32 values through Math functions', () => {
    const x = f32([-1, 0, 2]);
    expectTensor(run('neg', [x], {}), f32([1, -0, -2]));
    expectTensor(run('abs', [x], {}), f32([1, 0, 2]));
    expectTensor(run('relu', [x], {}), f32([0, 0, 2]));
    expectTensor(run('exp', [x], {}), f32([0.36787944, 1, 7.3890561]), 1e-6);
    expectTensor(run('tanh', [x], {}), f32([-0.76159416, 0, 0.96402758]), 1e-7);
    expectTensor(run('sigmoid', [x], {}), f32([0.26894142, 0.5, 0.88079708]), 1e-7);
    expectTensor(run('sin', [x], {}), f32([-0.84147098, 0, 0.90929743]), 1e-7);
    expectTensor(run('cos', [x], {}), f32([0.54030231, 1, -0.41614684]), 1e-7);
    expectTensor(run('log', [f32([1, Math.E, 0, -1])], {}), f32([0, 1, -Infinity, NaN]), 1e-7);
    expectTensor(run('sqrt', [f32([4, 2.25, -1])], {}), f32([2, 1.5, NaN]));
    expectTensor(run('reciprocal', [f32([4, -0.5, 0])], {}), f32([0.25, -2, Infinity]));
  });

  it('keeps int32 for neg, abs and relu, and rejects it for float-only ops', () => {
    expectTensor(run('neg', [i32([3, -4])], {}), i32([-3, 4]));
    expectTensor(run('abs', [i32([3, -4])], {}), i32([3, 4]));
    expectTensor(run('relu', [i32([3, -4])], {}), i32([3, 0]));
    expect(() => run('exp', [i32([1])], {})).toThrow('exp: expected input of dtype float32, got int32');
  });

  it('erf is accurate to double precision on both sides of the series / continued-fraction switch', () => {
    const known: [number, number][] = [
      [0.1, 0.1124629160182849],
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [1.5, 0.9661051464753108],
      [2, 0.9953222650189527],
      [2.5, 0.999593047982555],
      [3, 0.9999779095030014],
      [3.5, 0.9999992569016276],
      [4, 0.9999999845827421],
      [5, 0.9999999999984626],
    ];
    for (const [x, value] of known) {
      expect(Math.abs(erf(x) - value), `erf(${x})`).toBeLessThan(1e-15);
      expect(Math.abs(erf(-x) + value), `erf(${-x})`).toBeLessThan(1e-15);
    }
    // Continuous across the switch at 2.5: erf(2.5 - h) = erf(2.5) - h·erf'(2.5) up to h² terms (~1e-16).
    const h = 1e-7;
    const slope = (2 / Math.sqrt(Math.PI)) * Math.exp(-6.25);
    expect(Math.abs(erf(2.5 - h) - (erf(2.5) - h * slope))).toBeLessThan(1e-15);
    expect(erf(0)).toBe(0);
    expect(erf(Infinity)).toBe(1);
    expect(erf(-Infinity)).toBe(-1);
    expect(erf(NaN)).toBeNaN();
    expectTensor(run('erf', [f32([0.5, -1])], {}), f32([0.5204998778130465, -0.8427007929497149]));
  });
});

describe('reference binary kernels', () => {
  it('broadcasts a row against a column', () => {
    // (3) + (2, 1) -> (2, 3)
    expectTensor(run('add', [f32([1, 2, 3]), f32([10, 20], [2, 1])], {}), f32([11, 12, 13, 21, 22, 23], [2, 3]));
  });

  it('broadcasts scalars, middle dims and empty dims', () => {
    expectTensor(run('mul', [f32([2], []), f32([1, 2, 3, 4], [2, 2])], {}), f32([2, 4, 6, 8], [2, 2]));
    // (2, 1, 2) - (3, 1) -> (2, 3, 2)
    const a = f32([1, 2, 3, 4], [2, 1, 2]);
    const b = f32([0, 10, 20], [3, 1]);
    expectTensor(run('sub', [a, b], {}), f32([1, 2, -9, -8, -19, -18, 3, 4, -7, -6, -17, -16], [2, 3, 2]));
    expectTensor(run('add', [f32([], [0, 3]), f32([1, 2, 3], [1, 3])], {}), f32([], [0, 3]));
    expectTensor(run('add', [f32([5], [1, 1]), f32([1, 2], [2])], {}), f32([6, 7], [1, 2]));
  });

  it('names the op and both shapes when shapes do not broadcast', () => {
    expect(() => run('add', [f32([1, 2, 3, 4, 5, 6], [2, 3]), f32([1, 2, 3, 4, 5, 6], [3, 2])], {})).toThrow(
      'add: shapes [2, 3] and [3, 2] cannot be broadcast together',
    );
  });

  it('follows IEEE float32 for div and C pow', () => {
    expectTensor(run('div', [f32([1, -1, 0, 7]), f32([0, 0, 0, 2])], {}), f32([Infinity, -Infinity, NaN, 3.5]));
    expectTensor(
      run('pow', [f32([2, 4, 9, -8, 1, -1]), f32([3, 0.5, -0.5, 1 / 3, NaN, Infinity])], {}),
      f32([8, 2, 1 / 3, NaN, 1, 1]),
    );
  });

  it('propagates NaN through maximum and minimum', () => {
    expectTensor(run('maximum', [f32([1, 5, NaN]), f32([3, 2, 0])], {}), f32([3, 5, NaN]));
    expectTensor(run('minimum', [f32([1, 5, NaN]), f32([3, 2, 0])], {}), f32([1, 2, NaN]));
  });

  it('keeps int32 arithmetic in int32: truncating division, wrapping products', () => {
    expectTensor(run('add', [i32([1, 2]), i32([3], [1])], {}), i32([4, 5]));
    expectTensor(run('div', [i32([7, -7, 7, -7, 1]), i32([2, 2, -2, -2, 3])], {}), i32([3, -3, -3, 3, 0]));
    expectTensor(run('mul', [i32([65536, 46341]), i32([65536, 46341])], {}), i32([0, -2147479015]));
    expectTensor(run('add', [i32([2147483647]), i32([1])], {}), i32([-2147483648]));
    expectTensor(run('maximum', [i32([1, 5]), i32([3, 2])], {}), i32([3, 5]));
    expect(() => run('div', [i32([1]), i32([0])], {})).toThrow('div: int32 division by zero');
  });

  it('rejects mixed and bool dtypes', () => {
    expect(() => run('add', [f32([1]), i32([1])], {})).toThrow(
      'add: expected both inputs of the same dtype, got float32 and int32',
    );
    expect(() => run('add', [bool([1]), bool([1])], {})).toThrow(
      'add: expected inputs of dtype float32 or int32, got bool',
    );
  });
});

describe('reference comparison and logic kernels', () => {
  it('compares with broadcasting into bool', () => {
    const a = f32([1, 2, 3]);
    const b = f32([2], [1]);
    expectTensor(run('equal', [a, b], {}), bool([0, 1, 0]));
    expectTensor(run('less', [a, b], {}), bool([1, 0, 0]));
    expectTensor(run('lessEqual', [a, b], {}), bool([1, 1, 0]));
    expectTensor(run('greater', [a, b], {}), bool([0, 0, 1]));
    expectTensor(run('greaterEqual', [a, b], {}), bool([0, 1, 1]));
    expectTensor(run('equal', [f32([NaN]), f32([NaN])], {}), bool([0]));
    expectTensor(run('less', [i32([1, 5]), i32([3, 3])], {}), bool([1, 0]));
    expectTensor(run('equal', [bool([0, 1]), bool([1, 1])], {}), bool([0, 1]));
    expect(() => run('less', [bool([0]), bool([1])], {})).toThrow(
      'less: expected inputs of dtype float32 or int32, got bool',
    );
  });

  it('combines bool masks', () => {
    const a = bool([0, 0, 1, 1]);
    const b = bool([0, 1, 0, 1]);
    expectTensor(run('and', [a, b], {}), bool([0, 0, 0, 1]));
    expectTensor(run('or', [a, b], {}), bool([0, 1, 1, 1]));
    expectTensor(run('not', [a], {}), bool([1, 1, 0, 0]));
    expect(() => run('and', [a, f32([1, 1, 1, 1])], {})).toThrow(
      'and: expected second input of dtype bool, got float32',
    );
  });

  it('where broadcasts condition, then and else together', () => {
    // cond (2, 1), a (3), b scalar -> (2, 3)
    const out = run('where', [bool([1, 0], [2, 1]), f32([1, 2, 3]), f32([-1], [])], {});
    expectTensor(out, f32([1, 2, 3, -1, -1, -1], [2, 3]));
    expectTensor(run('where', [bool([1, 0]), i32([7, 8]), i32([9, 10])], {}), i32([7, 10]));
    expect(() => run('where', [f32([1]), f32([1]), f32([1])], {})).toThrow(
      'where: expected condition of dtype bool, got float32',
    );
  });
});

describe('reference cast', () => {
  it('truncates floats toward zero into int32', () => {
    expectTensor(run('cast', [f32([1.7, -1.7, 2.5, -0.5, NaN])], { to: 'int32' }), i32([1, -1, 2, 0, 0]));
  });

  it('maps nonzero to true (NaN included) and back to 0/1', () => {
    expectTensor(run('cast', [f32([0, -0, 0.5, NaN, -3])], { to: 'bool' }), bool([0, 0, 1, 1, 1]));
    expectTensor(run('cast', [i32([0, 4])], { to: 'bool' }), bool([0, 1]));
    expectTensor(run('cast', [bool([0, 1])], { to: 'float32' }), f32([0, 1]));
    expectTensor(run('cast', [i32([-3, 16777217])], { to: 'float32' }), f32([-3, 16777216]));
  });
});
