import { PretrainedConfig } from '../configuration_utils.js';

/** DistilBERT's config.json (`dim`, `n_layers`, … with `hidden_size`-style getters). */
export class DistilBertConfig extends PretrainedConfig {
  static override readonly modelType = 'distilbert';

  vocabSize = this.size('vocab_size', 30522);
  maxPositionEmbeddings = this.size('max_position_embeddings', 512);
  sinusoidalPosEmbds = this.bool('sinusoidal_pos_embds', false);
  nLayers = this.size('n_layers', 6);
  nHeads = this.size('n_heads', 12);
  dim = this.size('dim', 768);
  hiddenDim = this.size('hidden_dim', 3072);
  dropout = this.num('dropout', 0.1);
  attentionDropout = this.num('attention_dropout', 0.1);
  activation = this.str('activation', 'gelu');
  initializerRange = this.num('initializer_range', 0.02);
  qaDropout = this.num('qa_dropout', 0.1);
  seqClassifDropout = this.num('seq_classif_dropout', 0.2);
  override padTokenId = this.optNum('pad_token_id', 0);

  get hiddenSize(): number {
    return this.dim;
  }

  get numHiddenLayers(): number {
    return this.nLayers;
  }

  get numAttentionHeads(): number {
    return this.nHeads;
  }
}
