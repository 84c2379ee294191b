/**
 * TrainingArguments: the knobs of a training run, named as Hugging Face's (camelCase), each checked on
 * construction with an error that names the field and the value.
 */
import { didYouMean } from '../util/suggest.js';

export type IntervalStrategy = 'no' | 'steps' | 'epoch';
/** HF's schedule names; 'inverse_sqrt' (warmup, then lr·√(warmup/step)) needs no total length, for runs bounded by time. */
export type LrSchedulerType = 'linear' | 'cosine' | 'constant' | 'constant_with_warmup' | 'inverse_sqrt';

export interface TrainingArgumentsInit {
  /** Where checkpoints, trainer_state.json and the final model go. */
  outputDir: string;
  /** Epochs over the training set (fractions allowed). Ignored when maxSteps > 0. Default 3. */
  numTrainEpochs?: number;
  /** Optimizer updates to run; overrides numTrainEpochs when > 0. Default -1 (use epochs). */
  maxSteps?: number;
  perDeviceTrainBatchSize?: number;
  perDeviceEvalBatchSize?: number;
  learningRate?: number;
  weightDecay?: number;
  adamBeta1?: number;
  adamBeta2?: number;
  adamEpsilon?: number;
  /** Warmup length in updates; when 0, warmupRatio × total updates. */
  warmupSteps?: number;
  warmupRatio?: number;
  lrSchedulerType?: LrSchedulerType;
  /** Micro-batches whose gradients are summed before one update. */
  gradientAccumulationSteps?: number;
  /** Global gradient-norm clip; 0 turns clipping off. */
  maxGradNorm?: number;
  /**
   * HF's label_smoothing_factor ε: the loss becomes (1 − ε)·cross-entropy + ε·(mean −log p over the classes),
   * computed by the Trainer from the logits (next-token logits for causal LMs). Default 0 (the model's own loss).
   */
  labelSmoothingFactor?: number;
  /**
   * HF's group_by_length: each epoch's shuffled rows are cut into groups of 50 batches and sorted by input_ids
   * length within a group, so a batch holds rows of similar length: less padding, and fewer distinct padded shapes
   * for the compiled step. Still a pure function of (seed, epoch), so resuming stays exact. Default false.
   */
  groupByLength?: boolean;
  evalStrategy?: IntervalStrategy;
  /** Every this many updates when evalStrategy is 'steps'; default loggingSteps. */
  evalSteps?: number;
  saveStrategy?: IntervalStrategy;
  saveSteps?: number;
  loggingStrategy?: IntervalStrategy;
  loggingSteps?: number;
  /** Keep at most this many checkpoints (the best one is never deleted). */
  saveTotalLimit?: number | null;
  /** Seeds weight-independent randomness: data order and dropout. */
  seed?: number;
  loadBestModelAtEnd?: boolean;
  /** The eval metric that ranks checkpoints ('loss' or a computeMetrics key, with or without 'eval_'). */
  metricForBestModel?: string;
  /** Default: false for a loss, true otherwise. */
  greaterIsBetter?: boolean;
  /** Show a progress bar / JSON lines on stderr. Default true. */
  progress?: boolean;
  /**
   * 'compiled' (default): each training step runs as one onnxruntime graph per batch shape (recorded from an eager
   * step, see src/backends/onnx/compiled_step.ts); 'eager': every op on its own, for debugging. The reference
   * backend always runs eagerly.
   */
  stepMode?: StepMode;
  /** Continue from a checkpoint folder, or `true` for the latest complete one in outputDir (HF's field). */
  resumeFromCheckpoint?: string | boolean;
  /** Commit the model (and tokenizer) to the hub repo `hubModelId` when training ends (HF's push_to_hub). */
  pushToHub?: boolean;
  /** 'namespace/name' of the repo pushToHub commits to (created if missing). */
  hubModelId?: string | null;
  /** Token for the push; default HF_TOKEN (endpoint: HF_ENDPOINT). */
  hubToken?: string | null;
  /** Create the repo private. */
  hubPrivateRepo?: boolean;
}

export type StepMode = 'compiled' | 'eager';
const STEP_MODES: readonly StepMode[] = ['compiled', 'eager'];
const SCHEDULERS: readonly LrSchedulerType[] = ['linear', 'cosine', 'constant', 'constant_with_warmup', 'inverse_sqrt'];
const STRATEGIES: readonly IntervalStrategy[] = ['no', 'steps', 'epoch'];

