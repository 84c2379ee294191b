import { PretrainedConfig } from '../configuration_utils.js';

/** BERT's config.json. */
export class BertConfig extends PretrainedConfig {
  static override readonly modelType: string = 'bert';

  vocabSize = this.size('vocab_size', 30522);
  hiddenSize = this.size('hidden_size', 768);
  numHiddenLayers = this.size('num_hidden_layers', 12);
  numAttentionHeads = this.size('num_attention_heads', 12);
  intermediateSize = this.size('intermediate_size', 3072);
  hiddenAct = this.str('hidden_act', 'gelu');
  hiddenDropoutProb = this.num('hidden_dropout_prob', 0.1);
  attentionProbsDropoutProb = this.num('attention_probs_dropout_prob', 0.1);
  maxPositionEmbeddings = this.size('max_position_embeddings', 512);
  typeVocabSize = this.size('type_vocab_size', 2);
  initializerRange = this.num('initializer_range', 0.02);
  layerNormEps = this.num('layer_norm_eps', 1e-12);
  positionEmbeddingType = this.str('position_embedding_type', 'absolute');
  /** Dropout before the classifier; null means hidden_dropout_prob. */
  classifierDropout = this.optNum('classifier_dropout');
  override padTokenId = this.optNum('pad_token_id', 0);
}
