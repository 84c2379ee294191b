import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataCollatorWithPadding, Dataset, type Batch } from '../../src/data/index.js';
import { BertConfig, BertForSequenceClassification, LlamaConfig, LlamaForCausalLM } from '../../src/models/index.js';
import { getBackend, manualSeed, Tensor } from '../../src/tensor/index.js';
import {
  averageCheckpoints,
  classificationMetrics,
  lengthGroupedOrder,
  EarlyStoppingCallback,
  Trainer,
  TrainingArguments,
  TrainingError,
  type TrainingInputs,
  type TrainingArgumentsInit,
} from '../../src/training/index.js';

const root = mkdtempSync(join(tmpdir(), 'attn-trainer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let runs = 0;
const freshDir = (): string => join(root, `run-${runs++}`);

/** A tiny BERT classifier, with dropout so that resuming must restore the RNG too. */
function tinyModel(seed = 0): BertForSequenceClassification {
  manualSeed(seed);
  return new BertForSequenceClassification(
    new BertConfig({
      vocab_size: 20,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 16,
      hidden_dropout_prob: 0.1,
    }),
  );
}

/** Label 1 when token 3 occurs: learnable in a few steps. Rows have different lengths, so batches get padding. */
function toyData(rows: number, seed = 1): Dataset {
  let x = seed;
  const next = (n: number): number => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x % n;
  };
  const records = Array.from({ length: rows }, () => {
    const ids = Array.from({ length: 3 + next(5) }, () => 4 + next(16));
    const label = next(2);
    if (label === 1) ids[next(ids.length)] = 3;
    else for (let i = 0; i < ids.length; i++) if (ids[i] === 3) ids[i] = 4;
    return { text: 'unused', input_ids: [2, ...ids], label };
  });
  return Dataset.fromRecords(records, 'toy');
}

function args(init: Partial<TrainingArgumentsInit>): TrainingArguments {
  return new TrainingArguments({
    outputDir: freshDir(),
    progress: false,
    learningRate: 3e-3,
    perDeviceTrainBatchSize: 4,
    saveStrategy: 'no',
    loggingSteps: 5,
    ...init,
  });
}

function weights(model: BertForSequenceClassification): number[] {
  return model.parameters().flatMap((p) => Array.from(p.data));
}

describe('Trainer', () => {
  it('resumes the same trajectory: 20 steps straight equal 10 + resume + 10, bit for bit', async () => {
    // 18 rows in batches of 4 with accumulation 2: epochs end mid-update, so the data position must resume exactly.
    const common = { maxSteps: 20, gradientAccumulationSteps: 2, warmupSteps: 3, weightDecay: 0.01, seed: 7 } as const;
    const straight = tinyModel();
    await new Trainer({ model: straight, args: args(common), trainDataset: toyData(18) }).train();

    const outputDir = freshDir();
    const first = tinyModel();
    // The same run, saving at step 10; stopped there by a callback, as an interrupted run would be.
    await new Trainer({
      model: first,
      args: args({ ...common, outputDir, saveStrategy: 'steps', saveSteps: 10 }),
      trainDataset: toyData(18),
      callbacks: [
        { onStepEnd: ({ state, control }) => void (state.globalStep === 10 && (control.shouldTrainingStop = true)) },
      ],
    }).train();
    expect(readdirSync(outputDir).filter((n) => n.startsWith('checkpoint-'))).toEqual(['checkpoint-10']);
    const checkpoint = join(outputDir, 'checkpoint-10');
    for (const file of [
      'model.safetensors',
      'config.json',
      'optimizer.safetensors',
      'optimizer.json',
      'scheduler.json',
      'rng_state.json',
      'trainer_state.json',
    ]) {
      expect(existsSync(join(checkpoint, file)), file).toBe(true);
    }

    const resumed = tinyModel(99); // different initial weights: everything must come from the checkpoint
    const output = await new Trainer({
      model: resumed,
      args: args({ ...common, outputDir }),
      trainDataset: toyData(18),
    }).train({ resumeFromCheckpoint: checkpoint });
    expect(output.globalStep).toBe(20);
    expect(weights(resumed)).toEqual(weights(straight));
  });

  it('learns, evaluates with computeMetrics and writes trainer_state.json with the log history', async () => {
    const model = tinyModel();
    const training = args({
      numTrainEpochs: 4,
      evalStrategy: 'epoch',
      loggingStrategy: 'steps',
      loggingSteps: 10,
      perDeviceEvalBatchSize: 16,
    });
    const trainer = new Trainer({
      model,
      args: training,
      trainDataset: toyData(160),
      evalDataset: toyData(64, 5),
      computeMetrics: classificationMetrics,
    });
    const before = await trainer.evaluate();
    await trainer.train();
    const after = await trainer.evaluate();
    expect(after.eval_loss).toBeLessThan(before.eval_loss!);
    expect(after.eval_accuracy).toBeGreaterThan(0.8);
    const state = JSON.parse(readFileSync(join(training.outputDir, 'trainer_state.json'), 'utf8'));
    expect(state.globalStep).toBe(160);
    const history = state.logHistory as Array<Record<string, number>>;
    expect(history.filter((e) => 'loss' in e).map((e) => e.step)).toEqual([
      10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110, 120, 130, 140, 150, 160,
    ]);
    expect(history.filter((e) => 'eval_accuracy' in e && e.step > 0).map((e) => e.epoch)).toEqual([1, 2, 3, 4, 4]);
    for (const e of history.filter((e) => 'loss' in e)) expect(e.learning_rate).toBeGreaterThanOrEqual(0);
    expect(history.at(-2)!.train_tokens_per_second).toBeGreaterThan(0);
  });

  it('follows the inverse square-root schedule after warmup, which needs no total length', async () => {
    const trainer = new Trainer({
      model: tinyModel(),
      args: args({
        maxSteps: 12,
        loggingSteps: 4,
        warmupSteps: 4,
        learningRate: 1e-3,
        lrSchedulerType: 'inverse_sqrt',
      }),
      trainDataset: toyData(8),
    });
    await trainer.train();
    // The rate logged at step s is the one that update used: factor(s - 1).
    const rates = trainer.state.logHistory.filter((e) => 'learning_rate' in e).map((e) => e.learning_rate!);
    expect(rates[0]).toBeCloseTo(1e-3 * (3 / 4), 12);
    expect(rates[1]).toBeCloseTo(1e-3 * Math.sqrt(4 / 7), 12);
    expect(rates[2]).toBeCloseTo(1e-3 * Math.sqrt(4 / 11), 12);
  });

  it('keeps saveTotalLimit checkpoints plus the best, and reloads the best at the end', async () => {
    const training = args({
      maxSteps: 12,
      evalStrategy: 'steps',
      evalSteps: 3,
      saveStrategy: 'steps',
      saveSteps: 3,
      saveTotalLimit: 1,
      loadBestModelAtEnd: true,
      metricForBestModel: 'accuracy',
    });
    const model = tinyModel();
    const trainer = new Trainer({
      model,
      args: training,
      trainDataset: toyData(40),
      evalDataset: toyData(16, 3),
      computeMetrics: classificationMetrics,
    });
    await trainer.train();
    const kept = readdirSync(training.outputDir).filter((n) => n.startsWith('checkpoint-'));
    const best = trainer.state.bestModelCheckpoint!;
    expect(kept).toContain(best.split('/').pop());
    expect(kept.length).toBeLessThanOrEqual(2);
    const evals = trainer.state.logHistory.filter((e) => 'eval_accuracy' in e);
    expect(trainer.state.bestMetric).toBe(Math.max(...evals.map((e) => e.eval_accuracy!)));
  });

  it('stops early when the metric does not improve', async () => {
    const training = args({ maxSteps: 50, learningRate: 0, evalStrategy: 'steps', evalSteps: 2 });
    const trainer = new Trainer({
      model: tinyModel(),
      args: training,
      trainDataset: toyData(20),
      evalDataset: toyData(8),
      callbacks: [new EarlyStoppingCallback({ patience: 2 })],
    });
    const output = await trainer.train();
    // lr 0 never changes eval_loss: the first evaluation sets the best, two more without improvement stop.
    expect(output.globalStep).toBe(6);
  });

  it('rejects bad input with messages that name the problem', () => {
    const model = tinyModel();
    const noLabel = Dataset.fromRecords([{ input_ids: [1, 2] }], 'sst2/train.tsv');
    expect(() => new Trainer({ model, args: args({}), trainDataset: noLabel })).toThrow(
      /sst2\/train.tsv: missing column 'label' \(needed for training\)/,
    );
    const unknownLabel = Dataset.fromRecords(
      [
        { input_ids: [1, 2], label: 'positive' },
        { input_ids: [1], label: 'neutral' },
      ],
      'reviews',
    );
    const named = new BertForSequenceClassification(
      new BertConfig({ ...model.config.toJSON(), id2label: { 0: 'negative', 1: 'positive' } }),
    );
    expect(() => new Trainer({ model: named, args: args({}), trainDataset: unknownLabel })).toThrow(
      /row 1 has label "neutral", which is not in label2id \(known: "negative", "positive"\)/,
    );
    const outOfRange = Dataset.fromRecords([{ input_ids: [1], label: 2 }], 'numbers');
    expect(() => new Trainer({ model, args: args({}), trainDataset: outOfRange })).toThrow(
      /row 0 has label 2, which is not in label2id/,
    );
    const empty = toyData(4).filter(() => false);
    expect(() => new Trainer({ model, args: args({}), evalDataset: empty })).toThrow(
      /has no rows \(needed for evaluation\)/,
    );
    expect(() => args({ lrSchedulerType: 'linaer' as never })).toThrow(
      /lrSchedulerType: expected one of "linear", .* got "linaer"/,
    );
    expect(() => args({ loadBestModelAtEnd: true })).toThrow(/loadBestModelAtEnd needs evalStrategy/);
  });

  it('stops at a NaN loss, names the step and keeps the last good checkpoint', async () => {
    const model = tinyModel();
    const forward = model.forward.bind(model);
    let calls = 0;
    // The loss turns NaN on the 7th update.
    model.forward = (inputs: TrainingInputs) => {
      const out = forward(inputs as never);
      return ++calls === 7 ? { ...out, loss: out.loss!.mul(Tensor.from([Number.NaN])) } : out;
    };
    // Eager: the patched forward counts calls in JS, which a compiled step replays without calling.
    const training = args({ maxSteps: 10, saveStrategy: 'steps', saveSteps: 5, stepMode: 'eager' });
    const trainer = new Trainer({ model, args: training, trainDataset: toyData(40) });
    const error = await trainer.train().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(
      /training stopped at step 7 .*the loss is NaN; the weights were not updated; the last good checkpoint is .*checkpoint-5/,
    );
    expect(weights(model).every(Number.isFinite)).toBe(true);
  });

  it('compiled: a diverging step is not written back, and the error names it', async () => {
    const model = tinyModel();
    // A learning rate this large overflows the logits within a few steps.
    const trainer = new Trainer({
      model,
      args: args({ maxSteps: 10, learningRate: 1e30, warmupSteps: 0, maxGradNorm: 0 }),
      trainDataset: toyData(40),
    });
    const error = await trainer.train().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TrainingError);
    expect((error as Error).message).toMatch(
      /training stopped at step \d+ .*the (loss|gradient norm) is (NaN|Infinity); the weights were not updated/,
    );
    expect(weights(model).every(Number.isFinite)).toBe(true);
  });

  it('compiled and eager steps give the same losses and weights (1e-5) over 20 steps', async () => {
    const run = async (stepMode: 'compiled' | 'eager'): Promise<{ losses: number[]; weights: number[] }> => {
      const model = tinyModel();
      const trainer = new Trainer({
        model,
        args: args({
          maxSteps: 20,
          gradientAccumulationSteps: 2,
          loggingSteps: 1,
          warmupSteps: 2,
          weightDecay: 0.01,
          seed: 3,
          stepMode,
        }),
        trainDataset: toyData(30),
        // One collator for both, so both see the same padded shapes.
        dataCollator: new DataCollatorWithPadding({ padTokenId: 0, padToMultipleOf: 16 }),
      });
      await trainer.train();
      // Compiled steps need onnxruntime; on the reference backend both runs are eager.
      if (stepMode === 'compiled' && getBackend().name === 'onnx') {
        // Every step computed by a graph: each new shape recorded (then undone and replayed), the rest replayed.
        const modes = trainer.lastStepModes!;
        expect(modes.eager).toBe(0);
        expect(modes.captured).toBeGreaterThan(0);
        expect(modes.captured + modes.replayed).toBe(20);
      }
      const losses = trainer.state.logHistory.filter((e) => e.loss !== undefined).map((e) => e.loss!);
      return { losses, weights: weights(model) };
    };
    const compiled = await run('compiled');
    const eager = await run('eager');
    expect(compiled.losses).toHaveLength(20);
    compiled.losses.forEach((l, i) => expect(Math.abs(l - eager.losses[i]!)).toBeLessThan(1e-5));
    let worst = 0;
    compiled.weights.forEach((w, i) => (worst = Math.max(worst, Math.abs(w - eager.weights[i]!))));
    expect(worst).toBeLessThan(1e-5);
  });

  it('smooths labels as HF does: (1 − ε)·CE + ε·mean −log p, on the next token for a causal LM', () => {
    class LossProbe extends Trainer {
      loss(batch: Batch): number {
        return this.computeLoss(batch).item();
      }
    }
    const epsilon = 0.1;
    /** The expected loss from logits (N, C) and targets (N), -100 skipped, written out in plain JS. */
    const smoothed = (logits: Tensor, targets: number[]): number => {
      const c = logits.shape[logits.rank - 1]!;
      let total = 0;
      let kept = 0;
      targets.forEach((target, row) => {
        if (target === -100) return;
        const z = Array.from(logits.data.subarray(row * c, (row + 1) * c));
        const max = Math.max(...z);
        const logSum = max + Math.log(z.reduce((sum, v) => sum + Math.exp(v - max), 0));
        const logp = z.map((v) => v - logSum);
        total += (1 - epsilon) * -logp[target]! + (epsilon * -logp.reduce((a, b) => a + b, 0)) / c;
        kept++;
      });
      return total / kept;
    };

    const classifier = tinyModel();
    classifier.eval();
    const inputIds = new Tensor(Int32Array.from([2, 5, 3, 7, 2, 9, 4, 0]), [2, 4]);
    const attentionMask = new Tensor(Int32Array.from([1, 1, 1, 1, 1, 1, 1, 0]), [2, 4]);
    const probe = new LossProbe({ model: classifier, args: args({ labelSmoothingFactor: epsilon }) });
    const loss = probe.loss({
      input_ids: inputIds,
      attention_mask: attentionMask,
      labels: new Tensor(Int32Array.from([1, 0]), [2]),
    });
    expect(loss).toBeCloseTo(smoothed(classifier.forward({ inputIds, attentionMask }).logits, [1, 0]), 5);

    manualSeed(0);
    const lm = new LlamaForCausalLM(
      new LlamaConfig({
        model_type: 'llama',
        vocab_size: 30,
        hidden_size: 16,
        intermediate_size: 24,
        num_hidden_layers: 1,
        num_attention_heads: 2,
        max_position_embeddings: 16,
      }),
    );
    const ids = [3, 8, 1, 20, 11];
    const labels = [3, 8, -100, 20, 11];
    const lmProbe = new LossProbe({ model: lm, args: args({ labelSmoothingFactor: epsilon }) });
    const tokens = new Tensor(Int32Array.from(ids), [1, 5]);
    const lmLoss = lmProbe.loss({ input_ids: tokens, labels: new Tensor(Int32Array.from(labels), [1, 5]) });
    // Logits at t score the label at t + 1: drop the last position's logits and the first label.
    const logits = lm.forward({ inputIds: tokens }).logits.slice(1, 0, 4).reshape([4, 30]);
    expect(lmLoss).toBeCloseTo(smoothed(logits, labels.slice(1)), 5);
    expect(() => args({ labelSmoothingFactor: 1 })).toThrow(/labelSmoothingFactor/);
  });

  it("averages checkpoints: the weights become the mean of the folders' weights", async () => {
    const dirs = [freshDir(), freshDir()];
    const sources = [tinyModel(0), tinyModel(1)];
    await Promise.all(sources.map((model, i) => model.savePretrained(dirs[i]!)));
    const averaged = tinyModel(2);
    await averageCheckpoints(dirs, averaged);
    const [a, b] = sources.map(weights) as [number[], number[]];
    const mean = weights(averaged);
    expect(mean.length).toBe(a.length);
    mean.forEach((v, i) => expect(v).toBeCloseTo((a[i]! + b[i]!) / 2, 6));
    await expect(averageCheckpoints([], averaged)).rejects.toThrow(/no checkpoint folders/);
  });

  it('groups rows by length (HF group_by_length): a permutation, sorted within each megabatch, a function of the seed', async () => {
    const data = toyData(500, 4);
    const lengths = (data.column('input_ids') as number[][]).map((ids) => ids.length);
    const order = (seed: number): number[] =>
      (
        lengthGroupedOrder(
          data.map((row, i) => ({ ...row, index: i })),
          4,
          seed,
        ).column('index') as number[]
      ).slice();
    const first = order(9);
    expect([...first].sort((a, b) => a - b)).toEqual(lengths.map((_, i) => i));
    expect(order(9)).toEqual(first);
    expect(order(10)).not.toEqual(first);
    // Megabatches of 50 batches of 4 = 200 rows, each sorted longest first.
    for (let start = 0; start < first.length; start += 200) {
      const group = first.slice(start, start + 200).map((i) => lengths[i]!);
      expect(group).toEqual([...group].sort((a, b) => b - a));
    }
    expect(() => lengthGroupedOrder(Dataset.fromRecords([{ text: 'a' }]), 4, 0)).toThrow(/no 'input_ids' column/);
    // Training with it is deterministic: two runs with the same seed log the same losses.
    const run = async (): Promise<number[]> => {
      const trainer = new Trainer({
        model: tinyModel(),
        args: args({ maxSteps: 6, groupByLength: true, seed: 5, loggingSteps: 1 }),
        trainDataset: toyData(40),
      });
      await trainer.train();
      return trainer.state.logHistory.flatMap((entry) => (entry.loss === undefined ? [] : [entry.loss]));
    };
    expect(await run()).toEqual(await run());
  });
});
