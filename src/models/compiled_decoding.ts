/**
 * Compiled decoding for causal LMs, two graphs (models/compiled.ts), each compiled on first use and kept for the
 * model's lifetime, each serving every batch size and length:
 * - the prefill: the prompt (or, without a cache, the whole sequence) → logits and every layer's key/value cache;
 *   float weights JS holds are 'shared' (fed from attn's buffers), so this second session holds no second copy;
 * - the decode step: the new token, the attention mask, its position and the key/value cache of every layer →
 *   the logits and the extended cache. The cache goes from one step's outputs to the next step's inputs as they
 *   are: feeding a JS buffer to onnxruntime is zero-copy on the CPU, and it never passes through ops in between.
 * A model loaded with `readWeights: false` (a quantized checkpoint in the text-generation pipeline) leaves its
 * weights in the checkpoint: both sessions read them from the file (int8 / q4 codes as stored) and JS holds none
 * (CompiledGraphs in models/compiled.ts).
 */
import {
  CompiledGraphs,
  encoderSpec,
  weightModeFor,
  type Axis,
  type CompiledForward,
  type ForwardSpec,
  type WeightHolder,
} from './compiled.js';
import type {
  CausalLM,
  CausalLMInputs,
  CausalLMOutput,
  LayerKV,
  Seq2SeqCache,
  Seq2SeqLM,
  Seq2SeqLMInputs,
  Seq2SeqLMOutput,
} from './modeling_outputs.js';
import type { Module } from '../nn/module.js';
import { getBackend } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';

/** The compiled graphs of each model: a causal LM's prompt and decode step, an encoder–decoder's three graphs. */
const modelGraphs = new WeakMap<Module & WeightHolder, CompiledGraphs>();
const PREFILL = 'prefill';
const DECODE_STEP = 'decode-step';
const ENCODER = 'encoder';
const FIRST_DECODER_PASS = 'decoder-first';

const BATCH: Axis = { size: 'batch' };
const PAST: Axis = { size: 'past' };
const SEQUENCE: Axis = { size: 'sequence' };
const SOURCE: Axis = { size: 'source' };

/** Each layer's key and value added to `named` as `<prefix>.<layer>.key` / `.value` (a graph's inputs or outputs). */
function nameLayers(named: Record<string, Tensor>, prefix: string, layers: readonly LayerKV[]): Record<string, Tensor> {
  layers.forEach((kv, i) => {
    named[`${prefix}.${i}.key`] = kv.key;
    named[`${prefix}.${i}.value`] = kv.value;
  });
  return named;
}

/** The layers `nameLayers` named `prefix` in `named`. */
function namedLayers(named: Record<string, Tensor>, prefix: string): LayerKV[] {
  const layers: LayerKV[] = [];
  for (let i = 0; named[`${prefix}.${i}.key`]; i++)
    layers.push({ key: named[`${prefix}.${i}.key`]!, value: named[`${prefix}.${i}.value`]! });
  return layers;
}

/** Inputs `<prefix>.<layer>.key` / `.value` of (B, kvHeads, length, headDim) for `layers` layers. */
function cacheInputs(
  inputs: ForwardSpec['inputs'],
  prefix: string,
  layers: number,
  [kvHeads, length, headDim]: [number, Axis, number],
): void {
  for (let i = 0; i < layers; i++) {
    inputs[`${prefix}.${i}.key`] = { dtype: 'float32', axes: [BATCH, kvHeads, length, headDim] };
    inputs[`${prefix}.${i}.value`] = { dtype: 'float32', axes: [BATCH, kvHeads, length, headDim] };
  }
}

/** Float values to record a cache or hidden states with: varied, in [-1, 1]. */
function exampleFloats(shape: readonly number[]): Tensor {
  const size = shape.reduce((n, d) => n * d, 1);
  return new Tensor(
    Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37)),
    shape,
  );
}

/** The logits and every layer's present key/value, named as the graphs' outputs. */
function namedOutputs(out: CausalLMOutput): Record<string, Tensor> {
  return nameLayers({ logits: out.logits }, 'present', out.pastKeyValues!);
}

/** The graph outputs back as a CausalLMOutput (the cache only when asked for). */
function fromNamed(out: Record<string, Tensor>, useCache: boolean): CausalLMOutput {
  return { logits: out.logits!, pastKeyValues: useCache ? namedLayers(out, 'present') : undefined };
}

