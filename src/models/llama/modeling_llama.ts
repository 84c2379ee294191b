/**
 * Llama (Touvron et al. 2023) with transformers' parameter names: pre-RMSNorm decoder blocks, rotary positions in
 * the `rotate_half` layout with every `rope_scaling` kind (src/nn/rotary.ts), SwiGLU MLP and grouped-query
 * attention. Qwen2 and Mistral are this model with other biases and masks (their files extend these classes, as
 * transformers' modular files do).
 *
 * Shapes: B batch, T new tokens, Tk cached + new tokens, C hidden size, H query heads, Hkv key/value heads,
 * D head size (config head_dim), V vocabulary.
 */
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from '../../nn/attention.js';
import { gatedFeedForward } from '../../nn/feedforward.js';
import { extendKV, type LayerKV } from '../../nn/kv_cache.js';
import { activation, Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import { RotaryEmbedding, type RotaryAngles } from '../../nn/rotary.js';
import * as ops from '../../tensor/ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import { ConfigError } from '../configuration_utils.js';
import type { CausalLM, CausalLMInputs, CausalLMOutput } from '../modeling_outputs.js';
import {
  causalLMOutput,
  checkContextWindow,
  defaultPositionIds,
  PreTrainedModel,
  runLayers,
  type LayerOutput,
  type StackOutput,
} from '../modeling_utils.js';
import { LlamaConfig } from './configuration_llama.js';

/** What every layer of one forward pass shares: the rotary angles of its positions and the attention mask. */
export interface LlamaStepContext {
  angles: RotaryAngles; // cos / signed sin, (1 or B, 1, T, D)
  bias: Tensor | null; // additive (B, 1, T, Tk), or null when nothing is masked
  useCache: boolean;
}

export class LlamaAttention extends Module {
  q_proj: Linear;
  k_proj: Linear;
  v_proj: Linear;
  o_proj: Linear;
  private readonly heads: number;
  private readonly kvHeads: number;

  constructor(private readonly config: LlamaConfig) {
    super();
    const {
      hiddenSize: c,
      numAttentionHeads: heads,
      numKeyValueHeads: kvHeads,
      headDim: d,
      initializerRange: std,
    } = config;
    if (heads % kvHeads !== 0 || !Number.isInteger(d)) {
      throw new ConfigError(
        `${config.source}: num_attention_heads ${heads} must be a multiple of num_key_value_heads ${kvHeads}, and the head size ` +
          `(head_dim, or hidden_size ${c} / num_attention_heads) a whole number, got ${d}`,
      );
    }
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.q_proj = new Linear(c, heads * d, { bias: config.attentionBias, std });
    this.k_proj = new Linear(c, kvHeads * d, { bias: config.attentionBias, std });
    this.v_proj = new Linear(c, kvHeads * d, { bias: config.attentionBias, std });
    this.o_proj = new Linear(heads * d, c, { bias: config.attentionOutputBias, std });
  }

  forward(x: Tensor, step: LlamaStepContext, past: LayerKV | null): LayerOutput {
    const q = RotaryEmbedding.rotate(splitHeads(this.q_proj.forward(x), this.heads), step.angles); // (B, H, T, D)
    const k = RotaryEmbedding.rotate(splitHeads(this.k_proj.forward(x), this.kvHeads), step.angles); // (B, Hkv, T, D)
    const kv = extendKV(past, k, splitHeads(this.v_proj.forward(x), this.kvHeads)); // (B, Hkv, Tk, D)
    const { output, weights } = scaledDotProductAttention(q, kv.key, kv.value, {
      mask: step.bias,
      dropoutP: this.config.attentionDropout,
      training: this.training,
    }); // (B, H, T, D)
    return { hidden: this.o_proj.forward(mergeHeads(output)), present: step.useCache ? kv : undefined, weights };
  }
}

export class LlamaMLP extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: LlamaConfig) {
    super();
    const std = config.initializerRange;
    this.gate_proj = new Linear(config.hiddenSize, config.intermediateSize, { bias: false, std });
    this.up_proj = new Linear(config.hiddenSize, config.intermediateSize, { bias: false, std });
    this.down_proj = new Linear(config.intermediateSize, config.hiddenSize, { bias: false, std });
    this.act = activation(config.hiddenAct);
  }

  forward(x: Tensor): Tensor {
    return gatedFeedForward(x, this.gate_proj, this.up_proj, this.down_proj, { activation: this.act });
  }
}

