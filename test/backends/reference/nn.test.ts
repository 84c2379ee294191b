import { describe, expect, it } from 'vitest';
import { expectTensor, f32, i32, run } from './kernels.js';

const SOFTMAX_123 = [0.09003057317038046, 0.24472847105479767, 0.6652409557748219];
const LOG_SOFTMAX_123 = [-2.4076059644443806, -1.4076059644443806, -0.4076059644443806];

describe('reference softmax and logSoftmax', () => {
  it('normalizes along the last axis', () => {
    expectTensor(run('softmax', [f32([1, 2, 3])], { axis: 0 }), f32(SOFTMAX_123), 1e-7);
    expectTensor(run('logSoftmax', [f32([1, 2, 3])], { axis: -1 }), f32(LOG_SOFTMAX_123), 1e-7);
  });

  it('stays finite for large logits (subtracts the max first)', () => {
    expectTensor(run('softmax', [f32([1000, 1001, 1002])], { axis: 0 }), f32(SOFTMAX_123), 1e-7);
    expectTensor(run('logSoftmax', [f32([-1000, -999, -998])], { axis: 0 }), f32(LOG_SOFTMAX_123), 1e-7);
  });

  it('works along a leading axis and gives masked (-Infinity) entries zero weight', () => {
    // (3, 2): column 0 holds 1, 2, 3; column 1 holds 0, -inf, 0
    const x = f32([1, 0, 2, -Infinity, 3, 0], [3, 2]);
    expectTensor(
      run('softmax', [x], { axis: 0 }),
      f32([SOFTMAX_123[0]!, 0.5, SOFTMAX_123[1]!, 0, SOFTMAX_123[2]!, 0.5], [3, 2]),
      1e-7,
    );
    expectTensor(
      run('logSoftmax', [x], { axis: 0 }),
      f32([LOG_SOFTMAX_123[0]!, -Math.LN2, LOG_SOFTMAX_123[1]!, -Infinity, LOG_SOFTMAX_123[2]!, -Math.LN2], [3, 2]),
      1e-7,
    );
  });

  it('wants float32', () => {
    expect(() => run('softmax', [i32([1, 2])], { axis: 0 })).toThrow(
      'softmax: expected input of dtype float32, got int32',
    );
  });
});
