export * from './configuration_utils.js';
export * from './modeling_utils.js';
export type * from './modeling_outputs.js';
export * from './auto/index.js';
export * from './bert/configuration_bert.js';
export * from './bert/modeling_bert.js';
export * from './distilbert/configuration_distilbert.js';
export * from './distilbert/modeling_distilbert.js';
export * from './gpt2/configuration_gpt2.js';
export * from './gpt2/modeling_gpt2.js';
export * from './llama/configuration_llama.js';
export * from './llama/modeling_llama.js';
export * from './llama/convert_llama2c.js';
export * from './mistral/configuration_mistral.js';
export * from './mistral/modeling_mistral.js';
export * from './qwen2/configuration_qwen2.js';
export * from './qwen2/modeling_qwen2.js';
export * from './roberta/configuration_roberta.js';
export * from './roberta/modeling_roberta.js';
export * from './bart/configuration_bart.js';
export * from './bart/modeling_bart.js';
export * from './marian/configuration_marian.js';
export * from './marian/modeling_marian.js';
export * from './t5/configuration_t5.js';
export * from './t5/modeling_t5.js';
export * from './use/configuration_use.js';
export * from './use/modeling_use.js';
export {
  quantize,
  dequantize,
  quantizedLayers,
  QuantizationError,
  readQuantizationConfig,
  QUANTIZED_OPS,
  type QuantizeOptions,
  type QuantizationConfig,
  type WeightDtype,
} from './quantization.js';
export {
  magnitudePrune,
  sparsityReport,
  PruningError,
  type HeadsToPrune,
  type MagnitudePruneOptions,
  type SparsityReport,
  type LayerSparsity,
} from './pruning.js';
