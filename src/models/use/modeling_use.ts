/**
 * Universal Sentence Encoder Lite (Cer et al. 2018, the "lite" transformer of TF-Hub) as an attn module. It
 * computes what the TF.js graph computes (see convert_tfjs.ts for the node-by-node mapping):
 *
 *   x  = 2·embedding(ids) + timing_signal(position)                      (B, T, E)
 *   per layer (tensor2tensor pre-LN, the first widening E → C):
 *     h  = attention(LN(x)) + residual_projection(x)   (identity when the widths agree)
 *     x' = h + ffn(LN(h))                               ffn: C → I → C with ReLU
 *   pooled = Σ_t mask·x / max(Σ_t mask, 1)                               (B, C)
 *   output = tanh(pooled W + b), optionally L2-normalised                (B, C)
 *
 * The graph gathers real tokens before each FFN and scatters them back; running every position densely instead
 * gives the same real-token values, because padding keys are masked out of attention and out of the mean.
 *
 * Shapes: B batch, T tokens, E embedding_size, C hidden_size, I intermediate_size, H attention heads.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from '../../nn/attention.js';
import { feedForward } from '../../nn/feedforward.js';
import { activation, Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import { sinusoidalTable } from '../../nn/positional.js';
import * as ops from '../../tensor/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { AutoTokenizer } from '../../tokenizers/auto.js';
import type { PreTrainedTokenizer } from '../../tokenizers/tokenizer.js';
import { registerModel } from '../auto/registry.js';
import { ConfigError } from '../configuration_utils.js';
import type { BaseModelOutput, ModelInputs, SequenceClassifierOutput } from '../modeling_outputs.js';
import { checkContextWindow, PreTrainedModel, sequenceClassificationLoss } from '../modeling_utils.js';
import { UseConfig } from './configuration_use.js';

export interface SentenceEncodeOptions {
  /** Divide each embedding by its L2 norm, as the published model's output is (default true). */
  normalize?: boolean;
  /** Sentences per forward pass (default 32); texts are grouped by token length so little padding is computed. */
  batchSize?: number;
}

/** The graph's l2_normalize floor on the squared norm. */
const L2_EPSILON = 1e-12;

/**
 * tensor2tensor's `get_timing_signal_1d`, (maxPositions, E): sin(p·τᵢ) in the first half, cos(p·τᵢ) in the second,
 * τᵢ = 1/min · (min/max)^(i/(E/2 - 1)). Products are rounded to float32 first, as the graph multiplies in float32.
 */
export function timingSignal(
  maxPositions: number,
  channels: number,
  minTimescale: number,
  maxTimescale: number,
): Tensor {
  const inverse = inverseTimescales(channels / 2, minTimescale, maxTimescale);
  return sinusoidalTable(maxPositions, channels, 'half', (p, i) => Math.fround(p * inverse[i]!));
}

/** The τᵢ of the timing signal, in float32 as the graph holds them. */
export function inverseTimescales(count: number, minTimescale: number, maxTimescale: number): Float32Array {
  const increment = Math.log(maxTimescale / minTimescale) / Math.max(count - 1, 1);
  return Float32Array.from({ length: count }, (_, i) => (1 / minTimescale) * Math.exp(-i * increment));
}

export class UseEmbeddings extends Module {
  word_embeddings: Embedding;

  constructor(config: UseConfig) {
    super();
    this.word_embeddings = new Embedding(config.vocabSize, config.embeddingSize, { std: config.initializerRange });
    const { maxPositionEmbeddings, embeddingSize, minTimescale, maxTimescale } = config;
    // Recomputed from the config rather than saved: the checkpoint holds only trained weights.
    this.registerBuffer(
      'timing_signal',
      timingSignal(maxPositionEmbeddings, embeddingSize, minTimescale, maxTimescale),
      false,
    );
  }

  /**
   * 2·embedding + timing signal. The doubling is the graph's: its AddTimingSignal step returns x + signal and the
   * stack then adds that to x again as a residual (TransformerStack/Layer_0/add).
   */
  forward(inputIds: Tensor): Tensor {
    const t = inputIds.shape[1]!;
    const x = this.word_embeddings.forward(inputIds);
    return ops.add(x, ops.add(x, ops.slice(this.buffer('timing_signal'), 0, 0, t))); // (B, T, E)
  }
}

/** Multi-head self-attention with one fused q/k/v projection; it works at its input width and projects to C. */
export class UseAttention extends Module {
  qkv: Linear;
  output: Linear;

  constructor(
    config: UseConfig,
    inputSize: number,
    private readonly heads = config.numAttentionHeads,
  ) {
    super();
    if (inputSize % heads !== 0)
      throw new ConfigError(`${config.source}: width ${inputSize} is not divisible by num_attention_heads ${heads}`);
    const std = config.initializerRange;
    this.qkv = new Linear(inputSize, 3 * inputSize, { std });
    this.output = new Linear(inputSize, config.hiddenSize, { std });
  }

