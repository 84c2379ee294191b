/**
 * Trainer: Hugging Face's training loop for attn models. It batches a Dataset through a collator, runs AdamW with a
 * warmup schedule, gradient accumulation and clipping, logs, evaluates, checkpoints, and resumes a run exactly:
 * the data order is a pure function of (seed, epoch), so a checkpoint only records how many batches were consumed,
 * alongside model, optimizer, scheduler and RNG state.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import {
  DataCollatorForLanguageModeling,
  DataCollatorWithPadding,
  type Batch,
  type DataCollator,
  type Dataset,
  type Feature,
  Rng,
} from '../data/index.js';
import { crossEntropy } from '../nn/functional.js';
import type { Module } from '../nn/module.js';
import { isCausalLMModel } from '../models/auto/registry.js';
import { quantizedLayers } from '../models/quantization.js';
import type { CompiledStep, StepRunKind } from '../backends/onnx/compiled_step.js';
import { copyTokenizerFiles, pushSaved, type PushResult, type PushToHubOptions } from '../hub/push.js';
import {
  AdamW,
  clipGradients,
  constantSchedule,
  cosineScheduleWithWarmup,
  linearScheduleWithWarmup,
  LRScheduler,
  type AdamHyperparameters,
  type Optimizer,
} from '../optim/index.js';
import { getBackend, noGrad, tidy } from '../tensor/engine.js';
import { manualSeed } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import { progress } from '../util/progress.js';
import type { CallbackContext, LogEntry, TrainerCallback, TrainerControl, TrainerState } from './callbacks.js';
import {
  CHECKPOINT_PREFIX,
  listCheckpoints,
  loadCheckpoint,
  loadModelWeights,
  rotateCheckpoints,
  saveCheckpoint,
  saveModel,
  TRAINER_STATE,
  writeJson,
  type StatefulCollator,
  type TrainingSnapshot,
} from './checkpoint.js';
import { compileOptimizerStep } from './compiled_step.js';
import type { IntervalStrategy, TrainingArguments } from './training_args.js';

/** The model inputs a collated batch can carry (snake_case batch keys become these camelCase fields). */
export interface TrainingInputs {
  inputIds?: Tensor | null;
  attentionMask?: Tensor | null;
  tokenTypeIds?: Tensor | null;
  positionIds?: Tensor | null;
  labels?: Tensor | null;
  decoderInputIds?: Tensor;
  decoderAttentionMask?: Tensor | null;
}

/** What the Trainer needs of a model: a forward pass that computes the loss when given labels. */
export interface TrainableModel extends Module {
  forward(inputs: TrainingInputs): { loss?: Tensor; logits: Tensor };
  readonly config?: {
    modelType?: string;
    padTokenId?: number | null;
    id2label?: Record<number, string>;
    label2id?: Record<string, number>;
    problemType?: string | null;
  };
}

/** Model outputs and labels of an evaluation, one row per example (each example's values flattened). */
export interface EvalPrediction {
  predictions: number[][];
  labelIds: number[][];
}

export type ComputeMetrics<P = EvalPrediction> = (prediction: P) => Record<string, number>;

export interface TrainerOptions<P = EvalPrediction> {
  model: TrainableModel;
  args: TrainingArguments;
  trainDataset?: Dataset;
  evalDataset?: Dataset;
  /** Default: DataCollatorWithPadding with the model's pad token id. */
  dataCollator?: DataCollator;
  /** Saved beside the model in checkpoints and by saveModel(). */
  tokenizer?: TrainingSnapshot['tokenizer'];
  computeMetrics?: ComputeMetrics<P>;
  callbacks?: TrainerCallback[];
}

export interface TrainOptions {
  /** A checkpoint folder, or true for the latest checkpoint in outputDir. */
  resumeFromCheckpoint?: string | boolean;
}

export interface TrainOutput {
  globalStep: number;
  trainingLoss: number;
  metrics: LogEntry;
}

export class TrainingError extends Error {}

