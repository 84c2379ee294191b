import { cachedLength, type LayerKV, type Seq2SeqCache } from './kv_cache.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { attentionBias, MultiHeadAttention } from './attention.js';
import { createFeedForward, type FeedForward, type GatedFeedForward } from './feedforward.js';
import { LayerNorm, RMSNorm } from './layers.js';
import { Module, ModuleList } from './module.js';
import type { RotaryEmbedding } from './rotary.js';

/**
 * Transformer encoder and decoder layers, their stacks, and a full encoder–decoder `Transformer` (as
 * torch.nn.Transformer: it maps embedded inputs to hidden states; embeddings and heads belong to the model).
 * Field names follow HF BART (`self_attn`, `self_attn_layer_norm`, `encoder_attn`, `final_layer_norm`).
 */

export interface TransformerLayerOptions {
  dModel: number;
  numHeads: number;
  /** Hidden width of the feed-forward block. */
  dFF: number;
  /** Grouped-query attention: key/value heads (default numHeads). */
  numKeyValueHeads?: number;
  /** Dropout on each sublayer's output before the residual add (default 0.1, as torch). */
  dropout?: number;
  /** Dropout on attention weights (default: `dropout`). */
  attentionDropout?: number;
  /** Feed-forward activation: an HF name ('relu', 'gelu', …) or 'swiglu' (default 'relu'). */
  activation?: string;
  /** Pre-norm (GPT-2, Llama): x + f(norm(x)). Default post-norm (original, BERT, BART): norm(x + f(x)). */
  normFirst?: boolean;
  norm?: 'layernorm' | 'rmsnorm';
  layerNormEps?: number;
  bias?: boolean;
  /** Rotary embedding for self-attention queries and keys. */
  rotary?: RotaryEmbedding;
  std?: number;
  generator?: Generator;
}

type Norm = LayerNorm | RMSNorm;

function createNorm(options: TransformerLayerOptions): Norm {
  return options.norm === 'rmsnorm'
    ? new RMSNorm(options.dModel, options.layerNormEps ?? 1e-6)
    : new LayerNorm(options.dModel, options.layerNormEps ?? 1e-5);
}

function createAttention(options: TransformerLayerOptions, crossAttention = false): MultiHeadAttention {
  const { numHeads, numKeyValueHeads, bias, std, generator } = options;
  return new MultiHeadAttention(options.dModel, {
    numHeads,
    numKeyValueHeads,
    bias,
    std,
    generator,
    crossAttention,
    dropout: options.attentionDropout ?? options.dropout ?? 0.1,
    // Positions rotate queries against keys of the same sequence only.
    rotary: crossAttention ? undefined : options.rotary,
  });
}

/** Shared by both layer kinds: one residual sublayer in pre- or post-norm order. */
abstract class ResidualLayer extends Module {
  readonly normFirst: boolean;
  readonly dropout: number;

  constructor(options: TransformerLayerOptions) {
    super();
    this.normFirst = options.normFirst ?? false;
    this.dropout = options.dropout ?? 0.1;
  }

  protected residual(x: Tensor, norm: Norm, sublayer: (h: Tensor) => Tensor): Tensor {
    const input = this.normFirst ? norm.forward(x) : x;
    const out = ops.add(x, F.dropout(sublayer(input), this.dropout, this.training));
    return this.normFirst ? out : norm.forward(out);
  }
}

export interface EncoderLayerCall {
  /** Bool (true = attend) or additive mask broadcastable to (B, heads, T, T); `attentionBias` builds one. */
  mask?: Tensor | null;
  outputAttentions?: boolean;
  positionIds?: Tensor | null;
}

export interface EncoderLayerOutput {
  hidden: Tensor; // (B, T, C)
  attention?: Tensor; // (B, heads, T, T)
}

/** Self-attention then feed-forward, each a residual sublayer. */
export class TransformerEncoderLayer extends ResidualLayer {
  self_attn: MultiHeadAttention;
  self_attn_layer_norm: Norm;
  feed_forward: FeedForward | GatedFeedForward;
  final_layer_norm: Norm;

