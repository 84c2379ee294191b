import { ConfigError, PretrainedConfig } from '../configuration_utils.js';

/** T5's config.json. */
export class T5Config extends PretrainedConfig {
  static override readonly modelType: string = 't5';

  vocabSize = this.size('vocab_size', 32128);
  dModel = this.size('d_model', 512);
  /** Size of each head; heads × dKv need not equal dModel. */
  dKv = this.size('d_kv', 64);
  dFf = this.size('d_ff', 2048);
  numLayers = this.size('num_layers', 6);
  numDecoderLayers = this.optNum('num_decoder_layers') ?? this.numLayers;
  numHeads = this.size('num_heads', 8);
  relativeAttentionNumBuckets = this.size('relative_attention_num_buckets', 32);
  relativeAttentionMaxDistance = this.size('relative_attention_max_distance', 128);
  dropoutRate = this.num('dropout_rate', 0.1);
  layerNormEpsilon = this.num('layer_norm_epsilon', 1e-6);
  initializerFactor = this.num('initializer_factor', 1);
  /** 'relu', 'gelu', 'gated-gelu', 'gated-silu', …: an activation, gated when prefixed with 'gated-'. */
  feedForwardProj = this.str('feed_forward_proj', 'relu');
  override padTokenId = this.optNum('pad_token_id', 0);
  override eosTokenId = this.tokenIds('eos_token_id', 1);
  override decoderStartTokenId = this.optNum('decoder_start_token_id', 0);
  override isEncoderDecoder = this.bool('is_encoder_decoder', true);

  constructor(raw: Record<string, unknown> = {}, source = 'config') {
    super(raw, source);
    const parts = this.feedForwardProj.split('-');
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'gated')) {
      throw new ConfigError(
        `${source}: field 'feed_forward_proj' is '${this.feedForwardProj}'; expected an activation, optionally prefixed with 'gated-' (e.g. 'relu', 'gated-gelu')`,
      );
    }
  }

  get isGatedAct(): boolean {
    return this.feedForwardProj.startsWith('gated-');
  }

  /** transformers maps 'gated-gelu' to the tanh approximation for backwards compatibility. */
  get denseActFn(): string {
    return this.feedForwardProj === 'gated-gelu' ? 'gelu_new' : this.feedForwardProj.split('-').at(-1)!;
  }

  get hiddenSize(): number {
    return this.dModel;
  }

  get numHiddenLayers(): number {
    return this.numLayers;
  }
}