/** Columns the collators and models understand; others (raw text, ids) are dropped, as HF's remove_unused_columns. */
const MODEL_COLUMNS = new Set([
  'input_ids',
  'attention_mask',
  'token_type_ids',
  'position_ids',
  'special_tokens_mask',
  'label',
  'labels',
  'decoder_input_ids',
  'decoder_attention_mask',
]);

function camelCase(name: string): string {
  return name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
}

/** A collated batch as model inputs; `special_tokens_mask` is for collators only. */
export function batchToInputs(batch: Batch): TrainingInputs {
  const inputs: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(batch)) if (name !== 'special_tokens_mask') inputs[camelCase(name)] = t;
  return inputs as TrainingInputs;
}

/** Rows of a (B, …) tensor, each flattened. */
function rowsOf(t: Tensor): number[][] {
  const n = t.shape[0]!;
  const width = n === 0 ? 0 : t.size / n;
  const data = t.data;
  return Array.from({ length: n }, (_, i) => Array.from(data.subarray(i * width, (i + 1) * width)));
}

/**
 * HF's LengthGroupedSampler: the rows shuffled with `seed`, cut into megabatches of 50 batches, each sorted by
 * input_ids length (longest first), so that consecutive batches hold rows of similar length.
 */
export function lengthGroupedOrder(dataset: Dataset, batchSize: number, seed: number): Dataset {
  if (!dataset.columnNames.includes('input_ids'))
    throw new TrainingError(
      `groupByLength: the training set has no 'input_ids' column to measure (columns: ${dataset.columnNames.join(', ')})`,
    );
  const lengths = (dataset.column('input_ids') as unknown[][]).map((ids) => ids.length);
  const shuffled = new Rng(seed).shuffle(Array.from({ length: dataset.numRows }, (_, i) => i));
  const megabatch = 50 * batchSize;
  const order: number[] = [];
  for (let start = 0; start < shuffled.length; start += megabatch)
    order.push(...shuffled.slice(start, start + megabatch).sort((a, b) => lengths[b]! - lengths[a]!));
  return dataset.select(order);
}

function keepModelColumns(dataset: Dataset): Dataset {
  const unused = dataset.columnNames.filter((name) => !MODEL_COLUMNS.has(name));
  return unused.length > 0 ? dataset.removeColumns(unused) : dataset;
}

function nonPaddingTokens(batch: Batch): number {
  const mask = batch['attention_mask'];
  if (!mask) return batch['input_ids']?.size ?? 0;
  let tokens = 0;
  for (const v of mask.data) tokens += v;
  return tokens;
}

/**
 * Quantized layers are inference-only (their kernels have no gradient): a Trainer that is to train refuses them,
 * naming the first, rather than the kernel at the first step. Evaluating and predicting with them is fine.
 */
function refuseQuantized(model: TrainableModel): void {
  const [layer] = quantizedLayers(model);
  if (!layer) return;
  throw new TrainingError(
    `Trainer: ${model.constructor.name} holds quantized layers ('${layer[0]}' is ${layer[1]}), which are ` +
      `inference-only; load it with fromPretrained(dir, { dtype: 'float32' }) or call dequantize(model) to train it`,
  );
}

export class Trainer<P = EvalPrediction> {
  readonly model: TrainableModel;
  readonly args: TrainingArguments;
  readonly trainDataset?: Dataset;
  readonly evalDataset?: Dataset;
  readonly dataCollator: DataCollator;
  readonly tokenizer?: TrainingSnapshot['tokenizer'];
  readonly computeMetrics?: ComputeMetrics<P>;
  readonly callbacks: TrainerCallback[];
  state: TrainerState;
  readonly control: TrainerControl = {
    shouldTrainingStop: false,
    shouldEvaluate: false,
    shouldSave: false,
    shouldLog: false,
  };
  private optimizer?: Optimizer<AdamHyperparameters>;
  private scheduler?: LRScheduler;
  private epochOrder: { epoch: number; dataset: Dataset } | null = null;
  /** The compiled training step of the running train() (null: eager). */
  private compiled: CompiledStep | null = null;
  /** How the last train()'s steps ran: recorded, replayed from a graph, or eagerly (null: it ran eager mode). */
  lastStepModes: Record<StepRunKind, number> | null = null;

