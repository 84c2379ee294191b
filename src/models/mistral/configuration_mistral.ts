import { LlamaConfig } from '../llama/configuration_llama.js';

/** Mistral's config.json: Llama's fields with Mistral's defaults, plus the sliding attention window. */
export class MistralConfig extends LlamaConfig {
  static override readonly modelType: string = 'mistral';

  override intermediateSize = this.size('intermediate_size', 14336);
  override numKeyValueHeads = this.size('num_key_value_heads', 8);
  override maxPositionEmbeddings = this.size('max_position_embeddings', 4096 * 32);
  /** Keys each query sees, itself included (null: no window, as Mistral v0.2 onwards). */
  slidingWindow = this.optNum('sliding_window', 4096);

  override slidingWindowOf(): number | null {
    return this.slidingWindow;
  }
}
