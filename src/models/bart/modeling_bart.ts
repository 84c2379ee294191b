/**
 * BART (Lewis et al. 2019) with transformers' parameter names, so a Hugging Face model.safetensors loads as is:
 * post-LN encoder and decoder layers, learned positions offset by 2, `layernorm_embedding`, token embeddings shared
 * by encoder, decoder and LM head (`model.shared`), and a `final_logits_bias` buffer. Marian reuses this stack
 * with its own positions (modeling_marian.ts).
 *
 * Shapes: B batch, S source tokens, T target tokens (Tk cached + new in the decoder), C d_model, H heads,
 * D = C / H head size, V vocabulary.
 */
import { attentionBias, mergeHeads, scaledDotProductAttention, splitHeads } from '../../nn/attention.js';
import { feedForward } from '../../nn/feedforward.js';
import * as F from '../../nn/functional.js';
import { attentionKeyValues, type LayerKV, type Seq2SeqCache } from '../../nn/kv_cache.js';
import { activation, Embedding, LayerNorm, Linear } from '../../nn/layers.js';
import { Module, ModuleList } from '../../nn/module.js';
import { zeros } from '../../tensor/creation.js';
import * as ops from '../../tensor/ops.js';
import { shapeString } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { registerModel } from '../auto/registry.js';
import type { BaseModelOutput, ModelInputs, Seq2SeqLM, Seq2SeqLMInputs, Seq2SeqLMOutput } from '../modeling_outputs.js';
import { checkContextWindow, defaultPositionIds, PreTrainedModel } from '../modeling_utils.js';
import { BartConfig } from './configuration_bart.js';

/** Maps positions (T) to embeddings (T, C). */
export interface PositionalEmbedding extends Module {
  forward(positions: Tensor): Tensor;
}

/** Learned positions; rows 0 and 1 are unused (fairseq reserved them for padding), so position p reads row p + 2. */
export class BartLearnedPositionalEmbedding extends Embedding implements PositionalEmbedding {
  private static readonly OFFSET = 2;

  constructor(numPositions: number, dim: number, std: number) {
    super(numPositions + BartLearnedPositionalEmbedding.OFFSET, dim, { std });
  }

  override forward(positions: Tensor): Tensor {
    return super.forward(ops.add(positions, BartLearnedPositionalEmbedding.OFFSET));
  }
}

interface AttentionOutput {
  hidden: Tensor;
  present: LayerKV;
  weights: Tensor;
}

/** Multi-head attention; self-attention when `keyValueStates` is null, else cross-attention over them. */
export class BartAttention extends Module {
  k_proj: Linear;
  v_proj: Linear;
  q_proj: Linear;
  out_proj: Linear;
  private readonly heads: number;

  constructor(
    dim: number,
    heads: number,
    std: number,
    private readonly dropoutP: number,
  ) {
    super();
    if (dim % heads !== 0) throw new RangeError(`BartAttention: d_model ${dim} is not divisible by ${heads} heads`);
    this.heads = heads;
    this.k_proj = new Linear(dim, dim, { std });
    this.v_proj = new Linear(dim, dim, { std });
    this.q_proj = new Linear(dim, dim, { std });
    this.out_proj = new Linear(dim, dim, { std });
  }

  /**
   * x (B, T, C). Self-attention appends to `past`; cross-attention computes the encoder's keys and values once and
   * reuses `past` (they do not change while decoding).
   */
  forward(x: Tensor, keyValueStates: Tensor | null, bias: Tensor | null, past: LayerKV | null): AttentionOutput {
    const { key, value } = attentionKeyValues(x, keyValueStates, past, (source) => ({
      key: splitHeads(this.k_proj.forward(source), this.heads),
      value: splitHeads(this.v_proj.forward(source), this.heads),
    }));
    const { output, weights } = scaledDotProductAttention(splitHeads(this.q_proj.forward(x), this.heads), key, value, {
      mask: bias,
      dropoutP: this.dropoutP,
      training: this.training,
    });
    return { hidden: this.out_proj.forward(mergeHeads(output)), present: { key, value }, weights };
  }
}

/** fc1 → activation → fc2, with the dropouts BART applies between them. */
function layerFeedForward(
  x: Tensor,
  layer: { fc1: Linear; fc2: Linear; training: boolean },
  act: (x: Tensor) => Tensor,
  config: BartConfig,
): Tensor {
  const out = feedForward(x, layer.fc1, layer.fc2, {
    activation: act,
    dropout: config.activationDropout,
    training: layer.training,
  });
  return F.dropout(out, config.dropout, layer.training);
}