  constructor(options: TrainerOptions<P>) {
    if (options.trainDataset) refuseQuantized(options.model);
    this.model = options.model;
    this.args = options.args;
    // The collator first: preparing the datasets asks whether it makes the labels itself.
    // Compiled steps keep one graph per batch shape: padding to multiples of 16 keeps the shapes few.
    const padToMultipleOf = this.args.stepMode === 'compiled' ? 16 : undefined;
    this.dataCollator =
      options.dataCollator ??
      new DataCollatorWithPadding({ padTokenId: this.model.config?.padTokenId ?? 0, padToMultipleOf });
    this.trainDataset = options.trainDataset && this.prepareDataset(options.trainDataset, 'training');
    this.evalDataset = options.evalDataset && this.prepareDataset(options.evalDataset, 'evaluation');
    this.tokenizer = options.tokenizer;
    this.computeMetrics = options.computeMetrics;
    this.callbacks = options.callbacks ?? [];
    this.state = freshState(0, this.args.numTrainEpochs);
  }

  /**
   * Checks a split before any work: it has rows, `input_ids` and (unless the collator makes labels) a label column
   * whose values the model's label2id knows; drops the columns the model does not take.
   */
  protected prepareDataset(dataset: Dataset, purpose: string): Dataset {
    dataset.requireRows(purpose).requireColumns(['input_ids'], purpose);
    if (this.collatorMakesLabels()) return keepModelColumns(dataset);
    const hasLabel = dataset.columnNames.includes('label');
    if (!hasLabel && !dataset.columnNames.includes('labels')) dataset.requireColumns(['label'], purpose);
    return keepModelColumns(hasLabel ? this.encodeClassLabels(dataset) : dataset);
  }

  private collatorMakesLabels(): boolean {
    return this.dataCollator instanceof DataCollatorForLanguageModeling;
  }

  /**
   * Class names become ids through the model's label2id; integer labels must be ids the model has. Regression
   * (one output, or problemType 'regression') keeps its numbers.
   */
  private encodeClassLabels(dataset: Dataset): Dataset {
    const config = this.model.config;
    const id2label = config?.id2label;
    if (!id2label || config?.problemType === 'regression' || config?.problemType === 'multi_label_classification')
      return dataset;
    const ids = Object.keys(id2label).map(Number);
    if (ids.length < 2) return dataset;
    const labels = dataset.column('label');
    const allStrings = labels.every((l) => typeof l === 'string');
    if (!allStrings && !labels.every((l) => Number.isInteger(l))) return dataset;
    const label2id = allStrings ? (config.label2id ?? {}) : Object.fromEntries(ids.map((id) => [String(id), id]));
    return dataset.encodeLabels(label2id);
  }

  // ---- training ----

