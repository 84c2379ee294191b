/**
 * Compiled decode steps for causal LMs: after the prompt (run eagerly, once), every one-token step runs as ONE
 * onnxruntime graph (models/compiled.ts) whose inputs are the new token, the attention mask, its position and the
 * key/value cache of every layer, and whose outputs are the logits and the extended cache. The cache goes from one
 * step's outputs to the next step's inputs as they are: feeding a JS buffer to onnxruntime is zero-copy on the
 * CPU, and it never passes through ops in between. One graph serves every batch size and cache length; it is
 * compiled on the first step of a model and kept for the model's lifetime.
 */
import { CaptureError } from '../backends/onnx/capture.js';
import { CompiledForward, GeneralizeError, type Axis, type ForwardSpec, type WeightMode } from './compiled.js';
import type { CausalLM, CausalLMInputs, CausalLMOutput, LayerKV } from './modeling_outputs.js';
import { quantizationConfigOf } from './quantization.js';
import { Module } from '../nn/module.js';
import { getBackend } from '../tensor/engine.js';
import { Tensor } from '../tensor/tensor.js';

/** The compiled step of each model (null: it could not be compiled, so it decodes eagerly). */
const compiledSteps = new WeakMap<CausalLM, CompiledForward | null>();

const BATCH: Axis = { size: 'batch' };
const PAST: Axis = { size: 'past' };

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
      const past: LayerKV[] = Array.from({ length: layers }, (_, i) => ({ key: x[`past.${i}.key`]!, value: x[`past.${i}.value`]! }));
      const out = model.forward({ inputIds: x.input_ids!, attentionMask: x.attention_mask!, positionIds: x.position_ids!, pastKeyValues: past, useCache: true });
      const named: Record<string, Tensor> = { logits: out.logits };
      out.pastKeyValues!.forEach((kv, i) => {
        named[`present.${i}.key`] = kv.key;
        named[`present.${i}.value`] = kv.value;
      });
      return named;
    },
    example(name, shape) {
      const size = shape.reduce((n, d) => n * d, 1);
      if (name.startsWith('past.')) return new Tensor(Float32Array.from({ length: size }, (_, i) => Math.sin(i * 0.37)), shape);
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

/** The model's compiled decode step, compiling it on first use; null when it cannot be compiled (said once). */
function compiledStep(model: CausalLM, past: readonly LayerKV[]): CompiledForward | null {
  if (compiledSteps.has(model)) return compiledSteps.get(model)!;
  let compiled: CompiledForward | null = null;
  if (model instanceof Module) {
    const [, kvHeads, , headDim] = past[0]!.key.shape as [number, number, number, number];
    try {
      // Quantized kernels need their pre-packed weights (MatMulNBits would unpack every block on every step).
      const weights: WeightMode = quantizationConfigOf(model) ? 'packed' : 'unpacked';
      compiled = CompiledForward.compile(model, decodeStepSpec(model, past.length, kvHeads, headDim), { weights, cacheKey: 'causal-lm/decode-step' });
    } catch (err) {
      if (!(err instanceof GeneralizeError || err instanceof CaptureError)) throw err;
      console.warn(`attn generate: decoding ${model.constructor.name} op by op: ${err.message}`);
    }
  }
  compiledSteps.set(model, compiled);
  return compiled;
}

/** Whether `model`'s decode step runs compiled: true / false once tried, undefined before its first step. */
export function decodesCompiled(model: CausalLM): boolean | undefined {
  return compiledSteps.has(model) ? compiledSteps.get(model) !== null : undefined;
}

/**
 * A CausalLM whose one-token steps with a cache run the compiled graph (see the file comment), and whose other
 * calls (the prompt, no cache, the reference backend) run the model itself.
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
    const past = inputs.pastKeyValues;
    const step =
      inputs.inputIds.shape[1] === 1 && past && past.length > 0 && inputs.attentionMask && inputs.positionIds?.rank === 2 && getBackend().name === 'onnx';
    const compiled = step ? compiledStep(this.model, past) : null;
    if (!compiled || !past) return this.model.forward(inputs);
    const feeds: Record<string, Tensor> = {
      input_ids: inputs.inputIds,
      attention_mask: inputs.attentionMask!,
      position_ids: inputs.positionIds!,
    };
    past.forEach((kv, i) => {
      feeds[`past.${i}.key`] = kv.key;
      feeds[`past.${i}.value`] = kv.value;
    });
    const out = compiled.run(feeds);
    return {
      logits: out.logits!,
      pastKeyValues: past.map((_, i) => ({ key: out[`present.${i}.key`]!, value: out[`present.${i}.value`]! })),
    };
  }
}