  constructor(options: TransformerLayerOptions) {
    super(options);
    this.self_attn = createAttention(options);
    this.self_attn_layer_norm = createNorm(options);
    this.feed_forward = createFeedForward(options.dModel, options.dFF, options);
    this.final_layer_norm = createNorm(options);
  }

  forward(x: Tensor, call: EncoderLayerCall = {}): EncoderLayerOutput {
    let attention: Tensor | undefined;
    let h = this.residual(x, this.self_attn_layer_norm, (input) => {
      const out = this.self_attn.forward(input, {
        mask: call.mask,
        outputAttentions: call.outputAttentions,
        positionIds: call.positionIds,
      });
      attention = out.weights;
      return out.output;
    });
    h = this.residual(h, this.final_layer_norm, (input) => this.feed_forward.forward(input));
    return { hidden: h, attention };
  }
}

/** One decoder layer's cache: self-attention keys/values (growing) and cross-attention ones (fixed). */
export interface DecoderLayerCache {
  self: LayerKV;
  cross?: LayerKV;
}

export interface DecoderLayerCall {
  /** (B, S, C) encoder output; required when the layer has cross-attention. */
  encoderHiddenStates?: Tensor | null;
  /** Self-attention mask broadcastable to (B, heads, T, Tpast + T), e.g. `attentionBias` of the decoder tokens. */
  mask?: Tensor | null;
  /** Cross-attention mask broadcastable to (B, heads, T, S), e.g. `attentionBias` of the encoder tokens. */
  encoderMask?: Tensor | null;
  /** Causal self-attention (default true). */
  causal?: boolean;
  pastKeyValue?: DecoderLayerCache | null;
  useCache?: boolean;
  outputAttentions?: boolean;
  positionIds?: Tensor | null;
}

export interface DecoderLayerOutput {
  hidden: Tensor; // (B, T, C)
  selfAttention?: Tensor; // (B, heads, T, Tpast + T)
  crossAttention?: Tensor; // (B, heads, T, S)
  presentKeyValue?: DecoderLayerCache;
}

/**
 * Causal self-attention, cross-attention to the encoder (unless built with `crossAttention: false`, which gives a
 * GPT block), then feed-forward.
 */
export class TransformerDecoderLayer extends ResidualLayer {
  self_attn: MultiHeadAttention;
  self_attn_layer_norm: Norm;
  encoder_attn: MultiHeadAttention | null;
  encoder_attn_layer_norm: Norm | null;
  feed_forward: FeedForward | GatedFeedForward;
  final_layer_norm: Norm;

  constructor(options: TransformerLayerOptions & { crossAttention?: boolean }) {
    super(options);
    const cross = options.crossAttention ?? true;
    this.self_attn = createAttention(options);
    this.self_attn_layer_norm = createNorm(options);
    this.encoder_attn = cross ? createAttention(options, true) : null;
    this.encoder_attn_layer_norm = cross ? createNorm(options) : null;
    this.feed_forward = createFeedForward(options.dModel, options.dFF, options);
    this.final_layer_norm = createNorm(options);
  }

  forward(x: Tensor, call: DecoderLayerCall = {}): DecoderLayerOutput {
    const { useCache, outputAttentions } = call;
    const past = call.pastKeyValue ?? null;
    const result: DecoderLayerOutput = { hidden: x };
    let present: DecoderLayerCache | undefined;

    let h = this.residual(x, this.self_attn_layer_norm, (input) => {
      const out = this.self_attn.forward(input, {
        mask: call.mask,
        causal: call.causal ?? true,
        pastKeyValue: past?.self,
        useCache,
        outputAttentions,
        positionIds: call.positionIds,
      });
      result.selfAttention = out.weights;
      if (out.presentKeyValue) present = { self: out.presentKeyValue };
      return out.output;
    });

    if (this.encoder_attn && this.encoder_attn_layer_norm) {
      const crossAttention = this.encoder_attn;
      h = this.residual(h, this.encoder_attn_layer_norm, (input) => {
        const out = crossAttention.forward(input, {
          keyValueStates: call.encoderHiddenStates,
          mask: call.encoderMask,
          pastKeyValue: past?.cross,
          useCache,
          outputAttentions,
        });
        result.crossAttention = out.weights;
        if (present && out.presentKeyValue) present.cross = out.presentKeyValue;
        return out.output;
      });
    }

    result.hidden = this.residual(h, this.final_layer_norm, (input) => this.feed_forward.forward(input));
    result.presentKeyValue = present;
    return result;
  }
}