/** The prefill ForwardSpec: (B, T) ids, mask and positions, no cache in. */
function prefillSpec(model: CausalLM): ForwardSpec {
  const axes = [BATCH, SEQUENCE];
  const vocab = model.config.vocabSize;
  return {
    inputs: {
      input_ids: { dtype: 'int32', axes },
      attention_mask: { dtype: 'int32', axes },
      position_ids: { dtype: 'int32', axes },
    },
    forward: (x) =>
      namedOutputs(
        model.forward({
          inputIds: x.input_ids!,
          attentionMask: x.attention_mask!,
          positionIds: x.position_ids!,
          useCache: true,
        }),
      ),
    example(name, shape) {
      const [b, t] = shape as [number, number];
      const data = new Int32Array(b * t);
      for (let r = 0; r < b; r++) {
        // Odd rows are left-padded by two positions (positions as generation gives them: padding at 1).
        const padded = r % 2 === 1 ? 2 : 0;
        for (let j = 0; j < t; j++) {
          if (name === 'input_ids') data[r * t + j] = (r * 31 + j * 7 + 1) % vocab;
          else if (name === 'attention_mask') data[r * t + j] = j < padded ? 0 : 1;
          else data[r * t + j] = j < padded ? 1 : j - padded;
        }
      }
      return new Tensor(data, shape);
    },
  };
}

/** The decode-step ForwardSpec for a model whose cache has `layers` entries of (B, kvHeads, past, headDim). */
function decodeStepSpec(model: CausalLM, layers: number, kvHeads: number, headDim: number): ForwardSpec {
  const inputs: ForwardSpec['inputs'] = {
    input_ids: { dtype: 'int32', axes: [BATCH, 1] },
    attention_mask: { dtype: 'int32', axes: [BATCH, { size: 'past', offset: 1 }] },
    position_ids: { dtype: 'int32', axes: [BATCH, 1] },
  };
  cacheInputs(inputs, 'past', layers, [kvHeads, PAST, headDim]);
  const vocab = model.config.vocabSize;
  return {
    inputs,
    forward(x) {
      return namedOutputs(
        model.forward({
          inputIds: x.input_ids!,
          attentionMask: x.attention_mask!,
          positionIds: x.position_ids!,
          pastKeyValues: namedLayers(x, 'past'),
          useCache: true,
        }),
      );
    },
    example(name, shape) {
      if (name.startsWith('past.')) return exampleFloats(shape);
      const [b, t] = shape as [number, number];
      const data = new Int32Array(b * t);
      for (let r = 0; r < b; r++) {
        for (let j = 0; j < t; j++) {
          // Odd rows are left-padded by two positions, so the recorded check covers masked keys.
          if (name === 'input_ids') data[r * t + j] = (r * 31 + 7) % vocab;
          else if (name === 'attention_mask') data[r * t + j] = r % 2 === 1 && j < 2 ? 0 : 1;
          else data[r * t + j] = t - 1; // position_ids: (B, 1) for a (B, past + 1) mask
        }
      }
      return new Tensor(data, shape);
    },
  };
}

/** A causal LM as compiled decoding takes it: a model with weights, maybe left in its checkpoint. */
export type DecodingModel = CausalLM & Module & WeightHolder;

function graphsOf(model: Module & WeightHolder): CompiledGraphs {
  let graphs = modelGraphs.get(model);
  if (!graphs) {
    graphs = new CompiledGraphs(model, { warn: (message) => console.warn(`attn generate: ${message}`) });
    modelGraphs.set(model, graphs);
  }
  return graphs;
}

function compiledStep(model: DecodingModel, past: readonly LayerKV[]): CompiledForward | null {
  return graphsOf(model).get(
    DECODE_STEP,
    'decode steps',
    () => {
      const [, kvHeads, , headDim] = past[0]!.key.shape as [number, number, number, number];
      return decodeStepSpec(model, past.length, kvHeads, headDim);
    },
    {
      // Pre-packed weights (the default): GPT-2 small at 2 threads decoded 34.8–36.7 tok/s packed, 29.8–30.1
      // unpacked, 25.9–27.9 shared (best of 4 runs of 32 tokens, two alternating rounds); quantized kernels need
      // them too (MatMulNBits would unpack every block on every step).
      cacheKey: 'causal-lm/decode-step',
    },
  );
}

function compiledPrefill(model: DecodingModel): CompiledForward | null {
  // Weights JS holds are fed from its buffers: this second session then holds no second copy of them.
  return graphsOf(model).get(PREFILL, 'prompt', () => prefillSpec(model), {
    weights: weightModeFor(model, 'shared'),
    cacheKey: 'causal-lm/prefill',
  });
}

