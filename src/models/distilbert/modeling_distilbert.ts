/**
 * DistilBERT (Sanh et al. 2019) with transformers' parameter names: BERT's post-LN encoder without token types or
 * pooler; classification reads the first token through `pre_classifier` → ReLU → `classifier`.
 *
 * Shapes: B batch, T tokens, C dim, H n_heads, D = C / H head size, I hidden_dim (feed-forward), V vocabulary.
 */
import { attentionBias, multiHeadAttention } from '../../nn/attention.js';
import { feedForward } from '../../nn/feedforward.js';
import { activation, Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import * as ops from '../../tensor/ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import { pruneAttentionHeads } from '../pruning.js';
import { ConfigError } from '../configuration_utils.js';
import type {
  BaseModelOutput,
  ModelInputs,
  QuestionAnsweringInputs,
  QuestionAnsweringModelOutput,
  SequenceClassifierOutput,
  TokenClassifierOutput,
} from '../modeling_outputs.js';
import {
  checkContextWindow,
  defaultPositionIds,
  PreTrainedModel,
  questionAnsweringOutput,
  runLayers,
  sequenceClassificationLoss,
  tokenClassifierOutput,
  type LayerOutput,
} from '../modeling_utils.js';
import { DistilBertConfig } from './configuration_distilbert.js';

/** DistilBERT's LayerNorm epsilon is fixed in transformers' code, not read from the config. */
const LAYER_NORM_EPS = 1e-12;

export class DistilBertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(config: DistilBertConfig) {
    super();
    this.word_embeddings = new Embedding(config.vocabSize, config.dim, { std: config.initializerRange });
    this.position_embeddings = new Embedding(config.maxPositionEmbeddings, config.dim, {
      std: config.initializerRange,
    });
    this.LayerNorm = new LayerNorm(config.dim, LAYER_NORM_EPS);
    this.dropout = new Dropout(config.dropout);
  }

  forward(inputIds: Tensor): Tensor {
    const x = ops.add(
      this.word_embeddings.forward(inputIds),
      this.position_embeddings.forward(defaultPositionIds(inputIds.shape[1]!, 0)),
    );
    return this.dropout.forward(this.LayerNorm.forward(x)); // (B, T, C)
  }
}

export class MultiHeadSelfAttention extends Module {
  q_lin: Linear;
  k_lin: Linear;
  v_lin: Linear;
  out_lin: Linear;
  dropout: Dropout;

  constructor(
    config: DistilBertConfig,
    private heads = config.nHeads,
  ) {
    super();
    const { dim, initializerRange: std } = config;
    if (dim % heads !== 0) throw new ConfigError(`${config.source}: dim ${dim} is not divisible by n_heads ${heads}`);
    this.q_lin = new Linear(dim, dim, { std });
    this.k_lin = new Linear(dim, dim, { std });
    this.v_lin = new Linear(dim, dim, { std });
    this.out_lin = new Linear(dim, dim, { std });
    this.dropout = new Dropout(config.attentionDropout);
  }

  forward(x: Tensor, bias: Tensor | null): { output: Tensor; weights: Tensor } {
    const [q, k, v] = [this.q_lin.forward(x), this.k_lin.forward(x), this.v_lin.forward(x)]; // each (B, T, C)
    const { context, weights } = multiHeadAttention(q, k, v, this.heads, {
      mask: bias,
      dropoutP: this.dropout.p,
      training: this.training,
    });
    return { output: this.out_lin.forward(context), weights };
  }

  /** Heads removed so far, by original index (see models/pruning.ts). */
  readonly prunedHeads = new Set<number>();

  /** transformers' prune_heads: the heads' query/key/value rows and output columns go. */
  pruneHeads(heads: readonly number[]): void {
    const layout = { heads: this.heads, projections: [this.q_lin, this.k_lin, this.v_lin], output: this.out_lin };
    const pruned = pruneAttentionHeads(heads, this.prunedHeads, layout);
    if (!pruned) return;
    [this.q_lin, this.k_lin, this.v_lin] = pruned.projections as [Linear, Linear, Linear];
    this.out_lin = pruned.output;
    this.heads = pruned.heads;
  }
}

export class FFN extends Module {
  lin1: Linear;
  lin2: Linear;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: DistilBertConfig) {
    super();
    this.lin1 = new Linear(config.dim, config.hiddenDim, { std: config.initializerRange });
    this.lin2 = new Linear(config.hiddenDim, config.dim, { std: config.initializerRange });
    this.dropout = new Dropout(config.dropout);
    this.act = activation(config.activation);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(feedForward(x, this.lin1, this.lin2, { activation: this.act }));
  }
}

export class TransformerBlock extends Module {
  attention: MultiHeadSelfAttention;
  sa_layer_norm: LayerNorm;
  ffn: FFN;
  output_layer_norm: LayerNorm;

  constructor(config: DistilBertConfig) {
    super();
    this.attention = new MultiHeadSelfAttention(config);
    this.sa_layer_norm = new LayerNorm(config.dim, LAYER_NORM_EPS);
    this.ffn = new FFN(config);
    this.output_layer_norm = new LayerNorm(config.dim, LAYER_NORM_EPS);
  }

