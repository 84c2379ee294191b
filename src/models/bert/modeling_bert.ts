/**
 * BERT (Devlin et al. 2019) with transformers' parameter names: post-LN encoder layers, learned absolute and
 * token-type embeddings, a tanh pooler on the first token, and the masked-LM head tied to the word embeddings.
 *
 * Shapes: B batch, T tokens, C hidden_size, H attention heads, D = C / H head size, I intermediate_size,
 * V vocabulary.
 */
import { attentionBias, multiHeadAttention } from '../../nn/attention.js';
import * as F from '../../nn/functional.js';
import { activation, Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module, ModuleList, type Parameter } from '../../nn/module.js';
import { zeros } from '../../tensor/creation.js';
import * as ops from '../../tensor/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import { pruneAttentionHeads } from '../pruning.js';
import { ConfigError } from '../configuration_utils.js';
import type {
  BaseModelOutput,
  MaskedLMOutput,
  ModelInputs,
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
import { BertConfig } from './configuration_bert.js';

export class BertEmbeddings extends Module {
  word_embeddings: Embedding;
  position_embeddings: Embedding;
  token_type_embeddings: Embedding;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(config: BertConfig) {
    super();
    const std = config.initializerRange;
    this.word_embeddings = new Embedding(config.vocabSize, config.hiddenSize, { std });
    this.position_embeddings = new Embedding(config.maxPositionEmbeddings, config.hiddenSize, { std });
    this.token_type_embeddings = new Embedding(config.typeVocabSize, config.hiddenSize, { std });
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.dropout = new Dropout(config.hiddenDropoutProb);
  }

  forward(inputIds: Tensor, tokenTypeIds: Tensor | null | undefined, positionIds: Tensor | null | undefined): Tensor {
    const t = inputIds.shape[1]!;
    const tokenTypes = tokenTypeIds ?? zeros(inputIds.shape, { dtype: 'int32' });
    let x = ops.add(this.word_embeddings.forward(inputIds), this.token_type_embeddings.forward(tokenTypes));
    x = ops.add(x, this.position_embeddings.forward(positionIds ?? defaultPositionIds(t, 0)));
    return this.dropout.forward(this.LayerNorm.forward(x)); // (B, T, C)
  }
}

export class BertSelfAttention extends Module {
  query: Linear;
  key: Linear;
  value: Linear;
  dropout: Dropout;

  constructor(
    config: BertConfig,
    public heads = config.numAttentionHeads,
  ) {
    super();
    const { hiddenSize: c, initializerRange: std } = config;
    if (c % heads !== 0)
      throw new ConfigError(`${config.source}: hidden_size ${c} is not divisible by num_attention_heads ${heads}`);
    this.query = new Linear(c, c, { std });
    this.key = new Linear(c, c, { std });
    this.value = new Linear(c, c, { std });
    this.dropout = new Dropout(config.attentionProbsDropoutProb);
  }

  forward(x: Tensor, bias: Tensor | null): { context: Tensor; weights: Tensor } {
    const [q, k, v] = [this.query.forward(x), this.key.forward(x), this.value.forward(x)]; // each (B, T, C)
    return multiHeadAttention(q, k, v, this.heads, { mask: bias, dropoutP: this.dropout.p, training: this.training });
  }
}

/** dense → dropout → LayerNorm(· + residual): BERT's `BertSelfOutput` and `BertOutput`. */
export class BertResidualOutput extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  dropout: Dropout;

  constructor(config: BertConfig, inFeatures: number) {
    super();
    this.dense = new Linear(inFeatures, config.hiddenSize, { std: config.initializerRange });
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
    this.dropout = new Dropout(config.hiddenDropoutProb);
  }

  forward(x: Tensor, residual: Tensor): Tensor {
    return this.LayerNorm.forward(ops.add(this.dropout.forward(this.dense.forward(x)), residual));
  }
}

export class BertAttention extends Module {
  self: BertSelfAttention;
  output: BertResidualOutput;

  constructor(config: BertConfig) {
    super();
    this.self = new BertSelfAttention(config);
    this.output = new BertResidualOutput(config, config.hiddenSize);
  }

  /** Heads removed so far, by original index (see models/pruning.ts). */
  readonly prunedHeads = new Set<number>();

