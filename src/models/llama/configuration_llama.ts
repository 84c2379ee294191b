import { PretrainedConfig } from '../configuration_utils.js';

/** Llama's config.json (Llama 1/2 and the many models that share its architecture). */
export class LlamaConfig extends PretrainedConfig {
  static override readonly modelType = 'llama';

  vocabSize = this.size('vocab_size', 32000);
  hiddenSize = this.size('hidden_size', 4096);
  intermediateSize = this.size('intermediate_size', 11008);
  numHiddenLayers = this.size('num_hidden_layers', 32);
  numAttentionHeads = this.size('num_attention_heads', 32);
  /** Grouped-query attention: each key/value head serves numAttentionHeads / numKeyValueHeads query heads. */
  numKeyValueHeads = this.optNum('num_key_value_heads') ?? this.numAttentionHeads;
  hiddenAct = this.str('hidden_act', 'silu');
  maxPositionEmbeddings = this.size('max_position_embeddings', 2048);
  initializerRange = this.num('initializer_range', 0.02);
  rmsNormEps = this.num('rms_norm_eps', 1e-6);
  ropeTheta = this.num('rope_theta', 10000);
  ropeScaling = this.any<Record<string, unknown> | null>('rope_scaling', null);
  attentionBias = this.bool('attention_bias', false);
  attentionDropout = this.num('attention_dropout', 0);
  override bosTokenId = this.optNum('bos_token_id', 1);
  override eosTokenId = this.tokenIds('eos_token_id', 2);
  override tieWordEmbeddings = this.bool('tie_word_embeddings', false);

  get headDim(): number {
    return this.hiddenSize / this.numAttentionHeads;
  }
}
