import { PretrainedConfig } from '../configuration_utils.js';

/** GPT-2's config.json (`n_embd`, `n_layer`, … with transformers' `hidden_size`-style aliases as getters). */
export class GPT2Config extends PretrainedConfig {
  static override readonly modelType = 'gpt2';

  vocabSize = this.size('vocab_size', 50257);
  nPositions = this.size('n_positions', 1024);
  nEmbd = this.size('n_embd', 768);
  nLayer = this.size('n_layer', 12);
  nHead = this.size('n_head', 12);
  /** MLP width; null means 4·n_embd. */
  nInner = this.optNum('n_inner');
  activationFunction = this.str('activation_function', 'gelu_new');
  residPdrop = this.num('resid_pdrop', 0.1);
  embdPdrop = this.num('embd_pdrop', 0.1);
  attnPdrop = this.num('attn_pdrop', 0.1);
  layerNormEpsilon = this.num('layer_norm_epsilon', 1e-5);
  initializerRange = this.num('initializer_range', 0.02);
  scaleAttnWeights = this.bool('scale_attn_weights', true);
  scaleAttnByInverseLayerIdx = this.bool('scale_attn_by_inverse_layer_idx', false);
  override bosTokenId = this.optNum('bos_token_id', 50256);
  override eosTokenId = this.tokenIds('eos_token_id', 50256);

  get hiddenSize(): number {
    return this.nEmbd;
  }

  get numHiddenLayers(): number {
    return this.nLayer;
  }

  get numAttentionHeads(): number {
    return this.nHead;
  }

  get maxPositionEmbeddings(): number {
    return this.nPositions;
  }

  get intermediateSize(): number {
    return this.nInner ?? 4 * this.nEmbd;
  }
}
