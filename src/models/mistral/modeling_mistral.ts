/**
 * Mistral 7B (Jiang et al. 2023) with transformers' parameter names: Llama's architecture and state-dict keys
 * with sliding-window attention. As transformers' eager path (4.37) computes it, query i sees key j iff
 * i − sliding_window < j ≤ i; the KV cache is not cut to the window while decoding, the mask is.
 */
import { registerModel } from '../auto/registry.js';
import { LlamaForCausalLM, LlamaModel } from '../llama/modeling_llama.js';
import { MistralConfig } from './configuration_mistral.js';

export class MistralModel extends LlamaModel {
  static override readonly configClass: typeof MistralConfig = MistralConfig;
}

export class MistralForCausalLM extends LlamaForCausalLM {
  static override readonly configClass: typeof MistralConfig = MistralConfig;
}

registerModel('mistral', { config: MistralConfig, base: MistralModel, causalLM: MistralForCausalLM });
