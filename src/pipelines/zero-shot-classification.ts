/**
 * zero-shot-classification: labels the user chooses at call time, `{ sequence, labels, scores }` sorted best
 * first. Two ways to score, chosen by the model folder:
 * - an NLI checkpoint (a classifier whose labels include "entailment…"): each label becomes the hypothesis
 *   `hypothesisTemplate` filled with it, paired with the text as premise, exactly as transformers'
 *   ZeroShotClassificationPipeline — a softmax of the entailment logits over the labels, or with `multiLabel`
 *   (or a single label) a softmax of entailment against contradiction for each label on its own;
 * - a sentence encoder (the default): the cosine similarity of the text's embedding to each hypothesis', a
 *   softmax of similarity / SIMILARITY_TEMPERATURE over the labels, or with `multiLabel` (1 + cosine) / 2 per label.
 */
import { argsortDescending, inference, Pipeline, PipelineInputError, rowsOf, softmax, textBatch } from './base.js';
import { dot, type FeatureExtractionPipeline } from './feature-extraction.js';
import type { TextClassificationPipeline } from './text-classification.js';

export interface ZeroShotOptions {
  /** The labels to choose from: an array, or one comma-separated string (as transformers accepts). */
  candidateLabels: string[] | string;
  /** The hypothesis each label is put in; `{}` marks the label. Default 'This example is {}.' */
  hypothesisTemplate?: string;
  /** Score each label on its own (several may be true) instead of making them compete. Default false. */
  multiLabel?: boolean;
}

export interface ZeroShotResult {
  sequence: string;
  labels: string[];
  scores: number[];
}

/**
 * Similarities of sentence embeddings lie in a narrow band (mostly 0.1–0.6 for unrelated to related text); a
 * temperature of 0.05 (as contrastive sentence encoders are trained with) spreads them into usable probabilities.
 */
export const SIMILARITY_TEMPERATURE = 0.05;

const DEFAULT_TEMPLATE = 'This example is {}.';

/** The labels come in the options, or as the second argument (as transformers.js takes them) with options third. */
export interface ZeroShotClassificationPipeline {
  (text: string, options: ZeroShotOptions): Promise<ZeroShotResult>;
  (texts: string[], options: ZeroShotOptions): Promise<ZeroShotResult[]>;
  (
    text: string,
    labels: string[] | string,
    options?: Omit<ZeroShotOptions, 'candidateLabels'>,
  ): Promise<ZeroShotResult>;
  (
    texts: string[],
    labels: string[] | string,
    options?: Omit<ZeroShotOptions, 'candidateLabels'>,
  ): Promise<ZeroShotResult[]>;
}

export class ZeroShotClassificationPipeline extends Pipeline {
  readonly task: string = 'zero-shot-classification';

  /** `scorer` is an NLI classifier pipeline (its labels include entailment) or a sentence encoder. */
  constructor(private readonly scorer: TextClassificationPipeline | FeatureExtractionPipeline) {
    super(scorer.model, scorer.tokenizer, { batchSize: scorer.batchSize });
  }

  /** The entailment label's index when the model is an NLI classifier, else undefined (a sentence encoder). */
  get entailmentId(): number | undefined {
    if (this.scorer.task !== 'text-classification') return undefined;
    const entry = Object.entries(this.model.config.label2id).find(([label]) =>
      label.toLowerCase().startsWith('entail'),
    );
    if (entry === undefined) {
      throw new PipelineInputError(
        `zero-shot-classification needs an NLI model whose labels include 'entailment', or a sentence encoder; this classifier's labels are ${Object.keys(this.model.config.label2id).join(', ')}`,
      );
    }
    return entry[1];
  }

  protected async run(
    input: unknown,
    labelsOrOptions?: unknown,
    rest?: unknown,
  ): Promise<ZeroShotResult | ZeroShotResult[]> {
    const byPosition = typeof labelsOrOptions === 'string' || Array.isArray(labelsOrOptions);
    const options = (byPosition ? { ...(rest as object), candidateLabels: labelsOrOptions } : labelsOrOptions) as
      ZeroShotOptions | undefined;
    const { texts, single } = textBatch(input);
    const labels = candidateLabels(options?.candidateLabels);
    const template = options?.hypothesisTemplate ?? DEFAULT_TEMPLATE;
    if (!template.includes('{}')) {
      throw new PipelineInputError(
        `hypothesisTemplate '${template}' has no '{}' to put the label in, e.g. 'This example is {}.'`,
      );
    }
    const hypotheses = labels.map((label) => template.replaceAll('{}', label));
    // One label cannot compete with others: it is scored on its own, as transformers does.
    const multiLabel = (options?.multiLabel ?? false) || labels.length === 1;
    const scores =
      this.entailmentId === undefined
        ? await this.bySimilarity(texts, hypotheses, multiLabel)
        : await this.byEntailment(texts, hypotheses, multiLabel);
    const results = texts.map((sequence, i) => {
      const order = argsortDescending(scores[i]!);
      return { sequence, labels: order.map((j) => labels[j]!), scores: order.map((j) => scores[i]![j]!) };
    });
    return single ? results[0]! : results;
  }

  private async byEntailment(texts: string[], hypotheses: string[], multiLabel: boolean): Promise<number[][]> {
    const classifier = this.scorer as TextClassificationPipeline;
    const entailment = this.entailmentId!;
    // transformers' choice: the contradiction logit is the first, or the last when entailment is the first.
    const contradiction = entailment === 0 ? this.model.config.numLabels - 1 : 0;
    const pairs = texts.flatMap((premise) => hypotheses.map((hypothesis) => ({ premise, hypothesis })));
    const logits = await this.inBatches(pairs, (batch) =>
      inference(() => {
        const inputs = this.encode(
          batch.map((p) => p.premise),
          { pairs: batch.map((p) => p.hypothesis) },
        );
        return rowsOf(classifier.logits(inputs)); // (pairs, numLabels)
      }),
    );
    return texts.map((_, i) => {
      const rows = logits.slice(i * hypotheses.length, (i + 1) * hypotheses.length);
      if (multiLabel) return rows.map((row) => softmax([row[contradiction]!, row[entailment]!])[1]!);
      return softmax(rows.map((row) => row[entailment]!));
    });
  }

  private async bySimilarity(texts: string[], hypotheses: string[], multiLabel: boolean): Promise<number[][]> {
    const encoder = this.scorer as FeatureExtractionPipeline;
    const labelVectors = await encoder.embed(hypotheses);
    const textVectors = await encoder.embed(texts);
    return textVectors.map((text) => {
      const similarities = labelVectors.map((label) => dot(text, label));
      return multiLabel
        ? similarities.map((s) => (1 + s) / 2)
        : softmax(similarities.map((s) => s / SIMILARITY_TEMPERATURE));
    });
  }
}

/** The candidate labels as a clean list; none at all is an error, not an empty result. */
export function candidateLabels(given: unknown): string[] {
  const list = typeof given === 'string' ? given.split(',') : given;
  if (!Array.isArray(list)) {
    throw new PipelineInputError(
      "zero-shot-classification needs candidateLabels: an array like ['sports', 'politics'] or 'sports,politics'",
    );
  }
  const labels = list.map((label) => (typeof label === 'string' ? label.trim() : '')).filter((label) => label !== '');
  if (labels.length === 0)
    throw new PipelineInputError('zero-shot-classification needs at least one candidate label; got none');
  return labels;
}
