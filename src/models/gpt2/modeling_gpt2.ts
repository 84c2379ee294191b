/**
 * GPT-2 (Radford et al. 2019) with transformers' parameter names, so a Hugging Face model.safetensors loads as is.
 * Pre-LN decoder blocks, learned positions, `Conv1D` projections stored [in, out], LM head tied to `wte`.
 *
 * Shapes: B batch, T new tokens, Tk cached + new tokens, C n_embd, H n_head, D = C / H head size, V vocabulary.
 */
import { attentionBias, mergeHeads, scaledDotProductAttention } from '../../nn/attention.js';
import { feedForward } from '../../nn/feedforward.js';
import { extendKV, type LayerKV } from '../../nn/kv_cache.js';
import { activation, Dropout, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module, ModuleList, Parameter } from '../../nn/module.js';
import type { InputMajorLinear } from '../../nn/quantized.js';
import { randn, zeros } from '../../tensor/creation.js';
import * as ops from '../../tensor/ops.js';
import type { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
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
import { GPT2Config } from './configuration_gpt2.js';

/**
 * A linear layer with its weight stored (in, out), as OpenAI's TensorFlow code did: y = x W + b. `quantize` takes it
 * as the Linear with weight Wᵀ (`InputMajorLinear`).
 */
export class Conv1D extends Module implements InputMajorLinear {
  readonly weightLayout = 'input-major';
  weight: Parameter;
  bias: Parameter;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    std = 0.02,
  ) {
    super();
    this.weight = new Parameter(randn([inFeatures, outFeatures], { std }));
    this.bias = new Parameter(zeros([outFeatures]));
  }

  forward(x: Tensor): Tensor {
    return ops.add(ops.matmul(x, this.weight), this.bias);
  }
}

export class GPT2Attention extends Module {
  c_attn: Conv1D;
  c_proj: Conv1D;
  attn_dropout: Dropout;
  resid_dropout: Dropout;
  private readonly heads: number;
  private readonly scale: number;

  constructor(config: GPT2Config, layerIndex: number) {
    super();
    const c = config.nEmbd;
    if (c % config.nHead !== 0)
      throw new RangeError(`${config.source}: n_embd ${c} is not divisible by n_head ${config.nHead}`);
    this.heads = config.nHead;
    this.c_attn = new Conv1D(c, 3 * c, config.initializerRange);
    this.c_proj = new Conv1D(c, c, config.initializerRange);
    this.attn_dropout = new Dropout(config.attnPdrop);
    this.resid_dropout = new Dropout(config.residPdrop);
    let scale = config.scaleAttnWeights ? 1 / Math.sqrt(c / config.nHead) : 1;
    if (config.scaleAttnByInverseLayerIdx) scale /= layerIndex + 1;
    this.scale = scale;
  }

  forward(x: Tensor, bias: Tensor | null, past: LayerKV | null, useCache: boolean): LayerOutput {
    const [b, t, c] = x.shape as [number, number, number];
    const d = c / this.heads;
    // (B, T, 3C) → (3, B, H, T, D): one transpose, then q, k, v are contiguous slices of the leading axis.
    const qkv = ops.permute(ops.reshape(this.c_attn.forward(x), [b, t, 3, this.heads, d]), [2, 0, 3, 1, 4]);
    const part = (i: number): Tensor => ops.reshape(ops.slice(qkv, 0, i, i + 1), [b, this.heads, t, d]);
    const kv = extendKV(past, part(1), part(2)); // (B, H, Tpast + T, D)
    const { output, weights } = scaledDotProductAttention(part(0), kv.key, kv.value, {
      mask: bias,
      scale: this.scale,
      dropoutP: this.attn_dropout.p,
      training: this.training,
    });
    const hidden = this.resid_dropout.forward(this.c_proj.forward(mergeHeads(output)));
    return { hidden, present: useCache ? kv : undefined, weights };
  }
}

export class GPT2MLP extends Module {
  c_fc: Conv1D;
  c_proj: Conv1D;
  dropout: Dropout;
  private readonly act: (x: Tensor) => Tensor;

