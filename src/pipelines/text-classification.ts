/**
 * text-classification / sentiment-analysis: `[{ label, score }]` per text, as Hugging Face's pipeline.
 * Scores are a softmax over the labels, or a per-label sigmoid when the model is multi-label or has one output
 * (transformers' `function_to_apply` default).
 *
 * A folder whose config.json has `ngram_head` ships an n-gram classifier beside the transformer
 * (models/ngram/modeling_ngram.ts): the pipeline adds its weighted logit to the transformer's, as one ensemble.
 * `pipeline(task, model, { ngramHead: false })` leaves it out, giving the transformer alone as transformers would.
 */
import { join } from 'node:path';
import type { PretrainedConfig } from '../models/configuration_utils.js';
import { NgramClassifier, NgramHeadError, type NgramHeadConfig } from '../models/ngram/modeling_ngram.js';
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

/**
 * An n-gram classifier whose logit joins the transformer's: `weight` is its share, the transformer's 1 − weight, and
 * the weighted logits are divided by `temperature`.
 */
export interface NgramEnsembleMember {
  classifier: NgramClassifier;
  weight: number;
  temperature: number;
}

/**
 * The n-gram ensemble member config.json names (`ngram_head`), or null when it names none. The head is binary, so
 * a model with other than two single-label outputs is refused, naming the folder.
 */
export async function loadNgramHead(dir: string, config: PretrainedConfig): Promise<NgramEnsembleMember | null> {
  const entry = config.rawField('ngram_head');
  if (entry === undefined || entry === null) return null;
  const where = join(dir, 'config.json');
  if (typeof entry !== 'object' || Array.isArray(entry))
    throw new NgramHeadError(`${where}: ngram_head is ${JSON.stringify(entry)}, expected an object`);
  if (config.numLabels !== 2 || config.problemType === 'multi_label_classification')
    throw new NgramHeadError(
      `${where}: ngram_head is a binary classifier, but the model has ${config.numLabels} labels` +
        (config.problemType === 'multi_label_classification' ? ' (multi-label)' : ''),
    );
  const head = entry as NgramHeadConfig;
  return { classifier: await NgramClassifier.load(dir, head), weight: head.weight, temperature: head.temperature ?? 1 };
}

export interface TextClassificationPipeline {
  /** One text: its best `topK` labels. */
  (text: string, options?: TextClassificationOptions): Promise<ClassificationLabel[]>;
  /** A batch: one label per text with topK 1 (the default), else the top labels of each text. */
  (texts: string[], options?: TextClassificationOptions): Promise<ClassificationLabel[] | ClassificationLabel[][]>;
}

export class TextClassificationPipeline extends Pipeline<SequenceClassificationModel> {
  readonly task: string = 'text-classification';
  /** The folder's n-gram classifier, when it ships one and the pipeline was asked to use it. */
  ngramHead: NgramEnsembleMember | null = null;

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
    const head = this.ngramHead;
    return this.inBatches(texts, (batch) =>
      inference(() => {
        return rowsOf(this.logits(this.encode(batch))).map((row, i) => {
          if (head !== null) {
            // ((1 − w)·[l0, l1] + w·[0, z]) / t: the softmax is sigmoid(((1 − w)(l1 − l0) + w·z) / t).
            row = row.map((l) => ((1 - head.weight) * l) / head.temperature);
            row[1] += (head.weight * head.classifier.logit(batch[i]!)) / head.temperature;
          }
          return perLabel ? Array.from(row, sigmoid) : softmax(row);
        });
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
