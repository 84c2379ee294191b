import { parseRopeScaling, type RopeScaling } from '../../nn/rotary.js';
import { PretrainedConfig } from '../configuration_utils.js';

/** Llama's config.json (Llama 1/2/3 and the many models that share its architecture). */
export class LlamaConfig extends PretrainedConfig {
  static override readonly modelType: string = 'llama';

  vocabSize = this.size('vocab_size', 32000);
  hiddenSize = this.size('hidden_size', 4096);
  intermediateSize = this.size('intermediate_size', 11008);
  numHiddenLayers = this.size('num_hidden_layers', 32);
  numAttentionHeads = this.size('num_attention_heads', 32);
  /** Grouped-query attention: each key/value head serves numAttentionHeads / numKeyValueHeads query heads. */
  numKeyValueHeads = this.optNum('num_key_value_heads') ?? this.numAttentionHeads;
  /** Per-head width; hidden_size / num_attention_heads unless config.json says otherwise (Mistral-Nemo, Qwen3). */
  headDim = this.size('head_dim', this.hiddenSize / this.numAttentionHeads);
  hiddenAct = this.str('hidden_act', 'silu');
  maxPositionEmbeddings = this.size('max_position_embeddings', 2048);
  initializerRange = this.num('initializer_range', 0.02);
  rmsNormEps = this.num('rms_norm_eps', 1e-6);
  ropeTheta = this.num('rope_theta', 10000);
  /** As written in config.json; `rope` is the checked form. */
  ropeScaling = this.any<Record<string, unknown> | null>('rope_scaling', null);
  /** Biases on q/k/v/o (Llama: all or none). */
  attentionBias = this.bool('attention_bias', false);
  attentionDropout = this.num('attention_dropout', 0);
  override bosTokenId = this.optNum('bos_token_id', 1);
  override eosTokenId = this.tokenIds('eos_token_id', 2);
  override tieWordEmbeddings = this.bool('tie_word_embeddings', false);

  /** rope_scaling, checked (a bad one is an error naming config.json). */
  get rope(): RopeScaling {
    return parseRopeScaling(this.ropeScaling, this.maxPositionEmbeddings, this.source);
  }

  /** Whether o_proj has a bias: with q/k/v in Llama; never in Qwen2. */
  get attentionOutputBias(): boolean {
    return this.attentionBias;
  }

  /** Keys a query of layer `layer` may see, itself included, or null for full causal attention (Mistral's window). */
  slidingWindowOf(_layer: number): number | null {
    return null;
  }

  /**
   * The longest sequence the model takes: max_position_embeddings, or none with dynamic NTK scaling, whose point is
   * to run past it.
   */
  override get contextWindow(): number | null {
    return this.rope.type === 'dynamic' ? null : this.maxPositionEmbeddings;
  }
}
