import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Dataset } from '../../src/data/index.js';
import { DistilBertConfig } from '../../src/models/distilbert/configuration_distilbert.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { noGrad } from '../../src/tensor/engine.js';
import { manualSeed } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import {
  DistillationTrainer,
  distillationLoss,
  teacherLogits,
  TEACHER_LOGITS,
} from '../../src/training/distillation.js';
import { TrainingArguments } from '../../src/training/training_args.js';

const out = mkdtempSync(join(tmpdir(), 'attn-distil-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

function logSoftmax(row: number[]): number[] {
  const max = Math.max(...row);
  const log = Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0)) + max;
  return row.map((v) => v - log);
}

describe('distillationLoss', () => {
  it('matches a hand computation: α·T²·KL + (1 − α)·CE on labelled rows, T²·KL on unlabelled ones', () => {
    const student = [
      [1, 0.5, -1],
      [0.2, 0.1, 0.3],
      [-2, 3, 0],
    ];
    const teacher = [
      [2, 0, -2],
      [0, 1, 0],
      [0.5, 0.5, 1],
    ];
    const labels = [0, -100, 2];
    const [t, alpha] = [2, 0.3];
    let expected = 0;
    for (let i = 0; i < 3; i++) {
      const lt = logSoftmax(teacher[i]!.map((v) => v / t));
      const ls = logSoftmax(student[i]!.map((v) => v / t));
      const kl = lt.reduce((s, v, c) => s + Math.exp(v) * (v - ls[c]!), 0);
      const ce = labels[i] === -100 ? 0 : -logSoftmax(student[i]!)[labels[i]!]!;
      expected += labels[i] === -100 ? t * t * kl : alpha * t * t * kl + (1 - alpha) * ce;
    }
    expected /= 3;
    const tensor = (rows: number[][]) => new Tensor(Float32Array.from(rows.flat()), [rows.length, rows[0]!.length]);
    const got = distillationLoss(tensor(student), tensor(teacher), new Tensor(Int32Array.from(labels), [3]), {
      temperature: t,
      alpha,
    });
    expect(got.item()).toBeCloseTo(expected, 5);
    // No labels at all: the mean T²·KL.
    const soft = distillationLoss(tensor(student), tensor(teacher), null, { temperature: 1 });
    const kl0 = student.map((s, i) =>
      logSoftmax(teacher[i]!).reduce((acc, v, c) => acc + Math.exp(v) * (v - logSoftmax(s)[c]!), 0),
    );
    expect(soft.item()).toBeCloseTo(kl0.reduce((a, b) => a + b) / 3, 5);
  });

  it('refuses a bad temperature or alpha', () => {
    const x = new Tensor(new Float32Array(4), [2, 2]);
    expect(() => distillationLoss(x, x, null, { temperature: 0 })).toThrow(/temperature must be a number > 0, got 0/);
    expect(() => distillationLoss(x, x, null, { alpha: 1.5 })).toThrow(/alpha must be in \[0, 1\], got 1.5/);
  });
});

function tinyDistilBert(dim: number, layers: number, seed: number): DistilBertForSequenceClassification {
  manualSeed(seed);
  const config = new DistilBertConfig(
    {
      model_type: 'distilbert',
      vocab_size: 40,
      dim,
      n_layers: layers,
      n_heads: 2,
      hidden_dim: 2 * dim,
      max_position_embeddings: 32,
      id2label: { 0: 'a', 1: 'b', 2: 'c' },
      dropout: 0,
      attention_dropout: 0,
      seq_classif_dropout: 0,
    },
    'test',
  );
  return new DistilBertForSequenceClassification(config);
}

/** Mean KL(teacher ‖ student) over the rows, at temperature 1. */
function meanKl(student: DistilBertForSequenceClassification, teacher: number[][], rows: Dataset): number {
  const studentLogits = teacherLogits(student, rows);
  return (
    studentLogits.reduce((sum, s, i) => {
      const lt = logSoftmax(teacher[i]!);
      const ls = logSoftmax(s);
      return sum + lt.reduce((acc, v, c) => acc + Math.exp(v) * (v - ls[c]!), 0);
    }, 0) / studentLogits.length
  );
}

describe('DistillationTrainer', () => {
  it("moves a tiny student toward a tiny teacher's predictions on unlabelled and labelled rows", async () => {
    const teacher = tinyDistilBert(32, 2, 1);
    // A confident teacher: its head scaled up, so its soft targets are far from uniform.
    noGrad(() => teacher.classifier.weight.assign(teacher.classifier.weight.mul(400)));
    const rng = (i: number) => ((i * 2654435761) >>> 0) % 37;
    const ids = Array.from({ length: 96 }, (_, r) =>
      Array.from({ length: 6 + (r % 4) }, (_, j) => 1 + rng(r * 13 + j)),
    );
    // Half the rows labelled (with the teacher's own answer), half not.
    const soft = teacherLogits(teacher, Dataset.fromColumns({ input_ids: ids }));
    const labels = soft.map((row, i) => (i % 2 === 0 ? ['a', 'b', 'c'][row.indexOf(Math.max(...row))]! : null));
    const train = Dataset.fromColumns({ input_ids: ids, label: labels });
    const student = tinyDistilBert(16, 1, 7);
    const before = meanKl(student, soft, train);
    const trainer = new DistillationTrainer({
      model: student,
      args: new TrainingArguments({
        outputDir: out,
        progress: false,
        maxSteps: 120,
        learningRate: 1e-2,
        perDeviceTrainBatchSize: 16,
        saveStrategy: 'no',
        loggingSteps: 20,
      }),
      trainDataset: train,
      distillation: { teacher, temperature: 2, alpha: 0.5 },
    });
    expect(trainer.trainDataset!.columnNames).toContain(TEACHER_LOGITS);
    expect(trainer.trainDataset!.column('label' as never).slice(0, 2)).toEqual([expect.any(Number), -100]);
    await trainer.train();
    const after = meanKl(student, soft, train);
    expect(after).toBeLessThan(before / 10); // measured: 0.69 → 0.016
  });
});