export class TrainingArguments {
  readonly outputDir: string;
  readonly numTrainEpochs: number;
  readonly maxSteps: number;
  readonly perDeviceTrainBatchSize: number;
  readonly perDeviceEvalBatchSize: number;
  readonly learningRate: number;
  readonly weightDecay: number;
  readonly adamBeta1: number;
  readonly adamBeta2: number;
  readonly adamEpsilon: number;
  readonly warmupSteps: number;
  readonly warmupRatio: number;
  readonly lrSchedulerType: LrSchedulerType;
  readonly gradientAccumulationSteps: number;
  readonly maxGradNorm: number;
  readonly labelSmoothingFactor: number;
  readonly groupByLength: boolean;
  readonly evalStrategy: IntervalStrategy;
  readonly evalSteps: number;
  readonly saveStrategy: IntervalStrategy;
  readonly saveSteps: number;
  readonly loggingStrategy: IntervalStrategy;
  readonly loggingSteps: number;
  readonly saveTotalLimit: number | null;
  readonly seed: number;
  readonly loadBestModelAtEnd: boolean;
  readonly metricForBestModel: string;
  readonly greaterIsBetter: boolean;
  readonly progress: boolean;
  readonly stepMode: StepMode;
  readonly resumeFromCheckpoint: string | boolean;
  readonly pushToHub: boolean;
  readonly hubModelId: string | null;
  readonly hubToken: string | null;
  readonly hubPrivateRepo: boolean;

  constructor(init: TrainingArgumentsInit) {
    if (typeof init.outputDir !== 'string' || init.outputDir === '')
      throw new TypeError('TrainingArguments.outputDir: expected a folder path');
    this.outputDir = init.outputDir;
    this.numTrainEpochs = positive('numTrainEpochs', init.numTrainEpochs ?? 3);
    this.maxSteps = integer('maxSteps', init.maxSteps ?? -1, -1);
    this.perDeviceTrainBatchSize = integer('perDeviceTrainBatchSize', init.perDeviceTrainBatchSize ?? 8, 1);
    this.perDeviceEvalBatchSize = integer('perDeviceEvalBatchSize', init.perDeviceEvalBatchSize ?? 8, 1);
    this.learningRate = nonNegative('learningRate', init.learningRate ?? 5e-5);
    this.weightDecay = nonNegative('weightDecay', init.weightDecay ?? 0);
    this.adamBeta1 = fraction('adamBeta1', init.adamBeta1 ?? 0.9);
    this.adamBeta2 = fraction('adamBeta2', init.adamBeta2 ?? 0.999);
    this.adamEpsilon = nonNegative('adamEpsilon', init.adamEpsilon ?? 1e-8);
    this.warmupSteps = integer('warmupSteps', init.warmupSteps ?? 0, 0);
    this.warmupRatio = fraction('warmupRatio', init.warmupRatio ?? 0);
    this.lrSchedulerType = oneOf('lrSchedulerType', init.lrSchedulerType ?? 'linear', SCHEDULERS);
    this.gradientAccumulationSteps = integer('gradientAccumulationSteps', init.gradientAccumulationSteps ?? 1, 1);
    this.maxGradNorm = nonNegative('maxGradNorm', init.maxGradNorm ?? 1);
    this.labelSmoothingFactor = fraction('labelSmoothingFactor', init.labelSmoothingFactor ?? 0);
    this.groupByLength = init.groupByLength ?? false;
    check('groupByLength', this.groupByLength, typeof this.groupByLength === 'boolean', 'true or false');
    this.loggingStrategy = oneOf('loggingStrategy', init.loggingStrategy ?? 'steps', STRATEGIES);
    this.loggingSteps = integer('loggingSteps', init.loggingSteps ?? 500, 1);
    this.evalStrategy = oneOf('evalStrategy', init.evalStrategy ?? 'no', STRATEGIES);
    this.evalSteps = integer('evalSteps', init.evalSteps ?? this.loggingSteps, 1);
    this.saveStrategy = oneOf('saveStrategy', init.saveStrategy ?? 'steps', STRATEGIES);
    this.saveSteps = integer('saveSteps', init.saveSteps ?? 500, 1);
    this.saveTotalLimit = init.saveTotalLimit == null ? null : integer('saveTotalLimit', init.saveTotalLimit, 1);
    this.seed = integer('seed', init.seed ?? 42, 0);
    this.loadBestModelAtEnd = init.loadBestModelAtEnd ?? false;
    this.metricForBestModel = init.metricForBestModel ?? 'loss';
    const metric = this.metricForBestModel.replace(/^eval_/, '');
    this.greaterIsBetter = init.greaterIsBetter ?? !(metric === 'loss' || metric.endsWith('_loss'));
    this.progress = init.progress ?? true;
    this.stepMode = oneOf('stepMode', init.stepMode ?? 'compiled', STEP_MODES);
    this.resumeFromCheckpoint = init.resumeFromCheckpoint ?? false;
    this.pushToHub = init.pushToHub ?? false;
    this.hubModelId = init.hubModelId ?? null;
    this.hubToken = init.hubToken ?? null;
    this.hubPrivateRepo = init.hubPrivateRepo ?? false;
    if (this.pushToHub && (this.hubModelId === null || !/^[^/\s]+\/[^/\s]+$/.test(this.hubModelId))) {
      throw new RangeError(
        `TrainingArguments: pushToHub needs hubModelId as 'namespace/name', got ${JSON.stringify(this.hubModelId)}`,
      );
    }
    if (this.loadBestModelAtEnd) {
      if (this.evalStrategy === 'no')
        throw new RangeError('TrainingArguments: loadBestModelAtEnd needs evalStrategy "steps" or "epoch", got "no"');
      if (this.saveStrategy !== this.evalStrategy) {
        throw new RangeError(
          `TrainingArguments: loadBestModelAtEnd needs saveStrategy equal to evalStrategy ("${this.evalStrategy}"), got "${this.saveStrategy}"`,
        );
      }
      if (this.saveStrategy === 'steps' && this.saveSteps % this.evalSteps !== 0) {
        throw new RangeError(
          `TrainingArguments: loadBestModelAtEnd needs saveSteps (${this.saveSteps}) to be a multiple of evalSteps (${this.evalSteps})`,
        );
      }
    }
    if (new.target === TrainingArguments) rejectUnknownFields(init, this);
  }