  async train(options: TrainOptions = {}): Promise<TrainOutput> {
    const args = this.args;
    const train = this.trainDataset;
    if (!train) throw new TrainingError('Trainer.train: no trainDataset was given');
    refuseQuantized(this.model); // quantized since construction
    const batchesPerEpoch = Math.ceil(train.numRows / args.perDeviceTrainBatchSize);
    const updatesPerEpoch = Math.max(1, Math.floor(batchesPerEpoch / args.gradientAccumulationSteps));
    const maxSteps = args.maxSteps > 0 ? args.maxSteps : Math.ceil(args.numTrainEpochs * updatesPerEpoch);
    const numTrainEpochs =
      args.maxSteps > 0
        ? Math.ceil((maxSteps * args.gradientAccumulationSteps) / batchesPerEpoch)
        : args.numTrainEpochs;
    const { optimizer, scheduler } = this.createOptimizerAndScheduler(maxSteps);
    this.epochOrder = null;

    const checkpoint = this.resolveResume(options.resumeFromCheckpoint ?? args.resumeFromCheckpoint);
    if (checkpoint) {
      this.state = await loadCheckpoint(checkpoint, {
        model: this.model,
        optimizer,
        scheduler,
        collator: this.dataCollator as Partial<StatefulCollator>,
      });
      this.state.maxSteps = maxSteps;
    } else {
      manualSeed(args.seed);
      this.state = freshState(maxSteps, numTrainEpochs);
    }
    Object.assign(this.control, { shouldTrainingStop: false });
    this.compiled =
      args.stepMode === 'compiled' && getBackend().name === 'onnx' ? compileOptimizerStep(optimizer) : null;
    this.fire('onTrainBegin');
    this.model.train();
    const bar = args.progress
      ? progress({ label: 'train', total: maxSteps - this.state.globalStep, unit: 'step' })
      : null;
    const started = performance.now();
    const secondsBefore = this.state.trainSeconds;
    const tokensBefore = this.state.numInputTokensSeen;
    let lossSum = 0;
    let lossCount = 0;
    let totalLoss = 0;
    let totalSteps = 0;

    try {
      while (this.state.globalStep < maxSteps && !this.control.shouldTrainingStop) {
        const epochBefore = Math.floor(this.state.batchesConsumed / batchesPerEpoch);
        const lr = scheduler.lastLr[0]!;
        const { loss, gradNorm } = this.optimizerStep(train, batchesPerEpoch, optimizer, scheduler);
        const state = this.state;
        state.globalStep++;
        state.epoch = state.batchesConsumed / batchesPerEpoch;
        state.trainSeconds = secondsBefore + (performance.now() - started) / 1000;
        lossSum += loss;
        lossCount++;
        totalLoss += loss;
        totalSteps++;
        bar?.tick(1, { loss: Number(loss.toFixed(4)), lr: Number(lr.toExponential(2)) });
        const epochEnded = Math.floor(state.batchesConsumed / batchesPerEpoch) > epochBefore;
        const last = state.globalStep >= maxSteps;
        this.control.shouldLog =
          this.due(args.loggingStrategy, args.loggingSteps, epochEnded) || (last && lossCount > 0);
        this.control.shouldEvaluate = this.due(args.evalStrategy, args.evalSteps, epochEnded);
        this.control.shouldSave = this.due(args.saveStrategy, args.saveSteps, epochEnded);
        this.fire('onStepEnd');
        if (epochEnded) this.fire('onEpochEnd');
        if (this.control.shouldLog) {
          await this.log({ loss: lossSum / lossCount, grad_norm: gradNorm, learning_rate: lr });
          lossSum = 0;
          lossCount = 0;
        }
        if (this.control.shouldEvaluate) {
          const metrics = await this.evaluateDuringTraining();
          // Each evaluation stays on screen as a line of its own; the bar only shows the latest step.
          const shown = Object.entries(metrics).filter(([key]) => !/_(runtime|per_second)$/.test(key));
          bar?.note(`eval step ${state.globalStep} epoch ${round(state.epoch, 2)}`, Object.fromEntries(shown));
        }
        if (this.control.shouldSave) await this.saveCheckpointNow(optimizer, scheduler);
      }
    } finally {
      bar?.done();
      if (this.compiled) this.lastStepModes = { ...this.compiled.counts };
      this.compiled?.dispose();
      this.compiled = null;
    }

    if (args.loadBestModelAtEnd && this.state.bestModelCheckpoint && existsSync(this.state.bestModelCheckpoint)) {
      await loadModelWeights(this.state.bestModelCheckpoint, this.model);
    }
    const seconds = this.state.trainSeconds;
    const runSeconds = seconds - secondsBefore;
    const metrics: LogEntry = {
      train_runtime: round(seconds),
      train_steps_per_second: round(totalSteps / Math.max(runSeconds, 1e-9)),
      train_tokens_per_second: round((this.state.numInputTokensSeen - tokensBefore) / Math.max(runSeconds, 1e-9)),
      train_loss: totalSteps > 0 ? totalLoss / totalSteps : Number.NaN,
    };
    await this.log(metrics);
    this.fire('onTrainEnd');
    if (args.pushToHub) await this.pushToHub();
    return { globalStep: this.state.globalStep, trainingLoss: metrics.train_loss!, metrics };
  }