export class LlamaDecoderLayer extends Module {
  self_attn: LlamaAttention;
  mlp: LlamaMLP;
  input_layernorm: RMSNorm;
  post_attention_layernorm: RMSNorm;

  constructor(config: LlamaConfig) {
    super();
    this.self_attn = new LlamaAttention(config);
    this.mlp = new LlamaMLP(config);
    this.input_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
    this.post_attention_layernorm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
  }

  forward(x: Tensor, step: LlamaStepContext, past: LayerKV | null): LayerOutput {
    const attended = this.self_attn.forward(this.input_layernorm.forward(x), step, past);
    const h = ops.add(x, attended.hidden);
    return { ...attended, hidden: ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h))) };
  }
}

export class LlamaModel extends PreTrainedModel<LlamaConfig> {
  static override readonly configClass: typeof LlamaConfig = LlamaConfig;
  static override readonly baseModelPrefix = 'model';

  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  readonly rotary: RotaryEmbedding;

  constructor(config: LlamaConfig) {
    super(config);
    this.embed_tokens = new Embedding(config.vocabSize, config.hiddenSize, { std: config.initializerRange });
    this.layers = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new LlamaDecoderLayer(config)));
    this.norm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
    this.rotary = new RotaryEmbedding(config.headDim, { theta: config.ropeTheta, scaling: config.rope });
  }

  forward(inputs: Omit<CausalLMInputs, 'labels'>): StackOutput {
    const { inputIds, attentionMask, pastKeyValues, useCache = false } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    const pastLength = pastKeyValues?.[0]?.key.shape[2] ?? 0;
    const window = this.config.contextWindow;
    if (window !== null) checkContextWindow(pastLength + t, window, this.constructor.name, 'max_position_embeddings');
    const positions = inputs.positionIds ?? defaultPositionIds(t, pastLength);
    const angles = this.rotary.angles(positions, pastLength + t);
    // One mask per distinct window (Qwen2 windows only its upper layers), shared by the layers that use it.
    const biases = new Map<number | null, Tensor | null>();
    const biasFor = (slidingWindow: number | null): Tensor | null => {
      if (!biases.has(slidingWindow)) {
        const options = { batch: b, queryLength: t, keyLength: pastLength + t, causal: true, slidingWindow };
        biases.set(slidingWindow, attentionBias(attentionMask, options));
      }
      return biases.get(slidingWindow)!;
    };
    const hidden = this.embed_tokens.forward(inputIds); // (B, T, C)
    let index = 0;
    const run = (layer: LlamaDecoderLayer, h: Tensor, past: LayerKV | null): LayerOutput =>
      layer.forward(h, { angles, bias: biasFor(this.config.slidingWindowOf(index++)), useCache }, past);
    return runLayers(this.layers, hidden, run, inputs, (h) => this.norm.forward(h));
  }
}

export class LlamaForCausalLM extends PreTrainedModel<LlamaConfig> implements CausalLM {
  static override readonly configClass: typeof LlamaConfig = LlamaConfig;
  static override readonly baseModelPrefix = 'model';

  model: LlamaModel;
  lm_head: Linear;

  constructor(config: LlamaConfig) {
    super(config);
    this.model = new LlamaModel(config);
    this.lm_head = new Linear(config.hiddenSize, config.vocabSize, { bias: false, std: config.initializerRange });
    if (config.tieWordEmbeddings) this.lm_head.weight = this.model.embed_tokens.weight;
  }

  forward(inputs: CausalLMInputs): CausalLMOutput {
    return causalLMOutput(this.model.forward(inputs), this.lm_head, inputs.labels);
  }
}

registerModel('llama', { config: LlamaConfig, base: LlamaModel, causalLM: LlamaForCausalLM });