  constructor(config: GPT2Config) {
    super();
    this.c_fc = new Conv1D(config.nEmbd, config.intermediateSize, config.initializerRange);
    this.c_proj = new Conv1D(config.intermediateSize, config.nEmbd, config.initializerRange);
    this.dropout = new Dropout(config.residPdrop);
    this.act = activation(config.activationFunction);
  }

  forward(x: Tensor): Tensor {
    return this.dropout.forward(feedForward(x, this.c_fc, this.c_proj, { activation: this.act }));
  }
}

export class GPT2Block extends Module {
  ln_1: LayerNorm;
  attn: GPT2Attention;
  ln_2: LayerNorm;
  mlp: GPT2MLP;

  constructor(config: GPT2Config, layerIndex: number) {
    super();
    this.ln_1 = new LayerNorm(config.nEmbd, config.layerNormEpsilon);
    this.attn = new GPT2Attention(config, layerIndex);
    this.ln_2 = new LayerNorm(config.nEmbd, config.layerNormEpsilon);
    this.mlp = new GPT2MLP(config);
  }

  forward(x: Tensor, bias: Tensor | null, past: LayerKV | null, useCache: boolean): LayerOutput {
    const attended = this.attn.forward(this.ln_1.forward(x), bias, past, useCache);
    const h = ops.add(x, attended.hidden);
    return { ...attended, hidden: ops.add(h, this.mlp.forward(this.ln_2.forward(h))) };
  }
}

export class GPT2Model extends PreTrainedModel<GPT2Config> {
  static override readonly configClass = GPT2Config;
  static override readonly baseModelPrefix = 'transformer';

  wte: Embedding;
  wpe: Embedding;
  drop: Dropout;
  h: ModuleList<GPT2Block>;
  ln_f: LayerNorm;

  constructor(config: GPT2Config) {
    super(config);
    this.wte = new Embedding(config.vocabSize, config.nEmbd, { std: config.initializerRange });
    this.wpe = new Embedding(config.nPositions, config.nEmbd, { std: config.initializerRange });
    this.drop = new Dropout(config.embdPdrop);
    this.h = new ModuleList(Array.from({ length: config.nLayer }, (_, i) => new GPT2Block(config, i)));
    this.ln_f = new LayerNorm(config.nEmbd, config.layerNormEpsilon);
  }

  forward(inputs: Omit<CausalLMInputs, 'labels'>): StackOutput {
    const { inputIds, attentionMask, pastKeyValues, useCache = false } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    const pastLength = pastKeyValues?.[0]?.key.shape[2] ?? 0;
    checkContextWindow(pastLength + t, this.config.nPositions, 'GPT2Model', 'n_positions');
    const positions = inputs.positionIds ?? defaultPositionIds(t, pastLength);
    const hidden = this.drop.forward(ops.add(this.wte.forward(inputIds), this.wpe.forward(positions))); // (B, T, C)
    const bias = attentionBias(attentionMask, { batch: b, queryLength: t, keyLength: pastLength + t, causal: true });
    return runLayers(
      this.h,
      hidden,
      (block, h, past) => block.forward(h, bias, past, useCache),
      inputs,
      (h) => this.ln_f.forward(h),
    );
  }
}

export class GPT2LMHeadModel extends PreTrainedModel<GPT2Config> implements CausalLM {
  static override readonly configClass = GPT2Config;
  static override readonly baseModelPrefix = 'transformer';

  transformer: GPT2Model;
  lm_head: Linear;

  constructor(config: GPT2Config) {
    super(config);
    this.transformer = new GPT2Model(config);
    this.lm_head = new Linear(config.nEmbd, config.vocabSize, { bias: false, std: config.initializerRange });
    if (config.tieWordEmbeddings) this.lm_head.weight = this.transformer.wte.weight;
  }

  forward(inputs: CausalLMInputs): CausalLMOutput {
    return causalLMOutput(this.transformer.forward(inputs), this.lm_head, inputs.labels);
  }
}

registerModel('gpt2', { config: GPT2Config, base: GPT2Model, causalLM: GPT2LMHeadModel });