  /** AdamW (no decay on biases and norm weights, as HF) and the schedule args name, for `totalSteps` updates. */
  protected createOptimizerAndScheduler(totalSteps: number): {
    optimizer: Optimizer<AdamHyperparameters>;
    scheduler: LRScheduler;
  } {
    const args = this.args;
    const decay: Tensor[] = [];
    const noDecay: Tensor[] = [];
    for (const [name, p] of this.model.namedParameters())
      (p.rank < 2 || /norm|bias/i.test(name) ? noDecay : decay).push(p);
    const groups = [
      { params: decay, weightDecay: args.weightDecay },
      { params: noDecay, weightDecay: 0 },
    ].filter((g) => g.params.length > 0);
    const optimizer = new AdamW(groups, {
      lr: args.learningRate,
      betas: [args.adamBeta1, args.adamBeta2],
      eps: args.adamEpsilon,
    });
    const warmup = args.warmupFor(totalSteps);
    const warmupFactor = (step: number): number => Math.min(1, step / Math.max(1, warmup));
    const schedules: Record<TrainingArguments['lrSchedulerType'], () => LRScheduler> = {
      linear: () => linearScheduleWithWarmup(optimizer, warmup, totalSteps),
      cosine: () => cosineScheduleWithWarmup(optimizer, warmup, totalSteps),
      constant: () => constantSchedule(optimizer),
      constant_with_warmup: () => new LRScheduler(optimizer, warmupFactor),
      // HF get_inverse_sqrt_schedule (timescale = warmup).
      inverse_sqrt: () =>
        new LRScheduler(optimizer, (step) =>
          step < warmup ? warmupFactor(step) : Math.sqrt(Math.max(1, warmup) / Math.max(1, step)),
        ),
    };
    const scheduler = schedules[args.lrSchedulerType]();
    this.optimizer = optimizer;
    this.scheduler = scheduler;
    return { optimizer, scheduler };
  }

  /**
   * One update: `gradientAccumulationSteps` micro-batches forward and backward (each loss scaled so the gradients
   * average), clipping, then the optimizer and schedule steps. A non-finite loss or gradient stops training before
   * the weights change, so the last checkpoint stays good. Compiled (the default on onnx), the micro-batches are the
   * inputs of one captured graph per batch shape (see compileStep); eager, every op is dispatched on its own.
   */
  private optimizerStep(
    train: Dataset,
    batchesPerEpoch: number,
    optimizer: Optimizer<AdamHyperparameters>,
    scheduler: LRScheduler,
  ): { loss: number; gradNorm: number } {
    return tidy(() => {
      const batches: Batch[] = [];
      for (let micro = 0; micro < this.args.gradientAccumulationSteps; micro++) {
        const batch = this.dataCollator.collate(this.batchAt(train, this.state.batchesConsumed, batchesPerEpoch));
        this.state.batchesConsumed++;
        this.state.numInputTokensSeen += nonPaddingTokens(batch);
        batches.push(batch);
      }
      let outputs: { loss: Tensor; gradNorm: Tensor };
      if (this.compiled) {
        const inputs: Record<string, Tensor> = {};
        batches.forEach((batch, micro) => {
          for (const [name, t] of Object.entries(batch))
            if (name !== 'special_tokens_mask') inputs[`${micro}.${name}`] = t;
        });
        const run = this.compiled.run(inputs, (fed) =>
          this.update(microBatches(fed, batches.length), optimizer, false),
        );
        outputs = run.outputs as typeof outputs;
      } else {
        outputs = this.update(batches, optimizer, true);
      }
      const loss = outputs.loss.item();
      const gradNorm = outputs.gradNorm.item();
      // A replayed graph left the weights alone when these are not finite (see compileOptimizerStep).
      if (!Number.isFinite(loss)) this.failNonFinite('loss', loss);
      if (!Number.isFinite(gradNorm)) this.failNonFinite('gradient norm', gradNorm);
      scheduler.step();
      return { loss, gradNorm };
    });
  }

