/**
 * Llama (Touvron et al. 2023) with transformers' parameter names: pre-RMSNorm decoder blocks, rotary positions in
 * the `rotate_half` layout (first half / second half of each head), SwiGLU MLP and grouped-query attention.
 */
import { activation, Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import * as F from '../../nn/functional.js';
import { keep } from '../../tensor/engine.js';
import * as ops from '../../tensor/ops.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import { ConfigError } from '../configuration_utils.js';
import type { CausalLM, CausalLMInputs, CausalLMOutput, LayerKV } from '../modeling_outputs.js';
import {
  attentionBias,
  causalLMOutput,
  checkContextWindow,
  defaultPositionIds,
  mergeHeads,
  PreTrainedModel,
  runLayers,
  splitHeads,
  type LayerOutput,
  type StackOutput,
} from '../modeling_utils.js';
import { LlamaConfig } from './configuration_llama.js';

/**
 * cos and signed-sin tables (maxPositions, D) for rotary embeddings, computed in float32 steps as transformers does
 * (inv_freq = 1 / theta^(2i/D), angle = position · inv_freq, both halves equal). The sin table carries rotate_half's
 * sign: rotate_half(x) · sin = swapHalves(x) · [-sin, sin].
 */
export class RotaryTables {
  readonly cos: Tensor;
  readonly signedSin: Tensor;

  constructor(readonly headDim: number, maxPositions: number, theta: number, positionScale = 1) {
    const half = headDim / 2;
    const invFreq = Float32Array.from({ length: half }, (_, i) => Math.fround(1 / Math.fround(theta ** Math.fround((2 * i) / headDim))));
    const cos = new Float32Array(maxPositions * headDim);
    const sin = new Float32Array(maxPositions * headDim);
    for (let p = 0; p < maxPositions; p++) {
      const position = Math.fround(p / positionScale);
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(position * invFreq[i]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[p * headDim + i] = c;
        cos[p * headDim + half + i] = c;
        sin[p * headDim + i] = -s;
        sin[p * headDim + half + i] = s;
      }
    }
    this.cos = keep(new Tensor(cos, [maxPositions, headDim]));
    this.signedSin = keep(new Tensor(sin, [maxPositions, headDim]));
  }

  /** x (B, H, T, D) rotated to its positions: (T) shared by the batch or (B, T) per row. */
  apply(x: Tensor, positions: Tensor): Tensor {
    const perRow = positions.rank === 2;
    const shape = perRow ? [positions.shape[0]!, 1, positions.shape[1]!, this.headDim] : [1, 1, positions.shape[0]!, this.headDim];
    const cos = ops.reshape(ops.indexSelect(this.cos, positions, 0), shape);
    const sin = ops.reshape(ops.indexSelect(this.signedSin, positions, 0), shape);
    const half = this.headDim / 2;
    const swapped = ops.concat([ops.slice(x, -1, half), ops.slice(x, -1, 0, half)], -1);
    return ops.add(ops.mul(x, cos), ops.mul(swapped, sin));
  }
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
    const { hiddenSize: c, numAttentionHeads: heads, numKeyValueHeads: kvHeads, initializerRange: std, attentionBias: bias } = config;
    if (c % heads !== 0 || heads % kvHeads !== 0) {
      throw new ConfigError(`${config.source}: hidden_size ${c}, num_attention_heads ${heads} and num_key_value_heads ${kvHeads} must divide evenly`);
    }
    const d = c / heads;
    this.heads = heads;
    this.kvHeads = kvHeads;
    this.q_proj = new Linear(c, heads * d, { bias, std });
    this.k_proj = new Linear(c, kvHeads * d, { bias, std });
    this.v_proj = new Linear(c, kvHeads * d, { bias, std });
    this.o_proj = new Linear(heads * d, c, { bias, std });
  }

  forward(x: Tensor, rotary: RotaryTables, positions: Tensor, bias: Tensor | null, past: LayerKV | null, useCache: boolean): LayerOutput {
    const [b, t] = x.shape as [number, number];
    const d = rotary.headDim;
    const q = rotary.apply(splitHeads(this.q_proj.forward(x), this.heads), positions); // (B, H, T, D)
    let key = rotary.apply(splitHeads(this.k_proj.forward(x), this.kvHeads), positions); // (B, Hkv, T, D)
    let value = splitHeads(this.v_proj.forward(x), this.kvHeads);
    if (past) {
      key = ops.concat([past.key, key], 2);
      value = ops.concat([past.value, value], 2);
    }
    const tk = key.shape[2]!;
    // Grouped-query attention without repeating keys: query heads kv·r … kv·r+r-1 share key head kv, so
    // (B, H, T, D) regroups as (B, Hkv, r·T, D) by a reshape alone.
    const grouped = ops.reshape(q, [b, this.kvHeads, (this.heads / this.kvHeads) * t, d]);
    let scores = ops.reshape(ops.mul(ops.matmul(grouped, ops.transpose(key, -2, -1)), 1 / Math.sqrt(d)), [b, this.heads, t, tk]);
    if (bias) scores = ops.add(scores, bias);
    let weights = ops.softmax(scores, -1);
    weights = F.dropout(weights, this.config.attentionDropout, this.training);
    const context = ops.reshape(ops.matmul(ops.reshape(weights, [b, this.kvHeads, (this.heads / this.kvHeads) * t, tk]), value), [b, this.heads, t, d]);
    return { hidden: this.o_proj.forward(mergeHeads(context)), present: useCache ? { key, value } : undefined, weights };
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
    return this.down_proj.forward(ops.mul(this.act(this.gate_proj.forward(x)), this.up_proj.forward(x)));
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

  forward(x: Tensor, rotary: RotaryTables, positions: Tensor, bias: Tensor | null, past: LayerKV | null, useCache: boolean): LayerOutput {
    const attended = this.self_attn.forward(this.input_layernorm.forward(x), rotary, positions, bias, past, useCache);
    const h = ops.add(x, attended.hidden);
    return { ...attended, hidden: ops.add(h, this.mlp.forward(this.post_attention_layernorm.forward(h))) };
  }
}

function ropePositionScale(config: LlamaConfig): number {
  const scaling = config.ropeScaling;
  if (!scaling) return 1;
  if (scaling['type'] === 'linear' && typeof scaling['factor'] === 'number') return scaling['factor'];
  throw new ConfigError(`${config.source}: rope_scaling ${JSON.stringify(scaling)} is not supported (attn implements {"type": "linear", "factor": f})`);
}

export class LlamaModel extends PreTrainedModel<LlamaConfig> {
  static override readonly configClass = LlamaConfig;
  static override readonly baseModelPrefix = 'model';

  embed_tokens: Embedding;
  layers: ModuleList<LlamaDecoderLayer>;
  norm: RMSNorm;
  private readonly rotary: RotaryTables;

  constructor(config: LlamaConfig) {
    super(config);
    this.embed_tokens = new Embedding(config.vocabSize, config.hiddenSize, { std: config.initializerRange });
    this.layers = new ModuleList(Array.from({ length: config.numHiddenLayers }, () => new LlamaDecoderLayer(config)));
    this.norm = new RMSNorm(config.hiddenSize, config.rmsNormEps);
    this.rotary = new RotaryTables(config.headDim, config.maxPositionEmbeddings, config.ropeTheta, ropePositionScale(config));
  }

  forward(inputs: Omit<CausalLMInputs, 'labels'>): StackOutput {
    const { inputIds, attentionMask, pastKeyValues, useCache = false } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    const pastLength = pastKeyValues?.[0]?.key.shape[2] ?? 0;
    checkContextWindow(pastLength + t, this.config.maxPositionEmbeddings, 'LlamaModel', 'max_position_embeddings');
    const positions = inputs.positionIds ?? defaultPositionIds(t, pastLength);
    const bias = attentionBias(attentionMask, { batch: b, queryLength: t, keyLength: pastLength + t, causal: true });
    const hidden = this.embed_tokens.forward(inputIds); // (B, T, C)
    const run = (layer: LlamaDecoderLayer, h: Tensor, past: LayerKV | null): LayerOutput => layer.forward(h, this.rotary, positions, bias, past, useCache);
    return runLayers(this.layers, hidden, run, inputs, (h) => this.norm.forward(h));
  }
}

export class LlamaForCausalLM extends PreTrainedModel<LlamaConfig> implements CausalLM {
  static override readonly configClass = LlamaConfig;
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
