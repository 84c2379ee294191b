/**
 * Knowledge distillation (Hinton et al. 2015; the recipe DistilBERT and transformers' examples use): a student learns
 * from a teacher's soft targets at temperature T as well as from the hard labels,
 *
 *   loss = α·T²·KL(softmax(teacher/T) ‖ softmax(student/T)) + (1 − α)·CE(student, label)     labelled rows
 *   loss = T²·KL(softmax(teacher/T) ‖ softmax(student/T))                                    unlabelled rows
 *
 * averaged over the rows (T² keeps the soft term's gradients on the scale of the hard one's as T grows).
 *
 * The teacher runs once, before training: its logits over the training set become a `teacher_logits` column
 * (batched, without gradients), so each step costs only the student's forward and backward, and the step stays one
 * captured graph (compiled training) whatever the teacher is. A dataset may also bring that column itself (an
 * ensemble's averaged logits, a teacher with another tokenizer). Unlabelled rows have no `label` column, or a null
 * (or -100) label in it.
 */
import { DataCollatorWithPadding, type Batch, type Dataset, type Feature } from '../data/index.js';
import * as F from '../nn/functional.js';
import { noGrad, tidy } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  batchToInputs,
  Trainer,
  TrainingError,
  type EvalPrediction,
  type TrainableModel,
  type TrainerOptions,
} from './trainer.js';

/** The dataset column holding each row's teacher logits (one number per class). */
export const TEACHER_LOGITS = 'teacher_logits';

export interface DistillationLossOptions {
  /** Softens both distributions; 1 is none. Default 2. */
  temperature?: number;
  /** Weight of the soft (teacher) term on labelled rows; 1 − alpha goes to the hard labels. Default 0.5. */
  alpha?: number;
}

function checkLossOptions(options: DistillationLossOptions): { temperature: number; alpha: number } {
  const { temperature = 2, alpha = 0.5 } = options;
  if (!(temperature > 0 && Number.isFinite(temperature)))
    throw new RangeError(`distillation: temperature must be a number > 0, got ${temperature}`);
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`distillation: alpha must be in [0, 1], got ${alpha}`);
  return { temperature, alpha };
}

/**
 * The loss of the file comment for student and teacher logits (N, C) and int32 labels (N) where -100 marks an
 * unlabelled row (null: every row unlabelled). Tensor ops only, so a captured training step records it.
 */
export function distillationLoss(
  student: Tensor,
  teacher: Tensor,
  labels: Tensor | null,
  options: DistillationLossOptions = {},
): Tensor {
  const { temperature: t, alpha } = checkLossOptions(options);
  if (student.rank !== 2 || teacher.shape.join() !== student.shape.join()) {
    throw new RangeError(
      `distillationLoss: student logits (${student.shape.join(', ')}) and teacher logits (${teacher.shape.join(', ')}) must both be (N, C)`,
    );
  }
  const teacherLogProbs = ops.logSoftmax(ops.div(teacher, t), -1); // (N, C)
  const studentLogProbs = ops.logSoftmax(ops.div(student, t), -1); // (N, C)
  const kl = ops.sum(ops.mul(ops.exp(teacherLogProbs), ops.sub(teacherLogProbs, studentLogProbs)), -1); // (N)
  const soft = ops.mul(kl, t * t);
  if (!labels) return ops.mean(soft);
  const labelled = ops.cast(ops.logicalNot(ops.eq(labels, -100)), 'float32'); // (N)
  const hard = F.crossEntropy(student, labels, { reduction: 'none' }); // (N), 0 where unlabelled
  // Labelled rows weigh the soft term by α, unlabelled ones take it whole.
  const softWeight = ops.add(ops.mul(labelled, alpha - 1), 1);
  return ops.mean(ops.add(ops.mul(soft, softWeight), ops.mul(hard, 1 - alpha)));
}

const TEACHER_COLUMNS = ['input_ids', 'attention_mask', 'token_type_ids'];

