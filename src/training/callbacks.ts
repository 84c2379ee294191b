/**
 * Trainer callbacks, as Hugging Face's: hooks that read the TrainerState and steer the loop through TrainerControl
 * (stop, evaluate, save). The state is what trainer_state.json holds.
 */
import type { TrainingArguments } from './training_args.js';

export type LogEntry = Record<string, number>;

export interface TrainerState {
  /** Optimizer updates done. */
  globalStep: number;
  maxSteps: number;
  /** Fractional epochs done (batches consumed / batches per epoch). */
  epoch: number;
  numTrainEpochs: number;
  /** Training batches consumed so far: the position in the data order, which a resumed run continues from. */
  batchesConsumed: number;
  logHistory: LogEntry[];
  bestMetric: number | null;
  bestModelCheckpoint: string | null;
  /** Training tokens seen (non-padding input ids), for throughput. */
  numInputTokensSeen: number;
  /** Training seconds, summed over resumed runs. */
  trainSeconds: number;
  /** Callback state that must survive a resume (e.g. early-stopping patience), by callback name. */
  callbackState: Record<string, Record<string, number>>;
}

export interface TrainerControl {
  shouldTrainingStop: boolean;
  shouldEvaluate: boolean;
  shouldSave: boolean;
  shouldLog: boolean;
}

export interface CallbackContext {
  args: TrainingArguments;
  state: TrainerState;
  control: TrainerControl;
}

/** Every hook is optional; hooks run in the order the callbacks were given. */
export interface TrainerCallback {
  /** Keys this callback's entry in `state.callbackState`. */
  readonly name?: string;
  onTrainBegin?(ctx: CallbackContext): void;
  onStepEnd?(ctx: CallbackContext): void;
  onEpochEnd?(ctx: CallbackContext): void;
  onLog?(ctx: CallbackContext, logs: LogEntry): void;
  onEvaluate?(ctx: CallbackContext, metrics: LogEntry): void;
  onSave?(ctx: CallbackContext, checkpointDir: string): void;
  onTrainEnd?(ctx: CallbackContext): void;
}

export interface EarlyStoppingOptions {
  /** Evaluations without improvement before stopping. Default 1. */
  patience?: number;
  /** An improvement smaller than this does not count. Default 0. */
  threshold?: number;
}

/**
 * Stops training when `args.metricForBestModel` has not improved (by more than `threshold`) for `patience`
 * evaluations in a row. Its count lives in the trainer state, so a resumed run keeps it.
 */
export class EarlyStoppingCallback implements TrainerCallback {
  readonly name = 'EarlyStoppingCallback';
  readonly patience: number;
  readonly threshold: number;

  constructor(options: EarlyStoppingOptions = {}) {
    this.patience = options.patience ?? 1;
    this.threshold = options.threshold ?? 0;
    if (!Number.isInteger(this.patience) || this.patience < 1)
      throw new RangeError(`EarlyStoppingCallback: patience must be a whole number >= 1, got ${this.patience}`);
  }

  onTrainBegin({ args }: CallbackContext): void {
    if (args.evalStrategy === 'no')
      throw new RangeError('EarlyStoppingCallback needs evalStrategy "steps" or "epoch" in TrainingArguments');
  }

  onEvaluate({ args, state, control }: CallbackContext, metrics: LogEntry): void {
    const key = args.bestMetricKey;
    const value = metrics[key];
    if (value === undefined) {
      throw new Error(
        `EarlyStoppingCallback: metricForBestModel '${args.metricForBestModel}' is not among the eval metrics (${Object.keys(metrics).join(', ')})`,
      );
    }
    // No 'best' until the first evaluation (NaN would not survive JSON).
    const own = (state.callbackState[this.name] ??= { misses: 0 });
    const best = own.best;
    const improved =
      best === undefined || (args.greaterIsBetter ? value > best + this.threshold : value < best - this.threshold);
    if (improved) {
      own.best = value;
      own.misses = 0;
    } else {
      own.misses = own.misses! + 1;
      if (own.misses >= this.patience) control.shouldTrainingStop = true;
    }
  }
}
