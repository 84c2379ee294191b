/**
 * text-classification / sentiment-analysis: `[{ label, score }]` per text, as Hugging Face's pipeline.
 * Scores are a softmax over the labels, or a per-label sigmoid when the model is multi-label or has one output
 * (transformers' `function_to_apply` default).
 */
import type { SequenceClassificationModel } from '../models/modeling_outputs.js';
import type { Tensor } from '../tensor/tensor.js';
import {
  argsortDescending,
  inference,
  Pipeline,
  PipelineInputError,
  rowsOf,
  sigmoid,
  softmax,
  textBatch,
  type TokenizedBatch,
} from './base.js';

export interface ClassificationLabel {
  label: string;
  score: number;
}

export interface TextClassificationOptions {
  /** How many labels to return per text, best first (default 1); `null` returns all. */
  topK?: number | null;
}

export interface TextClassificationPipeline {
  /** One text: its best `topK` labels. */
  (text: string, options?: TextClassificationOptions): Promise<ClassificationLabel[]>;
  /** A batch: one label per text with topK 1 (the default), else the top labels of each text. */
  (texts: string[], options?: TextClassificationOptions): Promise<ClassificationLabel[] | ClassificationLabel[][]>;
}

export class TextClassificationPipeline extends Pipeline<SequenceClassificationModel> {
  readonly task: string = 'text-classification';

  /** The model's logits (B, numLabels) for tokenized inputs. */
  logits(inputs: TokenizedBatch): Tensor {
    const model = this.model;
    return this.runEncoderByRows('logits', inputs, (x) => ({ logits: model.forward(x).logits })).logits!;
  }

  /** The label probabilities of each text, in the model's label order. */
  scores(texts: string[]): Promise<number[][]> {
    this.checkUsable();
    const config = this.model.config;
    const perLabel = config.problemType === 'multi_label_classification' || config.numLabels === 1;
    return this.inBatches(texts, (batch) =>
      inference(() => {
        return rowsOf(this.logits(this.encode(batch))).map((row) =>
          perLabel ? Array.from(row, sigmoid) : softmax(row),
        );
      }),
    );
  }

  protected async run(
    input: unknown,
    options: TextClassificationOptions = {},
  ): Promise<ClassificationLabel[] | ClassificationLabel[][]> {
    const { texts, single } = textBatch(input);
    const labels = this.model.config.id2label;
    const topK = options.topK === null ? Object.keys(labels).length : (options.topK ?? 1);
    if (!Number.isInteger(topK) || topK < 1)
      throw new PipelineInputError(`topK must be a whole number >= 1 (or null for all labels), got ${options.topK}`);
    const results = (await this.scores(texts)).map((probs) =>
      argsortDescending(probs)
        .slice(0, topK)
        .map((i) => ({ label: labels[i] ?? `LABEL_${i}`, score: probs[i]! })),
    );
    if (single) return results[0]!;
    return topK === 1 && options.topK !== null ? results.map((r) => r[0]!) : results;
  }
}