/**
 * Whether `model`'s one-token decoder steps run compiled (a causal LM's or an encoder–decoder's): true / false once
 * tried, undefined before its first step.
 */
export function decodesCompiled(model: Module & WeightHolder): boolean | undefined {
  return modelGraphs.get(model)?.compiled(DECODE_STEP);
}

/** Whether `model`'s prompts run compiled: true / false once tried, undefined before its first prompt. */
export function promptsCompiled(model: DecodingModel): boolean | undefined {
  return modelGraphs.get(model)?.compiled(PREFILL);
}

/**
 * A CausalLM whose calls run the compiled graphs (see the file comment): one-token steps with a cache the decode
 * step, calls without a cache in the prefill; other calls (no mask or positions, the reference backend) run the
 * model itself.
 */
export class CompiledDecoding implements CausalLM {
  constructor(private readonly model: DecodingModel) {}

  get config(): CausalLM['config'] {
    return this.model.config;
  }

  get name(): string {
    return this.model.constructor.name;
  }

  forward(inputs: CausalLMInputs): CausalLMOutput {
    const { inputIds, attentionMask, positionIds, pastKeyValues: past } = inputs;
    if (!attentionMask || positionIds?.rank !== 2 || getBackend().name !== 'onnx') return this.eager(inputs);
    const feeds: Record<string, Tensor> = {
      input_ids: inputIds,
      attention_mask: attentionMask,
      position_ids: positionIds,
    };
    if (!past || past.length === 0) {
      const prefill = compiledPrefill(this.model);
      return prefill ? fromNamed(prefill.run(feeds), inputs.useCache === true) : this.eager(inputs);
    }
    const step = inputIds.shape[1] === 1 ? compiledStep(this.model, past) : null;
    if (!step) return this.eager(inputs);
    return fromNamed(step.run(nameLayers(feeds, 'past', past)), true);
  }

  /** The model's own forward pass, on its weights read back if they were left in the checkpoint. */
  private eager(inputs: CausalLMInputs): CausalLMOutput {
    this.model.readWeightsBack();
    return this.model.forward(inputs);
  }
}

/** An encoder–decoder as compiled decoding takes it: a model with weights, maybe left in its checkpoint. */
export type Seq2SeqDecodingModel = Seq2SeqLM & Module & WeightHolder;

/** Token ids in range, and a mask whose odd rows end with two padded positions (the recorded check covers them). */
function exampleTokens(name: string, shape: readonly number[], vocab: number): Tensor {
  const [b, t] = shape as [number, number];
  const data = new Int32Array(b * t);
  for (let r = 0; r < b; r++) {
    for (let j = 0; j < t; j++) {
      if (name.endsWith('attention_mask')) data[r * t + j] = r % 2 === 1 && j >= t - 2 ? 0 : 1;
      else data[r * t + j] = (r * 31 + j * 7 + 1) % vocab;
    }
  }
  return new Tensor(data, shape);
}

/**
 * A decoder pass ForwardSpec over the encoder's states (B, S, hidden) and its mask (B, S): without a cache (`layers`
 * null; (B, T) tokens → logits, every layer's self-attention cache and its cross-attention keys/values), or one
 * token with the caches of `layers` layers of (B, kvHeads, ·, headDim) → logits and the extended self-attention
 * cache (the cross-attention one does not change).
 */
function decoderSpec(
  model: Seq2SeqLM,
  hidden: number,
  layers: { count: number; kvHeads: number; headDim: number } | null,
): ForwardSpec {
  const inputs: ForwardSpec['inputs'] = {
    decoder_input_ids: { dtype: 'int32', axes: [BATCH, layers ? 1 : SEQUENCE] },
    attention_mask: { dtype: 'int32', axes: [BATCH, SOURCE] },
    encoder_hidden_states: { dtype: 'float32', axes: [BATCH, SOURCE, hidden] },
  };
  if (layers) {
    cacheInputs(inputs, 'past', layers.count, [layers.kvHeads, PAST, layers.headDim]);
    cacheInputs(inputs, 'cross', layers.count, [layers.kvHeads, SOURCE, layers.headDim]);
  }
  return {
    inputs,
    forward(x) {
      const out = model.forward({
        decoderInputIds: x.decoder_input_ids!,
        encoderHiddenStates: x.encoder_hidden_states!,
        attentionMask: x.attention_mask!,
        pastKeyValues: layers ? { self: namedLayers(x, 'past'), cross: namedLayers(x, 'cross') } : null,
        useCache: true,
      });
      const named = nameLayers({ logits: out.logits }, 'present', out.pastKeyValues!.self);
      return layers ? named : nameLayers(named, 'cross', out.pastKeyValues!.cross);
    },
    example: (name, shape) =>
      inputs[name]!.dtype === 'float32' ? exampleFloats(shape) : exampleTokens(name, shape, model.config.vocabSize),
  };
}