/** The teacher's logits for every row of `dataset` (tokenized with the teacher's vocabulary), batched, no gradients. */
export function teacherLogits(
  teacher: TrainableModel,
  dataset: Dataset,
  options: { batchSize?: number; padTokenId?: number } = {},
): number[][] {
  const collator = new DataCollatorWithPadding({ padTokenId: options.padTokenId ?? teacher.config?.padTokenId ?? 0 });
  const wasTraining = teacher.training;
  teacher.eval();
  const out: number[][] = [];
  try {
    noGrad(() => {
      for (const rows of dataset.batches(options.batchSize ?? 64)) {
        tidy(() => {
          const inputs = rows.map(
            (row) => Object.fromEntries(TEACHER_COLUMNS.filter((c) => c in row).map((c) => [c, row[c]])) as Feature,
          );
          const logits = teacher.forward(batchToInputs(collator.collate(inputs))).logits; // (B, C)
          const width = logits.shape[logits.rank - 1]!;
          const data = logits.data;
          for (let i = 0; i < rows.length; i++) out.push(Array.from(data.subarray(i * width, (i + 1) * width)));
        });
      }
    });
  } finally {
    teacher.train(wasTraining);
  }
  return out;
}

export interface DistillationOptions extends DistillationLossOptions {
  /** The teacher (same tokenization as the student); not needed when the training set has `teacher_logits`. */
  teacher?: TrainableModel;
  /** Rows per teacher forward pass (default 64). */
  teacherBatchSize?: number;
}

export type DistillationTrainerOptions<P = EvalPrediction> = TrainerOptions<P> & { distillation: DistillationOptions };

const isUnlabelled = (v: unknown): boolean => v === null || v === undefined || v === -100 || v === '';

/**
 * A Trainer whose training loss is the distillation loss (see the file comment); evaluation is the student's own
 * loss and metrics on the evaluation set, as with any Trainer.
 */
export class DistillationTrainer<P = EvalPrediction> extends Trainer<P> {
  readonly temperature: number;
  readonly alpha: number;

  constructor(options: DistillationTrainerOptions<P>) {
    const { teacher, teacherBatchSize, ...loss } = options.distillation;
    const checked = checkLossOptions(loss);
    const train = options.trainDataset;
    let trainDataset = train;
    if (train && !train.columnNames.includes(TEACHER_LOGITS)) {
      if (!teacher)
        throw new TrainingError(
          `DistillationTrainer: the training set has no '${TEACHER_LOGITS}' column, so distillation.teacher is needed`,
        );
      trainDataset = train.addColumn(TEACHER_LOGITS, teacherLogits(teacher, train, { batchSize: teacherBatchSize }));
    }
    super({ ...options, trainDataset });
    this.temperature = checked.temperature;
    this.alpha = checked.alpha;
  }

  /**
   * Keeps `teacher_logits` past the column filter, and lets rows go unlabelled: their label becomes -100 after the
   * labelled rows' names are encoded.
   */
  protected override prepareDataset(dataset: Dataset, purpose: string): Dataset {
    if (!dataset.columnNames.includes(TEACHER_LOGITS)) return super.prepareDataset(dataset, purpose);
    const logits = dataset.column(TEACHER_LOGITS as never) as unknown[];
    const rest = dataset.removeColumns([TEACHER_LOGITS as never]);
    const raw = rest.columnNames.includes('label') ? (rest.column('label' as never) as unknown[]) : null;
    const filler = raw?.find((v) => !isUnlabelled(v)) ?? 0;
    const filled = rest.addColumn('label', raw ? raw.map((v) => (isUnlabelled(v) ? filler : v)) : logits.map(() => 0));
    const prepared = super.prepareDataset(filled, purpose);
    const encoded = (prepared.column('label' as never) as unknown[]).map((v, i) =>
      raw === null || isUnlabelled(raw[i]) ? -100 : v,
    );
    return prepared.addColumn('label', encoded).addColumn(TEACHER_LOGITS, logits);
  }

  protected override computeLoss(batch: Batch): Tensor {
    const { [TEACHER_LOGITS]: teacher, labels, ...inputs } = batch;
    if (!teacher) return super.computeLoss(batch);
    const student = this.model.forward(batchToInputs(inputs)).logits; // (B, C)
    // The collator pads every list column (to a multiple of 16 for compiled steps): the classes are the first C.
    const classes = ops.slice(
      teacher.dtype === 'float32' ? teacher : ops.cast(teacher, 'float32'),
      1,
      0,
      student.shape[1]!,
    );
    return distillationLoss(student, classes, labels ?? null, { temperature: this.temperature, alpha: this.alpha });
  }
}
