/**
 * Seq2SeqTrainer: the Trainer for encoder–decoder models, which can evaluate by generating (predictWithGenerate),
 * so computeMetrics scores real outputs (BLEU, ROUGE) rather than teacher-forced logits.
 */
import { IGNORE_INDEX, type Dataset } from '../data/index.js';
import { generate } from '../generation/index.js';
import type { Seq2SeqLM } from '../models/modeling_outputs.js';
import { tidy } from '../tensor/engine.js';
import type { LogEntry } from './callbacks.js';
import { Trainer, type EvalPrediction, type TrainerOptions } from './trainer.js';
import { rejectUnknownFields, TrainingArguments, type TrainingArgumentsInit } from './training_args.js';

export interface Seq2SeqTrainingArgumentsInit extends TrainingArgumentsInit {
  /** Evaluate and predict with generate(): computeMetrics gets generated token ids. Default false. */
  predictWithGenerate?: boolean;
  /** New tokens per generated sequence. Default 64. */
  generationMaxNewTokens?: number;
  /** Beam width for evaluation. Default 1 (greedy). */
  generationNumBeams?: number;
}

export class Seq2SeqTrainingArguments extends TrainingArguments {
  readonly predictWithGenerate: boolean;
  readonly generationMaxNewTokens: number;
  readonly generationNumBeams: number;

  constructor(init: Seq2SeqTrainingArgumentsInit) {
    super(init);
    this.predictWithGenerate = init.predictWithGenerate ?? false;
    this.generationMaxNewTokens = init.generationMaxNewTokens ?? 64;
    this.generationNumBeams = init.generationNumBeams ?? 1;
    for (const field of ['generationMaxNewTokens', 'generationNumBeams'] as const) {
      if (!Number.isInteger(this[field]) || this[field] < 1)
        throw new RangeError(`Seq2SeqTrainingArguments.${field}: expected a whole number >= 1, got ${this[field]}`);
    }
    if (new.target === Seq2SeqTrainingArguments) rejectUnknownFields(init, this);
  }
}

/**
 * With predictWithGenerate, `predictions` are the generated ids (decoder start token dropped) and `labelIds` the
 * reference ids (padding -100 dropped): decode both with the tokenizer to score text.
 */
function isSeq2SeqLM(model: object): model is Seq2SeqLM {
  return typeof (model as Partial<Seq2SeqLM>).encode === 'function';
}

export class Seq2SeqTrainer extends Trainer {
  constructor(options: TrainerOptions & { args: Seq2SeqTrainingArguments }) {
    super(options);
  }

  /** The model as generation sees it: predictWithGenerate needs an encoder–decoder model (one with `encode`). */
  private seq2seqModel(): Seq2SeqLM {
    const model = this.model;
    if (!isSeq2SeqLM(model))
      throw new Error(
        `Seq2SeqTrainer: predictWithGenerate needs an encoder–decoder model, got ${model.constructor.name}`,
      );
    return model;
  }

  private get seq2seqArgs(): Seq2SeqTrainingArguments {
    return this.args as Seq2SeqTrainingArguments;
  }

  protected override async predictionLoop(
    dataset: Dataset,
    prefix: string,
    collect: boolean,
  ): Promise<EvalPrediction & { metrics: LogEntry }> {
    const args = this.seq2seqArgs;
    if (!args.predictWithGenerate || !collect) return super.predictionLoop(dataset, prefix, collect);
    // The teacher-forced loss first (no logits kept), then generation for the metrics.
    const { metrics } = await super.predictionLoop(dataset, prefix, false);
    const started = performance.now();
    const wasTraining = this.model.training;
    this.model.eval();
    const predictions: number[][] = [];
    const labelIds: number[][] = [];
    try {
      for (const rows of dataset.batches(args.perDeviceEvalBatchSize)) {
        tidy(() => {
          const batch = this.dataCollator.collate(rows);
          const output = generate(this.seq2seqModel(), batch['input_ids']!, {
            attentionMask: batch['attention_mask'] ?? null,
            maxNewTokens: args.generationMaxNewTokens,
            numBeams: args.generationNumBeams,
          });
          // Row 0 of each sequence is the decoder start token.
          predictions.push(...output.sequences.map((ids) => ids.slice(1)));
          const labels = batch['labels'];
          if (labels) {
            const width = labels.shape[1]!;
            for (let i = 0; i < rows.length; i++)
              labelIds.push(
                Array.from(labels.data.subarray(i * width, (i + 1) * width)).filter((id) => id !== IGNORE_INDEX),
              );
          }
        });
      }
    } finally {
      this.model.train(wasTraining);
    }
    const prediction = { predictions, labelIds };
    if (this.computeMetrics) {
      for (const [k, v] of Object.entries(this.computeMetrics(prediction)))
        metrics[k.startsWith(`${prefix}_`) ? k : `${prefix}_${k}`] = v;
    }
    metrics[`${prefix}_generate_runtime`] = Math.round(performance.now() - started) / 1000;
    return { ...prediction, metrics };
  }
}