export class BartEncoderLayer extends Module {
  self_attn: BartAttention;
  self_attn_layer_norm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;

  constructor(private readonly config: BartConfig) {
    super();
    const c = config.dModel;
    this.self_attn = new BartAttention(c, config.encoderAttentionHeads, config.initStd, config.attentionDropout);
    this.self_attn_layer_norm = new LayerNorm(c);
    this.fc1 = new Linear(c, config.encoderFfnDim, { std: config.initStd });
    this.fc2 = new Linear(config.encoderFfnDim, c, { std: config.initStd });
    this.final_layer_norm = new LayerNorm(c);
    this.act = activation(config.activationFunction);
  }

  forward(x: Tensor, bias: Tensor | null): Tensor {
    const attended = F.dropout(this.self_attn.forward(x, null, bias, null).hidden, this.config.dropout, this.training);
    const h = this.self_attn_layer_norm.forward(ops.add(x, attended));
    return this.final_layer_norm.forward(ops.add(h, layerFeedForward(h, this, this.act, this.config)));
  }
}

interface DecoderLayerOutput {
  hidden: Tensor;
  self: LayerKV;
  cross: LayerKV;
  crossWeights: Tensor;
}

export class BartDecoderLayer extends Module {
  self_attn: BartAttention;
  self_attn_layer_norm: LayerNorm;
  encoder_attn: BartAttention;
  encoder_attn_layer_norm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  private readonly act: (x: Tensor) => Tensor;

  constructor(private readonly config: BartConfig) {
    super();
    const c = config.dModel;
    this.self_attn = new BartAttention(c, config.decoderAttentionHeads, config.initStd, config.attentionDropout);
    this.self_attn_layer_norm = new LayerNorm(c);
    this.encoder_attn = new BartAttention(c, config.decoderAttentionHeads, config.initStd, config.attentionDropout);
    this.encoder_attn_layer_norm = new LayerNorm(c);
    this.fc1 = new Linear(c, config.decoderFfnDim, { std: config.initStd });
    this.fc2 = new Linear(config.decoderFfnDim, c, { std: config.initStd });
    this.final_layer_norm = new LayerNorm(c);
    this.act = activation(config.activationFunction);
  }

  forward(
    x: Tensor,
    selfBias: Tensor | null,
    encoder: Tensor,
    crossBias: Tensor | null,
    past: { self: LayerKV; cross: LayerKV } | null,
  ): DecoderLayerOutput {
    const p = this.config.dropout;
    const selfOut = this.self_attn.forward(x, null, selfBias, past?.self ?? null);
    let h = this.self_attn_layer_norm.forward(ops.add(x, F.dropout(selfOut.hidden, p, this.training)));
    const crossOut = this.encoder_attn.forward(h, encoder, crossBias, past?.cross ?? null);
    h = this.encoder_attn_layer_norm.forward(ops.add(h, F.dropout(crossOut.hidden, p, this.training)));
    h = this.final_layer_norm.forward(ops.add(h, layerFeedForward(h, this, this.act, this.config)));
    return { hidden: h, self: selfOut.present, cross: crossOut.present, crossWeights: crossOut.weights };
  }
}

/** What differs between the BART and Marian stacks. */
export interface StackVariant {
  positions: (config: BartConfig) => PositionalEmbedding;
  /** BART normalizes the summed embeddings; Marian does not. */
  layernormEmbedding: boolean;
}

export const BART_STACK: StackVariant = {
  positions: (c) => new BartLearnedPositionalEmbedding(c.maxPositionEmbeddings, c.dModel, c.initStd),
  layernormEmbedding: true,
};

function embedScale(config: BartConfig): number {
  return config.scaleEmbedding ? Math.sqrt(config.dModel) : 1;
}

export interface EncoderOutput {
  lastHiddenState: Tensor; // (B, S, C)
  hiddenStates?: Tensor[];
}

export class BartEncoder extends Module {
  embed_tokens: Embedding;
  embed_positions: PositionalEmbedding;
  layers: ModuleList<BartEncoderLayer>;
  layernorm_embedding?: LayerNorm;

  constructor(
    private readonly config: BartConfig,
    embedTokens: Embedding,
    variant: StackVariant,
  ) {
    super();
    this.embed_tokens = embedTokens;
    this.embed_positions = variant.positions(config);
    this.layers = new ModuleList(Array.from({ length: config.encoderLayers }, () => new BartEncoderLayer(config)));
    if (variant.layernormEmbedding) this.layernorm_embedding = new LayerNorm(config.dModel);
  }