export interface StackOptions extends TransformerLayerOptions {
  numLayers: number;
}

export interface EncoderCall {
  /** (B, S) HF-style padding mask: 1 (true) for tokens, 0 for padding. */
  attentionMask?: Tensor | null;
  outputAttentions?: boolean;
  outputHiddenStates?: boolean;
  /** (B, S) positions for rotary embeddings. */
  positionIds?: Tensor | null;
}

export interface EncoderOutput {
  lastHiddenState: Tensor; // (B, S, C)
  hiddenStates?: Tensor[]; // input and each layer's output
  attentions?: Tensor[];
}

/** A stack of encoder layers; pre-norm stacks end with a final norm (`layer_norm`), as pre-norm models do. */
export class TransformerEncoder extends Module {
  layers: ModuleList<TransformerEncoderLayer>;
  layer_norm: Norm | null;

  constructor(options: StackOptions) {
    super();
    this.layers = new ModuleList(Array.from({ length: options.numLayers }, () => new TransformerEncoderLayer(options)));
    this.layer_norm = options.normFirst ? createNorm(options) : null;
  }

  forward(x: Tensor, call: EncoderCall = {}): EncoderOutput {
    const [b, s] = x.shape as [number, number, number];
    const mask = attentionBias(call.attentionMask, { batch: b, queryLength: s, keyLength: s, causal: false }); // built once for all layers
    const hiddenStates: Tensor[] = [];
    const attentions: Tensor[] = [];
    let h = x;
    for (const layer of this.layers) {
      if (call.outputHiddenStates) hiddenStates.push(h);
      const out = layer.forward(h, { mask, outputAttentions: call.outputAttentions, positionIds: call.positionIds });
      h = out.hidden;
      if (out.attention) attentions.push(out.attention);
    }
    if (this.layer_norm) h = this.layer_norm.forward(h);
    if (call.outputHiddenStates) hiddenStates.push(h);
    return {
      lastHiddenState: h,
      hiddenStates: call.outputHiddenStates ? hiddenStates : undefined,
      attentions: call.outputAttentions ? attentions : undefined,
    };
  }
}

export interface DecoderCall {
  encoderHiddenStates?: Tensor | null; // (B, S, C)
  /** (B, Tpast + T) padding mask of the decoder tokens. */
  attentionMask?: Tensor | null;
  /** (B, S) padding mask of the encoder tokens. */
  encoderAttentionMask?: Tensor | null;
  pastKeyValues?: Seq2SeqCache | null;
  useCache?: boolean;
  outputAttentions?: boolean;
  outputHiddenStates?: boolean;
  /** (B, T) positions for rotary embeddings; default past length + arange(T). */
  positionIds?: Tensor | null;
}

export interface DecoderOutput {
  lastHiddenState: Tensor; // (B, T, C)
  /** `cross` is empty when the layers have no cross-attention. */
  pastKeyValues?: Seq2SeqCache;
  hiddenStates?: Tensor[];
  selfAttentions?: Tensor[];
  crossAttentions?: Tensor[];
}

/** A stack of decoder layers (causal), with a final norm when pre-norm. */
export class TransformerDecoder extends Module {
  layers: ModuleList<TransformerDecoderLayer>;
  layer_norm: Norm | null;

  constructor(options: StackOptions & { crossAttention?: boolean }) {
    super();
    this.layers = new ModuleList(Array.from({ length: options.numLayers }, () => new TransformerDecoderLayer(options)));
    this.layer_norm = options.normFirst ? createNorm(options) : null;
  }

