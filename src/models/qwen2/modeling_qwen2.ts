/**
 * Qwen2 / Qwen2.5 (Qwen team 2024) with transformers' parameter names. The architecture is Llama's (the same
 * module tree and state-dict keys, as transformers' modular_qwen2.py derives it) with biases on q/k/v but not on
 * o_proj, rope_theta 1e6 and, in the small checkpoints, the LM head tied to the embeddings; the differences live
 * in Qwen2Config.
 */
import { registerModel } from '../auto/registry.js';
import { LlamaForCausalLM, LlamaModel } from '../llama/modeling_llama.js';
import { Qwen2Config } from './configuration_qwen2.js';

export class Qwen2Model extends LlamaModel {
  static override readonly configClass: typeof Qwen2Config = Qwen2Config;
}

export class Qwen2ForCausalLM extends LlamaForCausalLM {
  static override readonly configClass: typeof Qwen2Config = Qwen2Config;
}

registerModel('qwen2', { config: Qwen2Config, base: Qwen2Model, causalLM: Qwen2ForCausalLM });