  /**
   * Forward and backward over the micro-batches, clipping and the optimizer step, with tensor ops only, so that a
   * graph capture records all of it. `checkEagerly` reads the loss and norm before the update (eager mode only: a
   * captured step may not read computed values).
   */
  private update(
    batches: Batch[],
    optimizer: Optimizer<AdamHyperparameters>,
    checkEagerly: boolean,
  ): { loss: Tensor; gradNorm: Tensor } {
    let total: Tensor | null = null;
    for (const batch of batches) {
      const loss = this.computeLoss(batch);
      if (checkEagerly) {
        const value = loss.item();
        if (!Number.isFinite(value)) this.failNonFinite('loss', value);
      }
      const scaled = loss.div(batches.length);
      scaled.backward();
      total = total ? total.add(scaled.detach()) : scaled.detach();
    }
    // With clipping off, an infinite bound still measures the norm for the logs.
    const gradNorm = clipGradients(
      this.model.parameters(),
      this.args.maxGradNorm > 0 ? this.args.maxGradNorm : Infinity,
    );
    if (checkEagerly) {
      const norm = gradNorm.item();
      if (!Number.isFinite(norm)) this.failNonFinite('gradient norm', norm);
    }
    optimizer.step();
    optimizer.zeroGrad();
    return { loss: total!, gradNorm };
  }

  /**
   * The training loss of one collated batch (transformers' compute_loss): the model's own, from its labels.
   * Subclasses change the objective here (DistillationTrainer); it runs inside the captured step, so tensor ops only.
   */
  protected computeLoss(batch: Batch): Tensor {
    if (this.args.labelSmoothingFactor > 0 && batch.labels) return this.labelSmoothedLoss(batch);
    const output = this.model.forward(batchToInputs(batch));
    if (!output.loss)
      throw new TrainingError(
        `${this.model.constructor.name} returned no loss: the batch has no 'labels' (batch fields: ${Object.keys(batch).join(', ')})`,
      );
    return output.loss;
  }

  /**
   * HF's LabelSmoother: the model runs without labels (a seq2seq batch brings its decoder_input_ids) and the loss is
   * taken from its logits; a causal LM's logits at t score the label at t + 1.
   */
  private labelSmoothedLoss(batch: Batch): Tensor {
    const { labels, ...inputs } = batch;
    let logits = this.model.forward(batchToInputs(inputs)).logits; // (B, C) or (B, T, V)
    let targets = labels!; // (B) or (B, T)
    if (logits.rank === 3 && isCausalLMModel(this.model)) {
      const t = logits.shape[1]!;
      logits = logits.slice(1, 0, t - 1);
      targets = targets.slice(1, 1, t);
    }
    const classes = logits.shape[logits.rank - 1]!;
    return crossEntropy(logits.reshape([-1, classes]), targets.reshape([-1]), {
      labelSmoothing: this.args.labelSmoothingFactor,
    });
  }

  private failNonFinite(what: string, value: number): never {
    this.model.zeroGrad();
    const step = this.state.globalStep + 1;
    const last = listCheckpoints(this.args.outputDir).pop();
    const kept = last ? `the last good checkpoint is ${last}` : 'no checkpoint was saved before it';
    throw new TrainingError(
      `training stopped at step ${step} (epoch ${this.state.epoch.toFixed(2)}): the ${what} is ${value}; the weights were not updated; ${kept}`,
    );
  }

  /** Batch number `position` of the endless data stream: epoch e reads the training set shuffled with seed + e. */
  private batchAt(train: Dataset, position: number, batchesPerEpoch: number): Feature[] {
    const epoch = Math.floor(position / batchesPerEpoch);
    const size = this.args.perDeviceTrainBatchSize;
    if (this.epochOrder?.epoch !== epoch) {
      const seed = this.args.seed + epoch;
      const dataset = this.args.groupByLength ? lengthGroupedOrder(train, size, seed) : train.shuffle(seed);
      this.epochOrder = { epoch, dataset };
    }
    const order = this.epochOrder.dataset;
    const start = (position % batchesPerEpoch) * size;
    const end = Math.min(start + size, order.numRows);
    const rows: Feature[] = [];
    for (let i = start; i < end; i++) rows.push(order.row(i));
    return rows;
  }

