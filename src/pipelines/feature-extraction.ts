/**
 * feature-extraction: the hidden states of an encoder, per token or pooled into one vector per text. The same
 * pipeline is the sentence encoder behind zero-shot classification by similarity and extractive summarization.
 */
import type { BaseModel, BaseModelOutput } from '../models/modeling_outputs.js';
import type { Tensor } from '../tensor/tensor.js';
import { inference, Pipeline, PipelineInputError, textBatch } from './base.js';

/**
 * 'none': one vector per token (Hugging Face's default); 'mean': the mean over the tokens (padding excluded);
 * 'cls': the first token's; 'pooler': the model's own pooled output (BERT's tanh layer, a sentence encoder's
 * sentence embedding).
 */
export type Pooling = 'none' | 'mean' | 'cls' | 'pooler';
const POOLINGS: readonly Pooling[] = ['none', 'mean', 'cls', 'pooler'];

/**
 * Model types whose own pooled output is a trained sentence embedding (Universal Sentence Encoder: a masked mean
 * and a tanh layer). Other encoders' pooler (BERT's next-sentence layer) is not one; their sentences are mean-pooled.
 */
const SENTENCE_POOLING: Readonly<Record<string, Exclude<Pooling, 'none'>>> = { use: 'pooler' };

export interface FeatureExtractionOptions {
  /** Default: 'pooler' for sentence encoders (model_type 'use'), else 'none'. */
  pooling?: Pooling;
  /** Scale each vector to unit length (pooled outputs only). Default false. */
  normalize?: boolean;
}

export interface FeatureExtractionPipeline {
  /** Pooled: a vector; 'none': a vector per token. */
  (text: string, options?: FeatureExtractionOptions): Promise<number[] | number[][]>;
  (texts: string[], options?: FeatureExtractionOptions): Promise<number[][] | number[][][]>;
}

export class FeatureExtractionPipeline extends Pipeline<BaseModel> {
  readonly task: string = 'feature-extraction';

  /** The pooling used when the caller names none: a sentence encoder's own, else one vector per token. */
  get defaultPooling(): Pooling {
    return SENTENCE_POOLING[this.model.config.modelType] ?? 'none';
  }

  /** One vector per text (sentence embeddings, unit length by default), for similarity and for `attn run`. */
  embed(texts: string[], normalize = true): Promise<Float32Array[]> {
    return this.features(texts, this.sentencePooling, normalize) as Promise<Float32Array[]>;
  }

  /** A sentence encoder's own pooling, else the token mean. */
  get sentencePooling(): Exclude<Pooling, 'none'> {
    return SENTENCE_POOLING[this.model.config.modelType] ?? 'mean';
  }

  private features(
    texts: string[],
    pooling: Pooling,
    normalize: boolean,
  ): Promise<Array<Float32Array | Float32Array[]>> {
    this.checkUsable();
    return this.inBatches(texts, (batch) =>
      inference(() => {
        const inputs = this.encode(batch);
        const out = this.runEncoder('states', inputs, (x) => {
          const { lastHiddenState, poolerOutput } = this.model.forward(x);
          const states: Record<string, Tensor> = { lastHiddenState };
          if (poolerOutput) states.poolerOutput = poolerOutput;
          return states;
        }) as unknown as BaseModelOutput;
        return batch.map((_, row) => {
          if (pooling === 'none') return tokenVectors(out.lastHiddenState, inputs.attentionMask, row);
          const vector = pooled(out, inputs.attentionMask, row, pooling);
          return normalize ? unitLength(vector) : vector;
        });
      }),
    );
  }

  protected async run(input: unknown, options: FeatureExtractionOptions = {}): Promise<unknown> {
    const { texts, single } = textBatch(input);
    const pooling = options.pooling ?? this.defaultPooling;
    if (!POOLINGS.includes(pooling))
      throw new PipelineInputError(`pooling must be one of ${POOLINGS.join(', ')}, got '${pooling}'`);
    if (options.normalize && pooling === 'none')
      throw new PipelineInputError("normalize needs pooled vectors: pass pooling 'mean', 'cls' or 'pooler'");
    const vectors = await this.features(texts, pooling, options.normalize ?? false);
    const plain = vectors.map((v) => (v instanceof Float32Array ? Array.from(v) : v.map((t) => Array.from(t))));
    return single ? plain[0] : plain;
  }
}

/** Row `row` of (B, T, C) hidden states, its padding positions left out: (T', C). */
function tokenVectors(hidden: Tensor, mask: Tensor, row: number): Float32Array[] {
  const [, t, c] = hidden.shape as [number, number, number];
  const vectors: Float32Array[] = [];
  for (let i = 0; i < t; i++) {
    if (mask.data[row * t + i])
      vectors.push(Float32Array.from(hidden.data.subarray((row * t + i) * c, (row * t + i + 1) * c)));
  }
  return vectors;
}

function pooled(out: BaseModelOutput, mask: Tensor, row: number, pooling: Exclude<Pooling, 'none'>): Float32Array {
  if (pooling === 'pooler') {
    if (!out.poolerOutput) throw new PipelineInputError("this model has no pooled output: use pooling 'mean' or 'cls'");
    const c = out.poolerOutput.shape[1]!;
    return Float32Array.from(out.poolerOutput.data.subarray(row * c, (row + 1) * c));
  }
  const tokens = tokenVectors(out.lastHiddenState, mask, row);
  if (pooling === 'cls') return tokens[0]!;
  const mean = new Float32Array(tokens[0]!.length);
  for (const vector of tokens) for (let j = 0; j < mean.length; j++) mean[j]! += vector[j]! / tokens.length;
  return mean;
}

export function unitLength(vector: Float32Array): Float32Array {
  let norm = 0;
  for (const x of vector) norm += x * x;
  norm = Math.sqrt(norm) || 1;
  return vector.map((x) => x / norm);
}

/** Dot product: the cosine similarity of unit vectors. */
export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}