  forward(inputIds: Tensor, attentionMask: Tensor | null | undefined, outputHiddenStates = false): EncoderOutput {
    const [b, s] = inputIds.shape as [number, number];
    checkContextWindow(s, this.config.maxPositionEmbeddings, `${this.constructor.name}`, 'max_position_embeddings');
    let h = ops.add(
      ops.mul(this.embed_tokens.forward(inputIds), embedScale(this.config)),
      this.embed_positions.forward(defaultPositionIds(s, 0)),
    );
    if (this.layernorm_embedding) h = this.layernorm_embedding.forward(h);
    h = F.dropout(h, this.config.dropout, this.training); // (B, S, C)
    const bias = attentionBias(attentionMask, { batch: b, queryLength: s, keyLength: s, causal: false });
    const hiddenStates: Tensor[] = [h];
    for (const layer of this.layers) {
      h = layer.forward(h, bias);
      hiddenStates.push(h);
    }
    return { lastHiddenState: h, hiddenStates: outputHiddenStates ? hiddenStates : undefined };
  }
}

export interface DecoderOutput {
  lastHiddenState: Tensor; // (B, T, C)
  pastKeyValues: Seq2SeqCache;
  hiddenStates?: Tensor[];
  crossAttentions?: Tensor[];
}

export interface DecoderInputs {
  inputIds: Tensor; // (B, T)
  attentionMask?: Tensor | null; // (B, past + T)
  encoderHiddenStates: Tensor; // (B, S, C)
  encoderAttentionMask?: Tensor | null; // (B, S)
  pastKeyValues?: Seq2SeqCache | null;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export class BartDecoder extends Module {
  embed_tokens: Embedding;
  embed_positions: PositionalEmbedding;
  layers: ModuleList<BartDecoderLayer>;
  layernorm_embedding?: LayerNorm;

  constructor(
    private readonly config: BartConfig,
    embedTokens: Embedding,
    variant: StackVariant,
  ) {
    super();
    this.embed_tokens = embedTokens;
    this.embed_positions = variant.positions(config);
    this.layers = new ModuleList(Array.from({ length: config.decoderLayers }, () => new BartDecoderLayer(config)));
    if (variant.layernormEmbedding) this.layernorm_embedding = new LayerNorm(config.dModel);
  }

  forward(inputs: DecoderInputs): DecoderOutput {
    const { inputIds, encoderHiddenStates, pastKeyValues } = inputs;
    const [b, t] = inputIds.shape as [number, number];
    const past = pastKeyValues?.self[0]?.key.shape[2] ?? 0;
    checkContextWindow(
      past + t,
      this.config.maxPositionEmbeddings,
      `${this.constructor.name}`,
      'max_position_embeddings',
    );
    let h = ops.add(
      ops.mul(this.embed_tokens.forward(inputIds), embedScale(this.config)),
      this.embed_positions.forward(defaultPositionIds(t, past)),
    );
    if (this.layernorm_embedding) h = this.layernorm_embedding.forward(h);
    h = F.dropout(h, this.config.dropout, this.training); // (B, T, C)
    const selfBias = attentionBias(inputs.attentionMask, {
      batch: b,
      queryLength: t,
      keyLength: past + t,
      causal: true,
    });
    const s = encoderHiddenStates.shape[1]!;
    const crossBias = attentionBias(inputs.encoderAttentionMask, {
      batch: b,
      queryLength: t,
      keyLength: s,
      causal: false,
    });
    const cache: Seq2SeqCache = { self: [], cross: [] };
    const hiddenStates: Tensor[] = [h];
    const crossAttentions: Tensor[] = [];
    [...this.layers].forEach((layer, i) => {
      const layerPast = pastKeyValues ? { self: pastKeyValues.self[i]!, cross: pastKeyValues.cross[i]! } : null;
      const out = layer.forward(h, selfBias, encoderHiddenStates, crossBias, layerPast);
      h = out.hidden;
      cache.self.push(out.self);
      cache.cross.push(out.cross);
      hiddenStates.push(h);
      crossAttentions.push(out.crossWeights);
    });
    return {
      lastHiddenState: h,
      pastKeyValues: cache,
      hiddenStates: inputs.outputHiddenStates ? hiddenStates : undefined,
      crossAttentions: inputs.outputAttentions ? crossAttentions : undefined,
    };
  }
}

/** The encoder–decoder without a head; `shared` is the token embedding both stacks use. */
export class BartModel extends PreTrainedModel<BartConfig> {
  static override readonly configClass = BartConfig;
  static override readonly baseModelPrefix = 'model';

  shared: Embedding;
  encoder: BartEncoder;
  decoder: BartDecoder;