  forward(x: Tensor, bias: Tensor | null): { output: Tensor; weights: Tensor } {
    const qkv = this.qkv.forward(x); // (B, T, 3·W)
    const width = qkv.shape[2]! / 3;
    const part = (i: number): Tensor => splitHeads(ops.slice(qkv, 2, i * width, (i + 1) * width), this.heads);
    const { output, weights } = scaledDotProductAttention(part(0), part(1), part(2), { mask: bias });
    return { output: this.output.forward(mergeHeads(output)), weights }; // (B, T, C)
  }
}

export class UseFeedForward extends Module {
  intermediate: Linear;
  output: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: UseConfig) {
    super();
    const std = config.initializerRange;
    this.intermediate = new Linear(config.hiddenSize, config.intermediateSize, { std });
    this.output = new Linear(config.intermediateSize, config.hiddenSize, { std });
    this.act = activation(config.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return feedForward(x, this.intermediate, this.output, { activation: this.act });
  }
}

export class UseLayer extends Module {
  attention_layer_norm: LayerNorm;
  attention: UseAttention;
  /** tensor2tensor's AdjustResidualInput: present only where the layer widens its input. */
  residual_projection: Linear | null;
  ffn_layer_norm: LayerNorm;
  ffn: UseFeedForward;
  dropout: Dropout;

  constructor(config: UseConfig, inputSize: number) {
    super();
    this.attention_layer_norm = new LayerNorm(inputSize, config.layerNormEps);
    this.attention = new UseAttention(config, inputSize);
    this.residual_projection =
      inputSize === config.hiddenSize
        ? null
        : new Linear(inputSize, config.hiddenSize, { std: config.initializerRange });
    this.ffn_layer_norm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.ffn = new UseFeedForward(config);
    this.dropout = new Dropout(config.hiddenDropoutProb);
  }

  forward(x: Tensor, bias: Tensor | null): { hidden: Tensor; weights: Tensor } {
    const { output, weights } = this.attention.forward(this.attention_layer_norm.forward(x), bias);
    const residual = this.residual_projection ? this.residual_projection.forward(x) : x;
    const attended = ops.add(this.dropout.forward(output), residual);
    const transformed = this.dropout.forward(this.ffn.forward(this.ffn_layer_norm.forward(attended)));
    return { hidden: ops.add(attended, transformed), weights };
  }
}

export class UseEncoder extends Module {
  layer: ModuleList<UseLayer>;

  constructor(config: UseConfig) {
    super();
    this.layer = new ModuleList(
      Array.from({ length: config.numHiddenLayers }, (_, i) => new UseLayer(config, config.layerInputSize(i))),
    );
  }
}

export class UsePooler extends Module {
  dense: Linear;

  constructor(config: UseConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize, { std: config.initializerRange });
  }

  /** Masked mean over tokens, then tanh(dense): hidden (B, T, C), mask (B, T) → (B, C). */
  forward(hidden: Tensor, mask: Tensor): Tensor {
    const weights = ops.unsqueeze(ops.cast(mask, 'float32'), 2); // (B, T, 1)
    const counts = ops.maximum(ops.sum(weights, 1), 1); // (B, 1): an empty row pools to zeros, as in the graph
    return ops.tanh(this.dense.forward(ops.div(ops.sum(ops.mul(hidden, weights), 1), counts)));
  }
}

export class UseModel extends PreTrainedModel<UseConfig> {
  static override readonly configClass = UseConfig;
  static override readonly baseModelPrefix = 'use';

  embeddings: UseEmbeddings;
  encoder: UseEncoder;
  pooler: UsePooler;
  /** The tokenizer `encode` uses; found beside config.json on first use when not set. */
  tokenizer: PreTrainedTokenizer | null = null;

  constructor(config: UseConfig) {
    super(config);
    this.embeddings = new UseEmbeddings(config);
    this.encoder = new UseEncoder(config);
    this.pooler = new UsePooler(config);
  }

  /** lastHiddenState (B, T, C) and poolerOutput (B, C): the tanh layer's output before normalisation. */
  forward(inputs: ModelInputs): BaseModelOutput {
    const { inputIds, outputHiddenStates, outputAttentions } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    checkContextWindow(t, this.config.maxPositionEmbeddings, 'UseModel', 'max_position_embeddings');
    const mask = inputs.attentionMask ?? new Tensor(new Int32Array(b * t).fill(1), [b, t]);
    const bias = attentionBias(mask, { batch: b, queryLength: t, keyLength: t, causal: false });
    let hidden = this.embeddings.forward(inputIds);
    const hiddenStates: Tensor[] = [hidden];
    const attentions: Tensor[] = [];
    for (const layer of this.encoder.layer) {
      const out = layer.forward(hidden, bias);
      hidden = out.hidden;
      hiddenStates.push(hidden);
      attentions.push(out.weights);
    }
    return {
      lastHiddenState: hidden,
      poolerOutput: this.pooler.forward(hidden, mask),
      hiddenStates: outputHiddenStates ? hiddenStates : undefined,
      attentions: outputAttentions ? attentions : undefined,
    };
  }

