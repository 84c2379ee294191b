/**
 * T5 (Raffel et al. 2019) with transformers' parameter names: pre-RMSNorm blocks without biases, unscaled attention
 * with a learned relative position bias (bucketed distances; only block 0 of each stack owns the table, the other
 * blocks reuse its bias), head size d_kv independent of d_model, and a tied head that scales the decoder output by
 * d_model ** -0.5.
 *
 * Shapes: B batch, S encoder tokens, T decoder tokens (Tk cached + new), C d_model, H num_heads, D d_kv (head
 * size, independent of C), F d_ff, V vocabulary.
 */
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from '../../nn/attention.js';
import { feedForward, gatedFeedForward } from '../../nn/feedforward.js';
import * as F from '../../nn/functional.js';
import { attentionKeyValues, type LayerKV, type Seq2SeqCache } from '../../nn/kv_cache.js';
import { activation, Embedding, Linear, RMSNorm } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import * as ops from '../../tensor/ops.js';
import { shapeString } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import type { Seq2SeqLM, Seq2SeqLMInputs, Seq2SeqLMOutput } from '../modeling_outputs.js';
import { PreTrainedModel } from '../modeling_utils.js';
import { T5Config } from './configuration_t5.js';

/**
 * transformers' _relative_position_bucket: exact buckets for short distances, logarithmic ones up to maxDistance;
 * bidirectional (encoder) halves the buckets between keys before and after the query. The log term is computed in
 * float32 and truncated, as torch does.
 */