  /** transformers' prune_heads: the heads' query/key/value rows and output columns go. */
  pruneHeads(heads: readonly number[]): void {
    const { self } = this;
    const layout = { heads: self.heads, projections: [self.query, self.key, self.value], output: this.output.dense };
    const pruned = pruneAttentionHeads(heads, this.prunedHeads, layout);
    if (!pruned) return;
    [self.query, self.key, self.value] = pruned.projections as [Linear, Linear, Linear];
    this.output.dense = pruned.output;
    self.heads = pruned.heads;
  }
}

export class BertIntermediate extends Module {
  dense: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.intermediateSize, { std: config.initializerRange });
    this.act = activation(config.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return this.act(this.dense.forward(x));
  }
}

export class BertLayer extends Module {
  attention: BertAttention;
  intermediate: BertIntermediate;
  output: BertResidualOutput;

  constructor(config: BertConfig) {
    super();
    this.attention = new BertAttention(config);
    this.intermediate = new BertIntermediate(config);
    this.output = new BertResidualOutput(config, config.intermediateSize);
  }

  forward(x: Tensor, bias: Tensor | null): LayerOutput {
    const { context, weights } = this.attention.self.forward(x, bias);
    const attended = this.attention.output.forward(context, x);
    return { hidden: this.output.forward(this.intermediate.forward(attended), attended), weights };
  }
}

export class BertEncoder extends Module {
  layer: ModuleList<BertLayer>;

  constructor(config: BertConfig) {
    super();
    this.layer = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new BertLayer(config)));
  }
}

export class BertPooler extends Module {
  dense: Linear;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize, { std: config.initializerRange });
  }

  /** tanh(dense(h[:, 0])): (B, T, C) → (B, C). */
  forward(hidden: Tensor): Tensor {
    return ops.tanh(this.dense.forward(ops.squeeze(ops.slice(hidden, 1, 0, 1), 1)));
  }
}

/** The pooler is optional in checkpoints (masked-LM ones have none), so it may always be freshly initialised. */
abstract class BertPreTrainedModel extends PreTrainedModel<BertConfig> {
  static override readonly configClass = BertConfig;
  static override readonly baseModelPrefix: string = 'bert';

  protected override mayBeNewlyInitialized(name: string): boolean {
    return super.mayBeNewlyInitialized(name) || /(^|\.)pooler\./.test(name);
  }
}

export class BertModel extends BertPreTrainedModel {
  embeddings: BertEmbeddings;
  encoder: BertEncoder;
  pooler: BertPooler | null;

  constructor(config: BertConfig, options: { addPoolingLayer?: boolean } = {}) {
    super(config);
    if (config.positionEmbeddingType !== 'absolute') {
      throw new ConfigError(
        `${config.source}: position_embedding_type '${config.positionEmbeddingType}' is not supported (attn implements 'absolute')`,
      );
    }
    this.embeddings = new BertEmbeddings(config);
    this.encoder = new BertEncoder(config);
    this.pooler = options.addPoolingLayer === false ? null : new BertPooler(config);
  }

  forward(inputs: ModelInputs): BaseModelOutput {
    const { inputIds, attentionMask, outputHiddenStates, outputAttentions } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    checkContextWindow(t, this.config.maxPositionEmbeddings, 'BertModel', 'max_position_embeddings');
    const hidden = this.embeddings.forward(inputIds, inputs.tokenTypeIds, inputs.positionIds);
    const bias = attentionBias(attentionMask, { batch: b, queryLength: t, keyLength: t, causal: false });
    const out = runLayers(this.encoder.layer, hidden, (layer, h) => layer.forward(h, bias), {
      outputHiddenStates,
      outputAttentions,
    });
    return { ...out, poolerOutput: this.pooler?.forward(out.lastHiddenState) };
  }
}

export class BertForSequenceClassification extends BertPreTrainedModel {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config);
    this.dropout = new Dropout(config.classifierDropout ?? config.hiddenDropoutProb);
    this.classifier = new Linear(config.hiddenSize, config.numLabels, { std: config.initializerRange });
  }

  forward(inputs: ModelInputs): SequenceClassifierOutput {
    const out = this.bert.forward(inputs);
    const logits = this.classifier.forward(this.dropout.forward(out.poolerOutput!)); // (B, numLabels)
    return {
      logits,
      loss: inputs.labels ? sequenceClassificationLoss(logits, inputs.labels, this.config) : undefined,
      hiddenStates: out.hiddenStates,
      attentions: out.attentions,
    };
  }
}