  /**
   * Sentence embeddings (N, C) for `texts`, batched with padding. Tokens past max_position_embeddings are dropped,
   * as the original graph does. Differentiable when autograd is on: wrap in `noGrad` for inference.
   */
  encode(texts: string[], options: SentenceEncodeOptions = {}): Tensor {
    const { normalize = true, batchSize = 32 } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`UseModel.encode: batchSize must be a whole number >= 1, got ${batchSize}`);
    if (texts.length === 0) return new Tensor(new Float32Array(0), [0, this.config.hiddenSize]);
    const tokenizer = this.getTokenizer();
    const rows = texts.map((text) => tokenizeLikeOriginal(tokenizer, text).slice(0, this.config.maxPositionEmbeddings));
    // Grouping rows of similar length keeps padding (wasted work) small; the order is restored at the end.
    const order = rows.map((_, i) => i).sort((a, b) => rows[a]!.length - rows[b]!.length);
    const batches: Tensor[] = [];
    for (let start = 0; start < order.length; start += batchSize) {
      const { inputIds, attentionMask } = padRows(order.slice(start, start + batchSize).map((i) => rows[i]!));
      batches.push(this.forward({ inputIds, attentionMask }).poolerOutput!);
    }
    const inverse = new Int32Array(order.length);
    order.forEach((row, position) => (inverse[row] = position));
    const pooled = ops.indexSelect(
      batches.length === 1 ? batches[0]! : ops.concat(batches, 0),
      new Tensor(inverse, [order.length]),
      0,
    );
    return normalize ? l2Normalize(pooled) : pooled;
  }

  /** The tokenizer `encode` uses: `this.tokenizer`, or the tokenizer.json beside the config.json the model was loaded from. */
  getTokenizer(): PreTrainedTokenizer {
    if (this.tokenizer) return this.tokenizer;
    // Models built by fromPretrained / AutoModel remember where config.json was; the tokenizer sits beside it.
    const dir = dirname(this.config.source);
    if (!existsSync(join(dir, 'tokenizer.json'))) {
      throw new Error(
        `UseModel.encode: no tokenizer: ${join(dir, 'tokenizer.json')} does not exist; set model.tokenizer = await AutoTokenizer.fromPretrained(<model folder>)`,
      );
    }
    this.tokenizer = AutoTokenizer.fromDirectory(dir);
    return this.tokenizer;
  }
}

/**
 * Token ids as the original JavaScript tokenizer gives them. The one difference tokenizer.json cannot express: an
 * empty text has no tokens there, while the Prepend normalizer would still produce "▁".
 */
export function tokenizeLikeOriginal(tokenizer: PreTrainedTokenizer, text: string): number[] {
  return text === '' ? [] : tokenizer.encodeIds(text, { addSpecialTokens: false });
}

/** Right-padded int32 ids and mask (B, T) for rows of token ids; padding uses id 0 and is masked out. */
function padRows(rows: number[][]): { inputIds: Tensor; attentionMask: Tensor } {
  const t = Math.max(1, ...rows.map((r) => r.length));
  const ids = new Int32Array(rows.length * t);
  const mask = new Int32Array(rows.length * t);
  rows.forEach((row, b) => {
    ids.set(row, b * t);
    mask.fill(1, b * t, b * t + row.length);
  });
  return { inputIds: new Tensor(ids, [rows.length, t]), attentionMask: new Tensor(mask, [rows.length, t]) };
}

/** x / sqrt(max(Σx², 1e-12)) over the last axis, as tf.nn.l2_normalize. */
export function l2Normalize(x: Tensor): Tensor {
  return ops.mul(x, ops.rsqrt(ops.maximum(ops.sum(ops.mul(x, x), -1, true), L2_EPSILON)));
}

/** A classification head on the sentence embedding (the tanh output, before normalisation). */
export class UseForSequenceClassification extends PreTrainedModel<UseConfig> {
  static override readonly configClass = UseConfig;
  static override readonly baseModelPrefix = 'use';

  use: UseModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: UseConfig) {
    super(config);
    this.use = new UseModel(config);
    this.dropout = new Dropout(config.classifierDropout);
    this.classifier = new Linear(config.hiddenSize, config.numLabels, { std: config.initializerRange });
  }

  forward(inputs: ModelInputs): SequenceClassifierOutput {
    const out = this.use.forward(inputs);
    const logits = this.classifier.forward(this.dropout.forward(out.poolerOutput!)); // (B, numLabels)
    return {
      logits,
      loss: inputs.labels ? sequenceClassificationLoss(logits, inputs.labels, this.config) : undefined,
      hiddenStates: out.hiddenStates,
      attentions: out.attentions,
    };
  }
}

registerModel('use', { config: UseConfig, base: UseModel, sequenceClassification: UseForSequenceClassification });