  /** The eval log key of metricForBestModel ('eval_accuracy' for 'accuracy'). */
  get bestMetricKey(): string {
    return this.metricForBestModel.startsWith('eval_') ? this.metricForBestModel : `eval_${this.metricForBestModel}`;
  }

  /** Warmup updates for a run of `totalSteps`. */
  warmupFor(totalSteps: number): number {
    return this.warmupSteps > 0 ? this.warmupSteps : Math.ceil(totalSteps * this.warmupRatio);
  }

  /** Plain JSON (what a checkpoint records as training_args.json). */
  toJSON(): Record<string, unknown> {
    return { ...(this as object) };
  }
}

/**
 * A misspelt field would otherwise be ignored and the run would train with the default: every field of `init` must
 * be one the arguments object keeps (its own fields, once the most derived constructor has set them).
 */
export function rejectUnknownFields(init: object, args: TrainingArguments): void {
  const known = Object.keys(args);
  for (const field of Object.keys(init)) {
    if (known.includes(field)) continue;
    throw new RangeError(`${args.constructor.name}: unknown field '${field}'${didYouMean(field, known)}`);
  }
}

function check(field: string, value: unknown, ok: boolean, expected: string): void {
  if (!ok) throw new RangeError(`TrainingArguments.${field}: expected ${expected}, got ${JSON.stringify(value)}`);
}

function positive(field: string, value: number): number {
  check(field, value, typeof value === 'number' && Number.isFinite(value) && value > 0, 'a number > 0');
  return value;
}

function nonNegative(field: string, value: number): number {
  check(field, value, typeof value === 'number' && Number.isFinite(value) && value >= 0, 'a number >= 0');
  return value;
}

function fraction(field: string, value: number): number {
  check(field, value, typeof value === 'number' && value >= 0 && value < 1, 'a number in [0, 1)');
  return value;
}

function integer(field: string, value: number, min: number): number {
  check(field, value, Number.isInteger(value) && value >= min, `a whole number >= ${min}`);
  return value;
}

function oneOf<T extends string>(field: string, value: T, allowed: readonly T[]): T {
  check(field, value, allowed.includes(value), `one of ${allowed.map((a) => `"${a}"`).join(', ')}`);
  return value;
}