  constructor(config: BartConfig, variant: StackVariant = BART_STACK) {
    super(config);
    this.shared = new Embedding(config.vocabSize, config.dModel, { std: config.initStd });
    this.encoder = new BartEncoder(config, this.shared, variant);
    this.decoder = new BartDecoder(config, this.shared, variant);
  }

  /**
   * The encoder's states (B, S, C): what AutoModel and feature-extraction read from an encoder–decoder folder.
   * (transformers' BartModel.forward also runs the decoder; in attn, decoding belongs to the seq2seq head.)
   */
  forward(inputs: ModelInputs): BaseModelOutput {
    const out = this.encoder.forward(inputs.inputIds, inputs.attentionMask, inputs.outputHiddenStates);
    return { lastHiddenState: out.lastHiddenState, hiddenStates: out.hiddenStates };
  }
}

/** Cross-entropy over every decoder position (labels are the targets, already aligned with decoderInputIds). */
function seq2seqLoss(logits: Tensor, labels: Tensor): Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  if (labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== t) {
    throw new RangeError(`labels must be (batch, decoder tokens) = [${b}, ${t}], got ${shapeString(labels.shape)}`);
  }
  return F.crossEntropy(ops.reshape(logits, [b * t, v]), ops.reshape(labels, [b * t]), { ignoreIndex: -100 });
}

/**
 * Decoder inputs for teacher forcing: labels shifted one right behind the decoder start token, with -100 (ignored
 * label positions) turned into padding, as transformers' shift_tokens_right.
 */
export function shiftTokensRight(labels: Tensor, padTokenId: number, decoderStartTokenId: number): Tensor {
  const [b, t] = labels.shape as [number, number];
  const out = new Int32Array(b * t);
  for (let r = 0; r < b; r++) {
    out[r * t] = decoderStartTokenId;
    for (let i = 1; i < t; i++) {
      const id = labels.data[r * t + i - 1]!;
      out[r * t + i] = id === -100 ? padTokenId : id;
    }
  }
  return new Tensor(out, [b, t]);
}

/**
 * Shared by BART and Marian: encode once, decode with a self-attention cache that grows and a cross-attention cache
 * computed on the first step. Logits = decoder output · sharedᵀ + final_logits_bias.
 */
export class BartForConditionalGeneration extends PreTrainedModel<BartConfig> implements Seq2SeqLM {
  static override readonly configClass = BartConfig;
  static override readonly baseModelPrefix = 'model';

  model: BartModel;
  lm_head: Linear;

  constructor(config: BartConfig, variant: StackVariant = BART_STACK) {
    super(config);
    this.model = new BartModel(config, variant);
    this.lm_head = new Linear(config.dModel, config.vocabSize, { bias: false });
    this.lm_head.weight = this.model.shared.weight;
    this.registerBuffer('final_logits_bias', zeros([1, config.vocabSize]));
  }

  encode(inputIds: Tensor, attentionMask?: Tensor | null): Tensor {
    return this.model.encoder.forward(inputIds, attentionMask).lastHiddenState;
  }

  forward(inputs: Seq2SeqLMInputs): Seq2SeqLMOutput {
    let encoderHiddenStates: Tensor[] | undefined;
    let encoded = inputs.encoderHiddenStates ?? null;
    if (!encoded) {
      if (!inputs.inputIds) throw new Error(`${this.constructor.name}.forward: give inputIds or encoderHiddenStates`);
      const enc = this.model.encoder.forward(inputs.inputIds, inputs.attentionMask, inputs.outputHiddenStates);
      encoded = enc.lastHiddenState;
      encoderHiddenStates = enc.hiddenStates;
    }
    const dec = this.model.decoder.forward({
      inputIds: inputs.decoderInputIds,
      attentionMask: inputs.decoderAttentionMask,
      encoderHiddenStates: encoded,
      encoderAttentionMask: inputs.attentionMask,
      pastKeyValues: inputs.pastKeyValues,
      outputHiddenStates: inputs.outputHiddenStates,
      outputAttentions: inputs.outputAttentions,
    });
    const logits = ops.add(this.lm_head.forward(dec.lastHiddenState), this.buffer('final_logits_bias')); // (B, T, V)
    return {
      logits,
      loss: inputs.labels ? seq2seqLoss(logits, inputs.labels) : undefined,
      pastKeyValues: inputs.useCache === false ? undefined : dec.pastKeyValues,
      encoderLastHiddenState: encoded,
      encoderHiddenStates,
      decoderHiddenStates: dec.hiddenStates,
      crossAttentions: dec.crossAttentions,
    };
  }
}

registerModel('bart', { config: BartConfig, base: BartModel, seq2seqLM: BartForConditionalGeneration });
