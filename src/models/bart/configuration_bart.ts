import { PretrainedConfig, type TokenIds } from '../configuration_utils.js';

/** BART's config.json; Marian's reads the same fields (with its own defaults), so both models share one stack. */
export class BartConfig extends PretrainedConfig {
  static override readonly modelType: string = 'bart';

  vocabSize = this.size('vocab_size', 50265);
  maxPositionEmbeddings = this.size('max_position_embeddings', 1024);
  dModel = this.size('d_model', 1024);
  encoderLayers = this.size('encoder_layers', 12);
  encoderFfnDim = this.size('encoder_ffn_dim', 4096);
  encoderAttentionHeads = this.size('encoder_attention_heads', 16);
  decoderLayers = this.size('decoder_layers', 12);
  decoderFfnDim = this.size('decoder_ffn_dim', 4096);
  decoderAttentionHeads = this.size('decoder_attention_heads', 16);
  activationFunction = this.str('activation_function', 'gelu');
  dropout = this.num('dropout', 0.1);
  attentionDropout = this.num('attention_dropout', 0);
  activationDropout = this.num('activation_dropout', 0);
  initStd = this.num('init_std', 0.02);
  /** Token embeddings times sqrt(d_model). */
  scaleEmbedding = this.bool('scale_embedding', false);
  forcedBosTokenId = this.optNum('forced_bos_token_id');
  forcedEosTokenId: TokenIds = this.tokenIds('forced_eos_token_id', 2);
  override padTokenId = this.optNum('pad_token_id', 1);
  override bosTokenId = this.optNum('bos_token_id', 0);
  override eosTokenId = this.tokenIds('eos_token_id', 2);
  override decoderStartTokenId = this.optNum('decoder_start_token_id', 2);
  override isEncoderDecoder = this.bool('is_encoder_decoder', true);

  get hiddenSize(): number {
    return this.dModel;
  }

  get numHiddenLayers(): number {
    return this.encoderLayers;
  }
}