  private due(strategy: IntervalStrategy, every: number, epochEnded: boolean): boolean {
    if (strategy === 'steps') return this.state.globalStep % every === 0;
    return strategy === 'epoch' && epochEnded;
  }

  private resolveResume(resume: string | boolean | undefined): string | null {
    if (!resume) return null;
    if (typeof resume === 'string') return resume;
    const latest = listCheckpoints(this.args.outputDir).pop();
    if (!latest)
      throw new TrainingError(`resumeFromCheckpoint: no ${CHECKPOINT_PREFIX}* folder in ${this.args.outputDir}`);
    return latest;
  }

  private async evaluateDuringTraining(): Promise<LogEntry> {
    const metrics = await this.evaluate();
    const key = this.args.bestMetricKey;
    const value = metrics[key];
    if (this.args.saveStrategy === 'no' || value === undefined) return metrics;
    const best = this.state.bestMetric;
    const better = best === null || (this.args.greaterIsBetter ? value > best : value < best);
    if (better) {
      this.state.bestMetric = value;
      this.state.bestModelCheckpoint = join(this.args.outputDir, `${CHECKPOINT_PREFIX}${this.state.globalStep}`);
    }
    return metrics;
  }

  private async saveCheckpointNow(optimizer: Optimizer<AdamHyperparameters>, scheduler: LRScheduler): Promise<void> {
    const dir = join(this.args.outputDir, `${CHECKPOINT_PREFIX}${this.state.globalStep}`);
    await saveCheckpoint(dir, {
      model: this.model,
      optimizer,
      scheduler,
      state: this.state,
      args: this.args,
      collator: this.dataCollator as Partial<StatefulCollator>,
      tokenizer: this.tokenizer,
    });
    await rotateCheckpoints(this.args.outputDir, this.args.saveTotalLimit, this.state.bestModelCheckpoint);
    for (const cb of this.callbacks) cb.onSave?.(this.context(), dir);
  }

  // ---- evaluation ----

  /** Loss and computeMetrics over `dataset` (default the evalDataset), keys prefixed `<prefix>_`; logged. */
  async evaluate(dataset?: Dataset, metricKeyPrefix = 'eval'): Promise<LogEntry> {
    const data = dataset ? this.prepareDataset(dataset, 'evaluation') : this.evalDataset;
    if (!data) throw new TrainingError('Trainer.evaluate: no evalDataset was given');
    const { metrics } = await this.predictionLoop(data, metricKeyPrefix, this.computeMetrics !== undefined);
    await this.log(metrics);
    for (const cb of this.callbacks) cb.onEvaluate?.(this.context(), metrics);
    return metrics;
  }

  /** Predictions, labels and metrics (prefixed 'test_') over `dataset`. */
  async predict(dataset: Dataset, metricKeyPrefix = 'test'): Promise<EvalPrediction & { metrics: LogEntry }> {
    return this.predictionLoop(this.prepareDataset(dataset, 'prediction'), metricKeyPrefix, true);
  }

  /** Runs the model over `dataset` in eval mode without gradients, restoring the training mode after. */
  protected async predictionLoop(
    dataset: Dataset,
    prefix: string,
    collect: boolean,
  ): Promise<EvalPrediction & { metrics: LogEntry }> {
    const wasTraining = this.model.training;
    this.model.eval();
    const started = performance.now();
    const predictions: number[][] = [];
    const labelIds: number[][] = [];
    let lossSum = 0;
    let lossRows = 0;
    try {
      noGrad(() => {
        for (const rows of dataset.batches(this.args.perDeviceEvalBatchSize)) {
          tidy(() => {
            const batch = this.dataCollator.collate(rows);
            const output = this.model.forward(batchToInputs(batch));
            if (output.loss) {
              lossSum += output.loss.item() * rows.length;
              lossRows += rows.length;
            }
            if (collect) {
              predictions.push(...rowsOf(output.logits));
              if (batch['labels']) labelIds.push(...rowsOf(batch['labels']));
            }
          });
        }
      });
    } finally {
      this.model.train(wasTraining);
    }
    const metrics: LogEntry = {};
    if (lossRows > 0) metrics[`${prefix}_loss`] = lossSum / lossRows;
    const prediction = { predictions, labelIds };
    if (collect && this.computeMetrics) Object.assign(metrics, prefixed(this.computeMetrics(prediction as P), prefix));
    const seconds = (performance.now() - started) / 1000;
    metrics[`${prefix}_runtime`] = round(seconds);
    metrics[`${prefix}_samples_per_second`] = round(dataset.numRows / Math.max(seconds, 1e-9));
    return { ...prediction, metrics };
  }