  forward(x: Tensor, call: DecoderCall = {}): DecoderOutput {
    const [b, t] = x.shape as [number, number, number];
    const past = call.pastKeyValues ?? null;
    // Causal and padding in one additive bias (built once for all layers), so the layers run with causal off.
    const mask = attentionBias(call.attentionMask, {
      batch: b,
      queryLength: t,
      keyLength: cachedLength(past?.self) + t,
      causal: true,
    });
    const sourceMask = call.encoderAttentionMask;
    const encoderMask = sourceMask
      ? attentionBias(sourceMask, { batch: b, queryLength: t, keyLength: sourceMask.shape[1]!, causal: false })
      : null;
    const cache: Seq2SeqCache = { self: [], cross: [] };
    const hiddenStates: Tensor[] = [];
    const selfAttentions: Tensor[] = [];
    const crossAttentions: Tensor[] = [];
    let h = x;
    let i = 0;
    for (const layer of this.layers) {
      if (call.outputHiddenStates) hiddenStates.push(h);
      const layerPast = past ? { self: past.self[i]!, cross: past.cross[i] } : null;
      const out = layer.forward(h, {
        encoderHiddenStates: call.encoderHiddenStates,
        mask,
        causal: false,
        encoderMask,
        pastKeyValue: layerPast,
        useCache: call.useCache,
        outputAttentions: call.outputAttentions,
        positionIds: call.positionIds,
      });
      h = out.hidden;
      if (out.presentKeyValue) {
        cache.self.push(out.presentKeyValue.self);
        if (out.presentKeyValue.cross) cache.cross.push(out.presentKeyValue.cross);
      }
      if (out.selfAttention) selfAttentions.push(out.selfAttention);
      if (out.crossAttention) crossAttentions.push(out.crossAttention);
      i++;
    }
    if (this.layer_norm) h = this.layer_norm.forward(h);
    if (call.outputHiddenStates) hiddenStates.push(h);
    return {
      lastHiddenState: h,
      pastKeyValues: call.useCache ? cache : undefined,
      hiddenStates: call.outputHiddenStates ? hiddenStates : undefined,
      selfAttentions: call.outputAttentions ? selfAttentions : undefined,
      crossAttentions: call.outputAttentions ? crossAttentions : undefined,
    };
  }
}

export interface TransformerOptions extends Omit<TransformerLayerOptions, 'dModel' | 'numHeads' | 'dFF'> {
  dModel?: number;
  numHeads?: number;
  dFF?: number;
  numEncoderLayers?: number;
  numDecoderLayers?: number;
}

export interface TransformerCall {
  /** (B, S) padding mask of the source. */
  srcMask?: Tensor | null;
  /** (B, T) padding mask of the target. */
  tgtMask?: Tensor | null;
}

/**
 * The encoder–decoder Transformer of "Attention Is All You Need", as torch.nn.Transformer (same defaults:
 * dModel 512, 8 heads, 6 + 6 layers, dFF 2048, dropout 0.1, ReLU, post-norm). Inputs are already embedded.
 */
export class Transformer extends Module {
  encoder: TransformerEncoder;
  decoder: TransformerDecoder;

  constructor(options: TransformerOptions = {}) {
    super();
    const { dModel = 512, numHeads = 8, dFF = 2048, numEncoderLayers = 6, numDecoderLayers = 6 } = options;
    const layer = { ...options, dModel, numHeads, dFF };
    this.encoder = new TransformerEncoder({ ...layer, numLayers: numEncoderLayers });
    this.decoder = new TransformerDecoder({ ...layer, numLayers: numDecoderLayers });
  }

  /** src (B, S, C), tgt (B, T, C) → (B, T, C); the target attends causally. */
  forward(src: Tensor, tgt: Tensor, call: TransformerCall = {}): Tensor {
    const memory = this.encoder.forward(src, { attentionMask: call.srcMask }).lastHiddenState;
    return this.decoder.forward(tgt, {
      encoderHiddenStates: memory,
      attentionMask: call.tgtMask,
      encoderAttentionMask: call.srcMask,
    }).lastHiddenState;
  }
}
