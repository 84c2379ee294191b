/**
 * Compiled decoding for causal LMs, two graphs (models/compiled.ts), each compiled on first use and kept for the
 * model's lifetime, each serving every batch size and length:
 * - the prefill: the prompt (or, without a cache, the whole sequence) → logits and every layer's key/value cache;
 *   its weights are 'shared' (fed from attn's buffers), so this second session holds no second copy of them;
 * - the decode step: the new token, the attention mask, its position and the key/value cache of every layer →
 *   the logits and the extended cache. The cache goes from one step's outputs to the next step's inputs as they
 *   are: feeding a JS buffer to onnxruntime is zero-copy on the CPU, and it never passes through ops in between.
 */
import { CaptureError } from '../backends/onnx/capture.js';
import {
  CompiledForward,
  GeneralizeError,
  holdsHalfWeights,
  type Axis,
  type ForwardSpec,
  type WeightMode,
} from './compiled.js';
import type { CausalLM, CausalLMInputs, CausalLMOutput, LayerKV } from './modeling_outputs.js';
import { quantizationConfigOf } from './quantization.js';
import { Module } from '../nn/module.js';
import { getBackend } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';

/** The compiled graphs of each model (null: it could not be compiled, so that pass runs eagerly). */
const compiledSteps = new WeakMap<CausalLM, CompiledForward | null>();
const compiledPrefills = new WeakMap<CausalLM, CompiledForward | null>();

const BATCH: Axis = { size: 'batch' };
const PAST: Axis = { size: 'past' };
const SEQUENCE: Axis = { size: 'sequence' };

/** The logits and every layer's present key/value, named as the graphs' outputs. */
function namedOutputs(out: CausalLMOutput): Record<string, Tensor> {
  const named: Record<string, Tensor> = { logits: out.logits };
  out.pastKeyValues!.forEach((kv, i) => {
    named[`present.${i}.key`] = kv.key;
    named[`present.${i}.value`] = kv.value;
  });
  return named;
}

/** The graph outputs back as a CausalLMOutput (the cache only when asked for). */
function fromNamed(out: Record<string, Tensor>, useCache: boolean): CausalLMOutput {
  const cache: LayerKV[] = [];
  for (let i = 0; out[`present.${i}.key`]; i++)
    cache.push({ key: out[`present.${i}.key`]!, value: out[`present.${i}.value`]! });
  return { logits: out.logits!, pastKeyValues: useCache ? cache : undefined };
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
  for (let i = 0; i < layers; i++) {
    inputs[`past.${i}.key`] = { dtype: 'float32', axes: [BATCH, kvHeads, PAST, headDim] };
    inputs[`past.${i}.value`] = { dtype: 'float32', axes: [BATCH, kvHeads, PAST, headDim] };
  }
  const vocab = model.config.vocabSize;
  return {
    inputs,
    forward(x) {
      const past: LayerKV[] = Array.from({ length: layers }, (_, i) => ({
        key: x[`past.${i}.key`]!,
        value: x[`past.${i}.value`]!,
      }));
      return namedOutputs(
        model.forward({
          inputIds: x.input_ids!,
          attentionMask: x.attention_mask!,
          positionIds: x.position_ids!,
          pastKeyValues: past,
          useCache: true,
        }),
      );
    },
    example(name, shape) {
      const size = shape.reduce((n, d) => n * d, 1);
      if (name.startsWith('past.'))
        return new Tensor(
          Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37)),
          shape,
        );
      const [b, t] = shape as [number, number];
      const data = new Int32Array(size);
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

/** The model's graph in `graphs`, compiling it on first use; null when it cannot be compiled (said once). */
function compiledOnce(
  graphs: WeakMap<CausalLM, CompiledForward | null>,
  model: CausalLM,
  what: string,
  compile: (module: Module) => CompiledForward,
): CompiledForward | null {
  if (graphs.has(model)) return graphs.get(model)!;
  let compiled: CompiledForward | null = null;
  if (model instanceof Module) {
    try {
      compiled = compile(model);
    } catch (err) {
      if (!(err instanceof GeneralizeError || err instanceof CaptureError)) throw err;
      console.warn(`attn generate: running ${model.constructor.name}'s ${what} op by op: ${err.message}`);
    }
  }
  graphs.set(model, compiled);
  return compiled;
}

function compiledStep(model: CausalLM, past: readonly LayerKV[]): CompiledForward | null {
  return compiledOnce(compiledSteps, model, 'decode steps', (module) => {
    const [, kvHeads, , headDim] = past[0]!.key.shape as [number, number, number, number];
    // Pre-packed weights (the default): GPT-2 small at 2 threads decoded 34.8–36.7 tok/s packed, 29.8–30.1
    // unpacked, 25.9–27.9 shared (best of 4 runs of 32 tokens, two alternating rounds); quantized kernels need
    // them too (MatMulNBits would unpack every block on every step).
    return CompiledForward.compile(module, decodeStepSpec(model, past.length, kvHeads, headDim), {
      cacheKey: 'causal-lm/decode-step',
    });
  });
}

function compiledPrefill(model: CausalLM): CompiledForward | null {
  return compiledOnce(compiledPrefills, model, 'prompt', (module) => {
    const weights: WeightMode = quantizationConfigOf(module) || holdsHalfWeights(module) ? 'packed' : 'shared';
    return CompiledForward.compile(module, prefillSpec(model), { weights, cacheKey: 'causal-lm/prefill' });
  });
}

/** Whether `model`'s decode step runs compiled: true / false once tried, undefined before its first step. */
export function decodesCompiled(model: CausalLM): boolean | undefined {
  return compiledSteps.has(model) ? compiledSteps.get(model) !== null : undefined;
}

/** Whether `model`'s prompts run compiled: true / false once tried, undefined before its first prompt. */
export function promptsCompiled(model: CausalLM): boolean | undefined {
  return compiledPrefills.has(model) ? compiledPrefills.get(model) !== null : undefined;
}

/**
 * A CausalLM whose calls run the compiled graphs (see the file comment): one-token steps with a cache the decode
 * step, calls without a cache in the prefill; other calls (no mask or positions, the reference backend) run the
 * model itself.
 */
export class CompiledDecoding implements CausalLM {
  constructor(private readonly model: CausalLM) {}

  get config(): CausalLM['config'] {
    return this.model.config;
  }

  get name(): string {
    return this.model.constructor.name;
  }

  forward(inputs: CausalLMInputs): CausalLMOutput {
    const { inputIds, attentionMask, positionIds, pastKeyValues: past } = inputs;
    if (!attentionMask || positionIds?.rank !== 2 || getBackend().name !== 'onnx') return this.model.forward(inputs);
    const feeds: Record<string, Tensor> = {
      input_ids: inputIds,
      attention_mask: attentionMask,
      position_ids: positionIds,
    };
    if (!past || past.length === 0) {
      const prefill = compiledPrefill(this.model);
      return prefill ? fromNamed(prefill.run(feeds), inputs.useCache === true) : this.model.forward(inputs);
    }
    const step = inputIds.shape[1] === 1 ? compiledStep(this.model, past) : null;
    if (!step) return this.model.forward(inputs);
    past.forEach((kv, i) => {
      feeds[`past.${i}.key`] = kv.key;
      feeds[`past.${i}.value`] = kv.value;
    });
    return fromNamed(step.run(feeds), true);
  }
}
