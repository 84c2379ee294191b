import { describe, expect, it } from 'vitest';
import { tensor } from '../../src/tensor/index.js';
import { Parameter } from '../../src/nn/index.js';
import {
  SGD,
  clipGradNorm,
  constantSchedule,
  cosineScheduleWithWarmup,
  linearScheduleWithWarmup,
  type LRScheduler,
} from '../../src/optim/index.js';

function optimizer(lr = 1): SGD {
  return new SGD([{ params: [new Parameter(tensor([1]))] }, { params: [new Parameter(tensor([1]))], lr: lr / 2 }], {
    lr,
  });
}

/** The first group's lr before each of `steps` optimizer steps. */
function lrs(schedule: LRScheduler, steps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < steps; i++) {
    out.push(schedule.lastLr[0]!);
    schedule.step();
  }
  return out;
}

describe('learning-rate schedules (Hugging Face formulas)', () => {
  it('constant', () => {
    expect(lrs(constantSchedule(optimizer(0.3)), 3)).toEqual([0.3, 0.3, 0.3]);
  });

  it('linear warmup then linear decay to 0', () => {
    // warmup 2, total 6: 0, 0.5, then (6 - s) / 4 for s = 2..6, and 0 after.
    const values = lrs(linearScheduleWithWarmup(optimizer(), 2, 6), 8);
    [0, 0.5, 1, 0.75, 0.5, 0.25, 0, 0].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 12));
  });

  it('linear warmup then cosine decay to 0', () => {
    const values = lrs(cosineScheduleWithWarmup(optimizer(), 2, 6), 7);
    const cosineAt = (s: number): number => 0.5 * (1 + Math.cos((Math.PI * (s - 2)) / 4));
    [0, 0.5, 1, cosineAt(3), 0.5, cosineAt(5), 0].forEach((v, i) => expect(values[i]).toBeCloseTo(v, 12));
  });

  it('scales every group from its own initial lr', () => {
    const opt = optimizer(0.2);
    const schedule = linearScheduleWithWarmup(opt, 4, 10);
    schedule.step();
    expect(schedule.lastLr[0]).toBeCloseTo(0.05, 12);
    expect(schedule.lastLr[1]).toBeCloseTo(0.025, 12);
  });

  it('stateDict / loadStateDict resume the schedule', () => {
    const first = cosineScheduleWithWarmup(optimizer(), 2, 10);
    lrs(first, 5);
    const resumed = cosineScheduleWithWarmup(optimizer(), 2, 10);
    resumed.loadStateDict(first.stateDict());
    expect(resumed.lastStep).toBe(5);
    expect(resumed.lastLr).toEqual(first.lastLr);
    expect(() =>
      constantSchedule(new SGD([new Parameter(tensor([1]))], { lr: 1 })).loadStateDict(first.stateDict()),
    ).toThrow(/2 base learning rates for 1 parameter groups/);
  });
});

describe('clipGradNorm', () => {
  it('scales gradients to the global norm and returns the norm before clipping', () => {
    const a = new Parameter(tensor([3, 4]));
    const b = new Parameter(tensor([12]));
    const none = new Parameter(tensor([100]));
    a.grad = tensor([3, 4]);
    b.grad = tensor([12]);
    expect(clipGradNorm([a, b, none], 6.5)).toBeCloseTo(13, 6);
    const factor = 6.5 / (13 + 1e-6);
    expect(Array.from(a.grad.data)).toEqual([3, 4].map((v) => Math.fround(v * factor)));
    expect(b.grad.data[0]).toBeCloseTo(6, 5);
  });

  it('leaves small gradients alone', () => {
    const a = new Parameter(tensor([1, 1]));
    a.grad = tensor([0.3, 0.4]);
    expect(clipGradNorm([a], 1)).toBeCloseTo(0.5, 6);
    expect(Array.from(a.grad.data)).toEqual([Math.fround(0.3), Math.fround(0.4)]);
  });

  it('scales a gradient buffer shared by two parameters once', () => {
    const a = new Parameter(tensor([1, 1]));
    const b = new Parameter(tensor([1, 1]));
    const shared = tensor([3, 4]);
    a.grad = shared;
    b.grad = shared;
    const norm = clipGradNorm([a, b], 1);
    expect(norm).toBeCloseTo(Math.sqrt(50), 6);
    expect(a.grad!.data[0]).toBeCloseTo(3 / Math.sqrt(50), 5);
    expect(b.grad).toBe(a.grad);
  });
});
