import type { BaseHyperparameters, Optimizer } from './optimizer.js';

/**
 * Learning-rate schedules as torch's LambdaLR: each group's lr = its initial lr × factor(step). The factor for
 * step 0 is applied on construction, and `step()` (after each optimizer step) advances it, so with warmup the first
 * update uses lr 0, exactly as Hugging Face's schedules do.
 */
export class LRScheduler {
  readonly baseLrs: number[];
  private stepCount = 0;

  constructor(
    readonly optimizer: Optimizer<BaseHyperparameters>,
    readonly factor: (step: number) => number,
  ) {
    this.baseLrs = optimizer.paramGroups.map((g) => g.lr);
    this.apply();
  }

  /** Steps taken so far (torch's `last_epoch`). */
  get lastStep(): number {
    return this.stepCount;
  }

  /** The learning rate of each group now. */
  get lastLr(): number[] {
    return this.optimizer.paramGroups.map((g) => g.lr);
  }

  step(): void {
    this.stepCount++;
    this.apply();
  }

  stateDict(): { lastStep: number; baseLrs: number[] } {
    return { lastStep: this.stepCount, baseLrs: [...this.baseLrs] };
  }

  loadStateDict(state: { lastStep: number; baseLrs: number[] }): void {
    if (state.baseLrs.length !== this.baseLrs.length) {
      throw new RangeError(
        `LRScheduler.loadStateDict: ${state.baseLrs.length} base learning rates for ${this.baseLrs.length} parameter groups`,
      );
    }
    this.baseLrs.splice(0, this.baseLrs.length, ...state.baseLrs);
    this.stepCount = state.lastStep;
    this.apply();
  }

  private apply(): void {
    const f = this.factor(this.stepCount);
    this.optimizer.paramGroups.forEach((g, i) => (g.lr = this.baseLrs[i]! * f));
  }
}

function warmupFactor(step: number, warmupSteps: number): number {
  return step / Math.max(1, warmupSteps);
}

/** HF get_constant_schedule. */
export function constantSchedule(optimizer: Optimizer<BaseHyperparameters>): LRScheduler {
  return new LRScheduler(optimizer, () => 1);
}

/** HF get_linear_schedule_with_warmup: 0 → lr over `warmupSteps`, then linearly down to 0 at `totalSteps`. */
export function linearScheduleWithWarmup(
  optimizer: Optimizer<BaseHyperparameters>,
  warmupSteps: number,
  totalSteps: number,
): LRScheduler {
  return new LRScheduler(optimizer, (step) =>
    step < warmupSteps
      ? warmupFactor(step, warmupSteps)
      : Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps)),
  );
}

/**
 * HF get_cosine_schedule_with_warmup: linear warmup, then a cosine from lr down to 0 at `totalSteps` (`numCycles`
 * half-waves: the default 0.5 is one decay without restart).
 */
export function cosineScheduleWithWarmup(
  optimizer: Optimizer<BaseHyperparameters>,
  warmupSteps: number,
  totalSteps: number,
  numCycles = 0.5,
): LRScheduler {
  return new LRScheduler(optimizer, (step) => {
    if (step < warmupSteps) return warmupFactor(step, warmupSteps);
    const progress = (step - warmupSteps) / Math.max(1, totalSteps - warmupSteps);
    return Math.max(0, 0.5 * (1 + Math.cos(Math.PI * numCycles * 2 * progress)));
  });
}