/** BERT with a label per token (NER, POS): dropout, then a linear classifier on every hidden state. */
export class BertForTokenClassification extends BertPreTrainedModel {
  bert: BertModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, { addPoolingLayer: false });
    this.dropout = new Dropout(config.classifierDropout ?? config.hiddenDropoutProb);
    this.classifier = new Linear(config.hiddenSize, config.numLabels, { std: config.initializerRange });
  }

  forward(inputs: ModelInputs): TokenClassifierOutput {
    const out = this.bert.forward(inputs);
    return tokenClassifierOutput(
      out,
      this.classifier.forward(this.dropout.forward(out.lastHiddenState)),
      inputs.labels,
    ); // (B, T, numLabels)
  }
}

/** BERT for extractive QA (SQuAD): a linear layer gives each token a start and an end logit. */
export class BertForQuestionAnswering extends BertPreTrainedModel {
  bert: BertModel;
  qa_outputs: Linear;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, { addPoolingLayer: false });
    this.qa_outputs = new Linear(config.hiddenSize, 2, { std: config.initializerRange });
  }

  forward(
    inputs: ModelInputs & { startPositions?: Tensor | null; endPositions?: Tensor | null },
  ): QuestionAnsweringModelOutput {
    const out = this.bert.forward(inputs);
    return questionAnsweringOutput(
      out,
      this.qa_outputs.forward(out.lastHiddenState),
      inputs.startPositions,
      inputs.endPositions,
    ); // (B, T, 2)
  }
}

export class BertPredictionHeadTransform extends Module {
  dense: Linear;
  LayerNorm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: BertConfig) {
    super();
    this.dense = new Linear(config.hiddenSize, config.hiddenSize, { std: config.initializerRange });
    this.act = activation(config.hiddenAct);
    this.LayerNorm = new LayerNorm(config.hiddenSize, config.layerNormEps);
  }

  forward(x: Tensor): Tensor {
    return this.LayerNorm.forward(this.act(this.dense.forward(x)));
  }
}

export class BertLMPredictionHead extends Module {
  transform: BertPredictionHeadTransform;
  decoder: Linear;
  /** The decoder's bias under this module's own name, which transformers saves (`cls.predictions.bias`). */
  bias: Parameter;

  constructor(config: BertConfig, wordEmbeddings: Embedding) {
    super();
    this.transform = new BertPredictionHeadTransform(config);
    this.decoder = new Linear(config.hiddenSize, config.vocabSize, { std: config.initializerRange });
    this.decoder.weight = wordEmbeddings.weight;
    this.bias = this.decoder.bias!;
  }

  forward(x: Tensor): Tensor {
    return this.decoder.forward(this.transform.forward(x));
  }
}

export class BertOnlyMLMHead extends Module {
  predictions: BertLMPredictionHead;

  constructor(config: BertConfig, wordEmbeddings: Embedding) {
    super();
    this.predictions = new BertLMPredictionHead(config, wordEmbeddings);
  }
}

export class BertForMaskedLM extends BertPreTrainedModel {
  bert: BertModel;
  cls: BertOnlyMLMHead;

  constructor(config: BertConfig) {
    super(config);
    this.bert = new BertModel(config, { addPoolingLayer: false });
    this.cls = new BertOnlyMLMHead(config, this.bert.embeddings.word_embeddings);
  }

  forward(inputs: ModelInputs): MaskedLMOutput {
    const out = this.bert.forward(inputs);
    const logits = this.cls.predictions.forward(out.lastHiddenState); // (B, T, V)
    let loss: Tensor | undefined;
    if (inputs.labels) {
      const v = logits.shape[2]!;
      loss = F.crossEntropy(ops.reshape(logits, [-1, v]), ops.reshape(inputs.labels, [-1]), { ignoreIndex: -100 });
    }
    return { logits, loss, hiddenStates: out.hiddenStates, attentions: out.attentions };
  }
}

registerModel('bert', {
  config: BertConfig,
  base: BertModel,
  sequenceClassification: BertForSequenceClassification,
  maskedLM: BertForMaskedLM,
  questionAnswering: BertForQuestionAnswering,
  tokenClassification: BertForTokenClassification,
});
