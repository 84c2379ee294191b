import { LlamaConfig } from '../llama/configuration_llama.js';

/**
 * Qwen2's config.json (Qwen2, Qwen2.5). The fields are Llama's with Qwen's defaults, plus the sliding window,
 * which transformers applies only when `use_sliding_window` is true (Qwen2.5 checkpoints ship it false), and then
 * only in layers max_window_layers and up.
 */
export class Qwen2Config extends LlamaConfig {
  static override readonly modelType: string = 'qwen2';

  override vocabSize = this.size('vocab_size', 151936);
  override intermediateSize = this.size('intermediate_size', 22016);
  override maxPositionEmbeddings = this.size('max_position_embeddings', 32768);
  /** q/k/v carry biases in every Qwen2 checkpoint; the field is not in its config.json. */
  override attentionBias = this.bool('attention_bias', true);
  override bosTokenId = this.optNum('bos_token_id', null);
  override eosTokenId = this.tokenIds('eos_token_id', null);
  useSlidingWindow = this.bool('use_sliding_window', false);
  slidingWindow = this.optNum('sliding_window', 4096);
  /** With the window on, layers from this index up use it; the lower ones attend to everything. */
  maxWindowLayers = this.num('max_window_layers', 28);

  /** o_proj has no bias in Qwen2. */
  override get attentionOutputBias(): boolean {
    return false;
  }

  override slidingWindowOf(layer: number): number | null {
    return this.useSlidingWindow && layer >= this.maxWindowLayers ? this.slidingWindow : null;
  }
}