  // ---- logging and saving ----

  /** Adds epoch and step to `logs`, appends it to the log history and rewrites trainer_state.json (live viewers read it). */
  protected async log(logs: LogEntry): Promise<void> {
    const entry: LogEntry = { ...logs, epoch: round(this.state.epoch, 4), step: this.state.globalStep };
    this.state.logHistory.push(entry);
    for (const cb of this.callbacks) cb.onLog?.(this.context(), entry);
    await writeJson(join(this.args.outputDir, TRAINER_STATE), this.state);
  }

  /** Writes the model (and tokenizer) as a Hugging Face folder: `outputDir` by default. */
  async saveModel(dir = this.args.outputDir): Promise<void> {
    await saveModel(dir, this.model, this.tokenizer);
  }

  /**
   * Commits the model and tokenizer, as saveModel() writes them, to the repo `args.hubModelId` (HF's
   * Trainer.push_to_hub; train() calls it at the end with `pushToHub: true`). The card is tagged as HF tags it.
   */
  async pushToHub(options: PushToHubOptions = {}): Promise<PushResult> {
    const repoId = this.args.hubModelId;
    if (repoId === null) throw new RangeError("Trainer.pushToHub: set TrainingArguments.hubModelId ('namespace/name')");
    // Without a tokenizer given, one loaded with the model (fromPretrained's folder) travels with it.
    const source = (this.model as { sourceDir?: string | null }).sourceDir;
    const save = async (dir: string): Promise<void> => {
      await this.saveModel(dir);
      if (this.tokenizer === undefined && typeof source === 'string') await copyTokenizerFiles(source, dir);
    };
    return pushSaved(repoId, save, {
      private: this.args.hubPrivateRepo,
      commitMessage: 'End of training',
      cardData: { tags: ['generated_from_trainer'] },
      ...(this.args.hubToken === null ? {} : { token: this.args.hubToken }),
      ...options,
    });
  }

  /** The optimizer of the last train() (for inspection and tests). */
  get currentOptimizer(): Optimizer<AdamHyperparameters> | undefined {
    return this.optimizer;
  }

  get currentScheduler(): LRScheduler | undefined {
    return this.scheduler;
  }

  private context(): CallbackContext {
    return { args: this.args, state: this.state, control: this.control };
  }

  private fire(hook: 'onTrainBegin' | 'onStepEnd' | 'onEpochEnd' | 'onTrainEnd'): void {
    for (const cb of this.callbacks) cb[hook]?.(this.context());
  }
}

/** The micro-batches of a compiled step's inputs (named `<micro>.<column>`). */
function microBatches(inputs: Record<string, Tensor>, count: number): Batch[] {
  const batches: Batch[] = Array.from({ length: count }, () => ({}));
  for (const [name, t] of Object.entries(inputs)) {
    const dot = name.indexOf('.');
    batches[Number(name.slice(0, dot))]![name.slice(dot + 1)] = t;
  }
  return batches;
}

function freshState(maxSteps: number, numTrainEpochs: number): TrainerState {
  return {
    globalStep: 0,
    maxSteps,
    epoch: 0,
    numTrainEpochs,
    batchesConsumed: 0,
    logHistory: [],
    bestMetric: null,
    bestModelCheckpoint: null,
    numInputTokensSeen: 0,
    trainSeconds: 0,
    callbackState: {},
  };
}

function prefixed(metrics: Record<string, number>, prefix: string): LogEntry {
  return Object.fromEntries(
    Object.entries(metrics).map(([k, v]) => [k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`, v]),
  );
}

function round(value: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