export function relativePositionBucket(
  relative: number,
  bidirectional: boolean,
  numBuckets: number,
  maxDistance: number,
): number {
  let buckets = numBuckets;
  let bucket = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(buckets / 2);
    if (relative > 0) bucket += buckets;
    distance = Math.abs(relative);
  } else {
    distance = -Math.min(relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return bucket + distance;
  const f = Math.fround;
  const scaled = f(f(f(Math.log(f(distance / maxExact))) / f(Math.log(maxDistance / maxExact))) * (buckets - maxExact));
  return bucket + Math.min(maxExact + Math.trunc(scaled), buckets - 1);
}

/** Buckets (Tq, Tk) for queries at positions offset … offset+Tq-1 against keys 0 … Tk-1. */
function bucketGrid(tq: number, tk: number, offset: number, bidirectional: boolean, config: T5Config): Tensor {
  const out = new Int32Array(tq * tk);
  for (let i = 0; i < tq; i++) {
    for (let j = 0; j < tk; j++) {
      out[i * tk + j] = relativePositionBucket(
        j - (offset + i),
        bidirectional,
        config.relativeAttentionNumBuckets,
        config.relativeAttentionMaxDistance,
      );
    }
  }
  return new Tensor(out, [tq, tk]);
}

export class T5Attention extends Module {
  q: Linear;
  k: Linear;
  v: Linear;
  o: Linear;
  relative_attention_bias?: Embedding;

  constructor(
    private readonly config: T5Config,
    hasRelativeBias: boolean,
    private readonly isDecoder: boolean,
  ) {
    super();
    const { dModel, dKv, numHeads, initializerFactor: factor } = config;
    const inner = numHeads * dKv;
    this.q = new Linear(dModel, inner, { bias: false, std: factor * (dModel * dKv) ** -0.5 });
    this.k = new Linear(dModel, inner, { bias: false, std: factor * dModel ** -0.5 });
    this.v = new Linear(dModel, inner, { bias: false, std: factor * dModel ** -0.5 });
    this.o = new Linear(inner, dModel, { bias: false, std: factor * inner ** -0.5 });
    if (hasRelativeBias)
      this.relative_attention_bias = new Embedding(config.relativeAttentionNumBuckets, numHeads, {
        std: factor * dModel ** -0.5,
      });
  }

  /** (1, H, Tq, Tk): the learned bias for each query–key distance (queries start at absolute position `offset`). */
  positionBias(tq: number, tk: number, offset: number): Tensor {
    if (!this.relative_attention_bias)
      throw new Error('T5Attention: only the first block of a stack has the relative position table');
    const values = this.relative_attention_bias.forward(bucketGrid(tq, tk, offset, !this.isDecoder, this.config)); // (Tq, Tk, H)
    return ops.unsqueeze(ops.permute(values, [2, 0, 1]), 0);
  }

  /** Self-attention when `keyValueStates` is null (appending to `past`), else cross-attention (reusing `past`). */
  forward(
    x: Tensor,
    keyValueStates: Tensor | null,
    bias: Tensor | null,
    past: LayerKV | null,
  ): { hidden: Tensor; present: LayerKV; weights: Tensor } {
    const heads = this.config.numHeads;
    const { key, value } = attentionKeyValues(x, keyValueStates, past, (source) => ({
      key: splitHeads(this.k.forward(source), heads),
      value: splitHeads(this.v.forward(source), heads),
    }));
    // T5 folds the 1/sqrt(d) scaling into its initialisation: scores are not scaled.
    const { output, weights } = scaledDotProductAttention(splitHeads(this.q.forward(x), heads), key, value, {
      mask: bias,
      scale: 1,
      dropoutP: this.config.dropoutRate,
      training: this.training,
    });
    return { hidden: this.o.forward(mergeHeads(output)), present: { key, value }, weights };
  }
}

export class T5LayerSelfAttention extends Module {
  SelfAttention: T5Attention;
  layer_norm: RMSNorm;

  constructor(
    private readonly config: T5Config,
    hasRelativeBias: boolean,
    isDecoder: boolean,
  ) {
    super();
    this.SelfAttention = new T5Attention(config, hasRelativeBias, isDecoder);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
  }

  forward(x: Tensor, bias: Tensor | null, past: LayerKV | null): { hidden: Tensor; present: LayerKV } {
    const out = this.SelfAttention.forward(this.layer_norm.forward(x), null, bias, past);
    return { hidden: ops.add(x, F.dropout(out.hidden, this.config.dropoutRate, this.training)), present: out.present };
  }
}

export class T5LayerCrossAttention extends Module {
  EncDecAttention: T5Attention;
  layer_norm: RMSNorm;

  constructor(private readonly config: T5Config) {
    super();
    this.EncDecAttention = new T5Attention(config, false, true);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
  }

  forward(x: Tensor, encoder: Tensor, bias: Tensor | null, past: LayerKV | null): { hidden: Tensor; present: LayerKV } {
    const out = this.EncDecAttention.forward(this.layer_norm.forward(x), encoder, bias, past);
    return { hidden: ops.add(x, F.dropout(out.hidden, this.config.dropoutRate, this.training)), present: out.present };
  }
}

/** wi → act → wo (T5DenseActDense). */
export class T5DenseActDense extends Module {
  wi: Linear;
  wo: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(private readonly config: T5Config) {
    super();
    this.wi = new Linear(config.dModel, config.dFf, {
      bias: false,
      std: config.initializerFactor * config.dModel ** -0.5,
    });
    this.wo = new Linear(config.dFf, config.dModel, {
      bias: false,
      std: config.initializerFactor * config.dFf ** -0.5,
    });
    this.act = activation(config.denseActFn);
  }

  forward(x: Tensor): Tensor {
    return feedForward(x, this.wi, this.wo, {
      activation: this.act,
      dropout: this.config.dropoutRate,
      training: this.training,
    });
  }
}

/** act(wi_0 x) · wi_1 x → wo (T5DenseGatedActDense, T5 v1.1 / Flan-T5). */
export class T5DenseGatedActDense extends Module {
  wi_0: Linear;
  wi_1: Linear;
  wo: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(private readonly config: T5Config) {
    super();
    const std = config.initializerFactor * config.dModel ** -0.5;
    this.wi_0 = new Linear(config.dModel, config.dFf, { bias: false, std });
    this.wi_1 = new Linear(config.dModel, config.dFf, { bias: false, std });
    this.wo = new Linear(config.dFf, config.dModel, {
      bias: false,
      std: config.initializerFactor * config.dFf ** -0.5,
    });
    this.act = activation(config.denseActFn);
  }

  forward(x: Tensor): Tensor {
    const call = { activation: this.act, dropout: this.config.dropoutRate, training: this.training };
    return gatedFeedForward(x, this.wi_0, this.wi_1, this.wo, call);
  }
}

export class T5LayerFF extends Module {
  DenseReluDense: T5DenseActDense | T5DenseGatedActDense;
  layer_norm: RMSNorm;

  constructor(private readonly config: T5Config) {
    super();
    this.DenseReluDense = config.isGatedAct ? new T5DenseGatedActDense(config) : new T5DenseActDense(config);
    this.layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
  }

  forward(x: Tensor): Tensor {
    return ops.add(
      x,
      F.dropout(this.DenseReluDense.forward(this.layer_norm.forward(x)), this.config.dropoutRate, this.training),
    );
  }
}

/** layer.0 self-attention, layer.1 cross-attention (decoder only), last the feed-forward. */
export class T5Block extends Module {
  layer: ModuleList;

  constructor(
    config: T5Config,
    hasRelativeBias: boolean,
    readonly isDecoder: boolean,
  ) {
    super();
    this.layer = new ModuleList<Module>([new T5LayerSelfAttention(config, hasRelativeBias, isDecoder)]);
    if (isDecoder) this.layer.push(new T5LayerCrossAttention(config));
    this.layer.push(new T5LayerFF(config));
  }

  get selfAttention(): T5LayerSelfAttention {
    return this.layer.at(0) as T5LayerSelfAttention;
  }

  forward(
    x: Tensor,
    selfBias: Tensor | null,
    cross: { states: Tensor; bias: Tensor | null } | null,
    past: { self: LayerKV; cross: LayerKV } | null,
  ): { hidden: Tensor; self: LayerKV; cross?: LayerKV } {
    const selfOut = this.selfAttention.forward(x, selfBias, past?.self ?? null);
    let h = selfOut.hidden;
    let crossPresent: LayerKV | undefined;
    if (cross) {
      const crossOut = (this.layer.at(1) as T5LayerCrossAttention).forward(
        h,
        cross.states,
        cross.bias,
        past?.cross ?? null,
      );
      h = crossOut.hidden;
      crossPresent = crossOut.present;
    }
    h = (this.layer.at(-1) as T5LayerFF).forward(h);
    return { hidden: h, self: selfOut.present, cross: crossPresent };
  }
}

function sumBiases(a: Tensor | null, b: Tensor | null): Tensor | null {
  return a && b ? ops.add(a, b) : (a ?? b);
}

interface StackOutput {
  lastHiddenState: Tensor;
  cache: Seq2SeqCache;
  hiddenStates: Tensor[];
}

export class T5Stack extends Module {
  embed_tokens: Embedding;
  block: ModuleList<T5Block>;
  final_layer_norm: RMSNorm;

  constructor(
    private readonly config: T5Config,
    embedTokens: Embedding,
    readonly isDecoder: boolean,
  ) {
    super();
    this.embed_tokens = embedTokens;
    const layers = isDecoder ? config.numDecoderLayers : config.numLayers;
    this.block = new ModuleList(Array.from({ length: layers }, (_, i) => new T5Block(config, i === 0, isDecoder)));
    this.final_layer_norm = new RMSNorm(config.dModel, config.layerNormEpsilon);
  }

  /**
   * ids (B, T); mask (B, past + T). The decoder gets the encoder states and their mask (B, S). Returns the output
   * after the final norm and the hidden states as transformers lists them: each block's input, then that output.
   */
  forward(
    inputIds: Tensor,
    mask: Tensor | null | undefined,
    encoder: { states: Tensor; mask: Tensor | null | undefined } | null,
    past: Seq2SeqCache | null,
  ): StackOutput {
    const [b, t] = inputIds.shape as [number, number];
    const pastLength = past?.self[0]?.key.shape[2] ?? 0;
    const keyLength = pastLength + t;
    const dropout = (x: Tensor): Tensor => F.dropout(x, this.config.dropoutRate, this.training);
    let h = dropout(this.embed_tokens.forward(inputIds)); // (B, T, C)
    const relative = this.block.at(0).selfAttention.SelfAttention.positionBias(t, keyLength, pastLength);
    const selfBias = sumBiases(
      relative,
      attentionBias(mask, { batch: b, queryLength: t, keyLength, causal: this.isDecoder }),
    );
    const cross = encoder
      ? {
          states: encoder.states,
          bias: attentionBias(encoder.mask, {
            batch: b,
            queryLength: t,
            keyLength: encoder.states.shape[1]!,
            causal: false,
          }),
        }
      : null;
    const cache: Seq2SeqCache = { self: [], cross: [] };
    const hiddenStates: Tensor[] = [];
    [...this.block].forEach((block, i) => {
      hiddenStates.push(h);
      const out = block.forward(h, selfBias, cross, past ? { self: past.self[i]!, cross: past.cross[i]! } : null);
      h = out.hidden;
      cache.self.push(out.self);
      if (out.cross) cache.cross.push(out.cross);
    });
    h = dropout(this.final_layer_norm.forward(h));
    hiddenStates.push(h);
    return { lastHiddenState: h, cache, hiddenStates };
  }
}

export class T5ForConditionalGeneration extends PreTrainedModel<T5Config> implements Seq2SeqLM {
  static override readonly configClass = T5Config;
  static override readonly baseModelPrefix = '';

  shared: Embedding;
  encoder: T5Stack;
  decoder: T5Stack;
  lm_head: Linear;

  constructor(config: T5Config) {
    super(config);
    this.shared = new Embedding(config.vocabSize, config.dModel, { std: config.initializerFactor });
    this.encoder = new T5Stack(config, this.shared, false);
    this.decoder = new T5Stack(config, this.shared, true);
    this.lm_head = new Linear(config.dModel, config.vocabSize, { bias: false, std: config.initializerFactor });
    if (config.tieWordEmbeddings) this.lm_head.weight = this.shared.weight;
  }

  encode(inputIds: Tensor, attentionMask?: Tensor | null): Tensor {
    return this.encoder.forward(inputIds, attentionMask, null, null).lastHiddenState;
  }

  forward(inputs: Seq2SeqLMInputs): Seq2SeqLMOutput {
    let encoderHiddenStates: Tensor[] | undefined;
    let encoded = inputs.encoderHiddenStates ?? null;
    if (!encoded) {
      if (!inputs.inputIds) throw new Error('T5ForConditionalGeneration.forward: give inputIds or encoderHiddenStates');
      const enc = this.encoder.forward(inputs.inputIds, inputs.attentionMask, null, null);
      encoded = enc.lastHiddenState;
      if (inputs.outputHiddenStates) encoderHiddenStates = enc.hiddenStates;
    }
    const dec = this.decoder.forward(
      inputs.decoderInputIds,
      inputs.decoderAttentionMask,
      { states: encoded, mask: inputs.attentionMask },
      inputs.pastKeyValues ?? null,
    );
    // The tied head reuses the input embedding, whose scale differs from a trained output projection's.
    const output = this.config.tieWordEmbeddings
      ? ops.mul(dec.lastHiddenState, this.config.dModel ** -0.5)
      : dec.lastHiddenState;
    const logits = this.lm_head.forward(output); // (B, T, V)
    let loss: Tensor | undefined;
    if (inputs.labels) {
      const [b, t, v] = logits.shape as [number, number, number];
      if (inputs.labels.rank !== 2 || inputs.labels.shape[0] !== b || inputs.labels.shape[1] !== t) {
        throw new RangeError(
          `T5ForConditionalGeneration: labels must be (batch, decoder tokens) = [${b}, ${t}], got ${shapeString(inputs.labels.shape)}`,
        );
      }
      loss = F.crossEntropy(ops.reshape(logits, [b * t, v]), ops.reshape(inputs.labels, [b * t]), {
        ignoreIndex: -100,
      });
    }
    return {
      logits,
      loss,
      pastKeyValues: inputs.useCache === false ? undefined : dec.cache,
      encoderLastHiddenState: encoded,
      encoderHiddenStates,
      decoderHiddenStates: inputs.outputHiddenStates ? dec.hiddenStates : undefined,
    };
  }
}

registerModel('t5', { config: T5Config, seq2seqLM: T5ForConditionalGeneration });
