/**
 * RoBERTa (Liu et al. 2019) with transformers' parameter names: BERT's encoder (post-LN layers, erf GELU) with
 * RoBERTa's position rule and heads. Positions come from the ids, not from the attention mask: real tokens count up
 * from padding_idx + 1 and padding sits at padding_idx, so a 514-row table holds 512 tokens. The sequence
 * classifier reads <s> through dense → tanh → out_proj (no pooler), which is what roberta-large-mnli runs for NLI.
 *
 * Shapes: B batch, T tokens, C hidden size.
 */
import { Dropout, Linear } from '../../nn/layers.js';
import { Module } from '../../nn/module.js';
import { activeTracer, untraced } from '../../tensor/engine.js';
import * as ops from '../../tensor/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import { BertEmbeddings, BertModel } from '../bert/modeling_bert.js';
import type {
  ModelInputs,
  QuestionAnsweringInputs,
  QuestionAnsweringModelOutput,
  SequenceClassifierOutput,
  TokenClassifierOutput,
} from '../modeling_outputs.js';
import {
  PreTrainedModel,
  questionAnsweringOutput,
  sequenceClassificationLoss,
  tokenClassifierOutput,
} from '../modeling_utils.js';
import { RobertaConfig } from './configuration_roberta.js';

/** transformers' create_position_ids_from_input_ids: cumsum(ids ≠ pad) · (ids ≠ pad) + pad, per row. (B, T) int32. */
export function robertaPositionIds(inputIds: Tensor, paddingIdx: number): Tensor {
  if (activeTracer) {
    // While a graph is being captured the ids are a graph input: the same rule with ops serves every batch.
    const real = ops.cast(ops.logicalNot(ops.eq(inputIds, paddingIdx)), 'int32');
    return ops.add(ops.mul(ops.cumsum(real, 1), real), paddingIdx);
  }
  const [b, t] = inputIds.shape as [number, number];
  const positions = new Int32Array(b * t);
  for (let row = 0; row < b; row++) {
    let count = 0;
    for (let i = 0; i < t; i++) {
      const at = row * t + i;
      const real = inputIds.data[at] !== paddingIdx;
      if (real) count++;
      positions[at] = real ? count + paddingIdx : paddingIdx;
    }
  }
  return new Tensor(positions, [b, t]);
}

export class RobertaEmbeddings extends BertEmbeddings {
  constructor(private readonly config: RobertaConfig) {
    super(config);
  }

  override forward(
    inputIds: Tensor,
    tokenTypeIds: Tensor | null | undefined,
    positionIds: Tensor | null | undefined,
  ): Tensor {
    const padding = this.config.padTokenId ?? 1;
    const positions = positionIds ?? robertaPositionIds(inputIds, padding);
    // A check only (a captured graph checks nothing here; its Gather refuses an index past the table).
    const largest = Math.max(...untraced(() => positions.data));
    if (largest >= this.config.maxPositionEmbeddings) {
      throw new RangeError(
        `RobertaModel: ${inputIds.shape[1]} tokens need position ${largest}, past the table of ${this.config.maxPositionEmbeddings} ` +
          `(config max_position_embeddings; RoBERTa takes at most max_position_embeddings - ${padding + 1} tokens)`,
      );
    }
    return super.forward(inputIds, tokenTypeIds, positions);
  }
}

export class RobertaModel extends BertModel {
  static override readonly configClass: typeof RobertaConfig = RobertaConfig;
  static override readonly baseModelPrefix = 'roberta';

  constructor(config: RobertaConfig, options: { addPoolingLayer?: boolean } = {}) {
    super(config, options);
    this.embeddings = new RobertaEmbeddings(config);
  }
}

abstract class RobertaPreTrainedModel extends PreTrainedModel<RobertaConfig> {
  static override readonly configClass: typeof RobertaConfig = RobertaConfig;
  static override readonly baseModelPrefix = 'roberta';
}

/** dense → tanh → out_proj on the <s> token (transformers' RobertaClassificationHead). */
export class RobertaClassificationHead extends Module {
  dense: Linear;
  dropout: Dropout;
  out_proj: Linear;

  constructor(config: RobertaConfig) {
    super();
    const std = config.initializerRange;
    this.dense = new Linear(config.hiddenSize, config.hiddenSize, { std });
    this.dropout = new Dropout(config.classifierDropout ?? config.hiddenDropoutProb);
    this.out_proj = new Linear(config.hiddenSize, config.numLabels, { std });
  }

  /** (B, T, C) → (B, numLabels). */
  forward(hidden: Tensor): Tensor {
    const first = this.dropout.forward(ops.squeeze(ops.slice(hidden, 1, 0, 1), 1)); // (B, C)
    return this.out_proj.forward(this.dropout.forward(ops.tanh(this.dense.forward(first))));
  }
}

export class RobertaForSequenceClassification extends RobertaPreTrainedModel {
  roberta: RobertaModel;
  classifier: RobertaClassificationHead;

  constructor(config: RobertaConfig) {
    super(config);
    this.roberta = new RobertaModel(config, { addPoolingLayer: false });
    this.classifier = new RobertaClassificationHead(config);
  }

  forward(inputs: ModelInputs): SequenceClassifierOutput {
    const out = this.roberta.forward(inputs);
    const logits = this.classifier.forward(out.lastHiddenState); // (B, numLabels)
    return {
      logits,
      loss: inputs.labels ? sequenceClassificationLoss(logits, inputs.labels, this.config) : undefined,
      hiddenStates: out.hiddenStates,
      attentions: out.attentions,
    };
  }
}

export class RobertaForTokenClassification extends RobertaPreTrainedModel {
  roberta: RobertaModel;
  dropout: Dropout;
  classifier: Linear;

  constructor(config: RobertaConfig) {
    super(config);
    this.roberta = new RobertaModel(config, { addPoolingLayer: false });
    this.dropout = new Dropout(config.classifierDropout ?? config.hiddenDropoutProb);
    this.classifier = new Linear(config.hiddenSize, config.numLabels, { std: config.initializerRange });
  }

  forward(inputs: ModelInputs): TokenClassifierOutput {
    const out = this.roberta.forward(inputs);
    return tokenClassifierOutput(
      out,
      this.classifier.forward(this.dropout.forward(out.lastHiddenState)),
      inputs.labels,
    ); // (B, T, numLabels)
  }
}

export class RobertaForQuestionAnswering extends RobertaPreTrainedModel {
  roberta: RobertaModel;
  qa_outputs: Linear;

  constructor(config: RobertaConfig) {
    super(config);
    this.roberta = new RobertaModel(config, { addPoolingLayer: false });
    this.qa_outputs = new Linear(config.hiddenSize, 2, { std: config.initializerRange });
  }

  forward(inputs: QuestionAnsweringInputs): QuestionAnsweringModelOutput {
    const out = this.roberta.forward(inputs);
    return questionAnsweringOutput(
      out,
      this.qa_outputs.forward(out.lastHiddenState),
      inputs.startPositions,
      inputs.endPositions,
    ); // (B, T, 2)
  }
}

registerModel('roberta', {
  config: RobertaConfig,
  base: RobertaModel,
  sequenceClassification: RobertaForSequenceClassification,
  tokenClassification: RobertaForTokenClassification,
  questionAnswering: RobertaForQuestionAnswering,
});