  forward(x: Tensor, bias: Tensor | null): LayerOutput {
    const { output, weights } = this.attention.forward(x, bias);
    const attended = this.sa_layer_norm.forward(ops.add(output, x));
    return { hidden: this.output_layer_norm.forward(ops.add(this.ffn.forward(attended), attended)), weights };
  }
}

/** HF's `transformer` field (the layer stack); named apart from nn's encoder–decoder `Transformer`. */
export class DistilBertTransformer extends Module {
  layer: ModuleList<TransformerBlock>;

  constructor(config: DistilBertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: config.nLayers }, () => new TransformerBlock(config)));
  }
}

export class DistilBertModel extends PreTrainedModel<DistilBertConfig> {
  static override readonly configClass = DistilBertConfig;
  static override readonly baseModelPrefix = 'distilbert';

  embeddings: DistilBertEmbeddings;
  transformer: DistilBertTransformer;

  constructor(config: DistilBertConfig) {
    super(config);
    this.embeddings = new DistilBertEmbeddings(config);
    this.transformer = new DistilBertTransformer(config);
  }

  forward(inputs: ModelInputs): BaseModelOutput {
    const { inputIds, attentionMask, outputHiddenStates, outputAttentions } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    checkContextWindow(t, this.config.maxPositionEmbeddings, 'DistilBertModel', 'max_position_embeddings');
    const bias = attentionBias(attentionMask, { batch: b, queryLength: t, keyLength: t, causal: false });
    return runLayers(this.transformer.layer, this.embeddings.forward(inputIds), (block, h) => block.forward(h, bias), {
      outputHiddenStates,
      outputAttentions,
    });
  }
}

export class DistilBertForSequenceClassification extends PreTrainedModel<DistilBertConfig> {
  static override readonly configClass = DistilBertConfig;
  static override readonly baseModelPrefix = 'distilbert';

  distilbert: DistilBertModel;
  pre_classifier: Linear;
  classifier: Linear;
  dropout: Dropout;

  constructor(config: DistilBertConfig) {
    super(config);
    this.distilbert = new DistilBertModel(config);
    this.pre_classifier = new Linear(config.dim, config.dim, { std: config.initializerRange });
    this.classifier = new Linear(config.dim, config.numLabels, { std: config.initializerRange });
    this.dropout = new Dropout(config.seqClassifDropout);
  }

  forward(inputs: ModelInputs): SequenceClassifierOutput {
    const out = this.distilbert.forward(inputs);
    const first = ops.squeeze(ops.slice(out.lastHiddenState, 1, 0, 1), 1); // (B, C)
    const pooled = this.dropout.forward(ops.relu(this.pre_classifier.forward(first)));
    const logits = this.classifier.forward(pooled); // (B, numLabels)
    return {
      logits,
      loss: inputs.labels ? sequenceClassificationLoss(logits, inputs.labels, this.config) : undefined,
      hiddenStates: out.hiddenStates,
      attentions: out.attentions,
    };
  }
}

/** DistilBERT with a label per token (NER): dropout, then a linear classifier on every hidden state. */
export class DistilBertForTokenClassification extends PreTrainedModel<DistilBertConfig> {
  static override readonly configClass = DistilBertConfig;
  static override readonly baseModelPrefix = 'distilbert';

  distilbert: DistilBertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: DistilBertConfig) {
    super(config);
    this.distilbert = new DistilBertModel(config);
    this.dropout = new Dropout(config.dropout);
    this.classifier = new Linear(config.dim, config.numLabels, { std: config.initializerRange });
  }

  forward(inputs: ModelInputs): TokenClassifierOutput {
    const out = this.distilbert.forward(inputs);
    return tokenClassifierOutput(
      out,
      this.classifier.forward(this.dropout.forward(out.lastHiddenState)),
      inputs.labels,
    ); // (B, T, numLabels)
  }
}

/** DistilBERT for extractive QA (distilbert-base-cased-distilled-squad): qa_dropout, then start/end logits per token. */
export class DistilBertForQuestionAnswering extends PreTrainedModel<DistilBertConfig> {
  static override readonly configClass = DistilBertConfig;
  static override readonly baseModelPrefix = 'distilbert';

  distilbert: DistilBertModel;
  qa_outputs: Linear;
  dropout: Dropout;

  constructor(config: DistilBertConfig) {
    super(config);
    this.distilbert = new DistilBertModel(config);
    this.qa_outputs = new Linear(config.dim, 2, { std: config.initializerRange });
    this.dropout = new Dropout(config.qaDropout);
  }

  forward(inputs: QuestionAnsweringInputs): QuestionAnsweringModelOutput {
    const out = this.distilbert.forward(inputs);
    return questionAnsweringOutput(
      out,
      this.qa_outputs.forward(this.dropout.forward(out.lastHiddenState)),
      inputs.startPositions,
      inputs.endPositions,
    ); // (B, T, 2)
  }
}

registerModel('distilbert', {
  config: DistilBertConfig,
  base: DistilBertModel,
  sequenceClassification: DistilBertForSequenceClassification,
  tokenClassification: DistilBertForTokenClassification,
  questionAnswering: DistilBertForQuestionAnswering,
});