/**
 * An encoder–decoder whose calls run compiled graphs, each compiled on first use and kept for the model's lifetime:
 * the encoder ((B, S) ids and mask → states), the decoder's first pass (no cache: logits, its self-attention cache
 * and the cross-attention keys/values) and its one-token steps with both caches. Other calls (labels, hidden states
 * or attentions asked for, no mask, the reference backend) run the model itself. As for causal LMs, weights the
 * model left in its checkpoint are read from the file by every session, int8 codes as stored. Its sessions'
 * threads do not spin between runs (see CompiledForward): beam search's JS runs in between.
 */
export class CompiledSeq2Seq implements Seq2SeqLM {
  constructor(private readonly model: Seq2SeqDecodingModel) {}

  get config(): Seq2SeqLM['config'] {
    return this.model.config;
  }

  get name(): string {
    return this.model.constructor.name;
  }

  encode(inputIds: Tensor, attentionMask?: Tensor | null): Tensor {
    const model = this.model;
    const encoder =
      attentionMask && getBackend().name === 'onnx'
        ? graphsOf(model).get(
            ENCODER,
            'encoder',
            () =>
              encoderSpec(model.config.vocabSize, (x) => ({
                encoder_hidden_states: model.encode(x.inputIds, x.attentionMask),
              })),
            { weights: weightModeFor(model, 'shared'), cacheKey: 'seq2seq-lm/encoder' },
          )
        : null;
    if (!encoder) {
      model.readWeightsBack();
      return model.encode(inputIds, attentionMask);
    }
    return encoder.run({ input_ids: inputIds, attention_mask: attentionMask! }).encoder_hidden_states!;
  }

  forward(inputs: Seq2SeqLMInputs): Seq2SeqLMOutput {
    const { decoderInputIds, encoderHiddenStates: encoded, attentionMask, pastKeyValues: past } = inputs;
    const graph = this.decoderGraph(inputs);
    if (!graph) {
      this.model.readWeightsBack();
      return this.model.forward(inputs);
    }
    const feeds = {
      decoder_input_ids: decoderInputIds,
      attention_mask: attentionMask!,
      encoder_hidden_states: encoded!,
    };
    if (past?.self.length) nameLayers(nameLayers(feeds, 'past', past.self), 'cross', past.cross);
    const out = graph.run(feeds);
    const cache = {
      self: namedLayers(out, 'present'),
      cross: past?.self.length ? past.cross : namedLayers(out, 'cross'),
    };
    return {
      logits: out.logits!,
      pastKeyValues: inputs.useCache === false ? undefined : cache,
      encoderLastHiddenState: encoded!,
    };
  }

  /** The graph of this decoder call: the first pass or a one-token step; null for a call the graphs do not cover. */
  private decoderGraph(inputs: Seq2SeqLMInputs): CompiledForward | null {
    const { decoderInputIds, encoderHiddenStates: encoded, attentionMask, pastKeyValues: past } = inputs;
    const extras = inputs.decoderAttentionMask || inputs.labels || inputs.outputHiddenStates || inputs.outputAttentions;
    if (!encoded || !attentionMask || extras || getBackend().name !== 'onnx') return null;
    if (!past?.self.length) return this.firstDecoderPass(encoded);
    return decoderInputIds.shape[1] === 1 ? this.decoderStep(encoded, past) : null;
  }

  private firstDecoderPass(encoded: Tensor): CompiledForward | null {
    return graphsOf(this.model).get(
      FIRST_DECODER_PASS,
      'first decoder pass',
      () => decoderSpec(this.model, encoded.shape[2]!, null),
      { weights: weightModeFor(this.model, 'shared'), cacheKey: 'seq2seq-lm/decoder-first' },
    );
  }

  private decoderStep(encoded: Tensor, past: Seq2SeqCache): CompiledForward | null {
    return graphsOf(this.model).get(
      DECODE_STEP,
      'decoder steps',
      () => {
        const [, kvHeads, , headDim] = past.self[0]!.key.shape as [number, number, number, number];
        return decoderSpec(this.model, encoded.shape[2]!, { count: past.self.length, kvHeads, headDim });
      },
      // Pre-packed, as a causal LM's decode step (see compiledStep).
      { cacheKey: 'seq2seq-lm/decoder-step' },
    );
  }
}
