/**
 * ONNX export: a model's compiled forward pass (models/compiled.ts: one graph for every batch size and length,
 * checked against the eager pass) written in the folder layout transformers.js and Optimum use:
 *
 *   onnx/model.onnx    inputs input_ids, attention_mask (and token_type_ids when the model reads them), int64
 *                      (batch_size, sequence_length); output logits (task heads) or last_hidden_state (base models);
 *                      the weights inline as initializers
 *   config.json        as savePretrained writes it
 *   tokenizer files    when a tokenizer is given (tokenizer.json, tokenizer_config.json, special_tokens_map.json)
 *
 * Encoder models only: decoders need past key/value inputs in transformers.js's layout, which attn does not write.
 */
import { join } from 'node:path';
import type { GraphSpec, NodeSpec } from '../backends/onnx/protobuf.js';
import { modelFileParts } from '../backends/onnx/weights.js';
import { Tensor } from '../tensor/tensor.js';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.js';
import { writeFileAtomic } from '../util/fs.js';
import { CompiledForward, encoderSpec, type EncoderFeeds } from './compiled.js';
import type { PreTrainedModel } from './modeling_utils.js';

export class ExportError extends Error {}

export interface ExportOnnxOptions {
  /** Saved beside the model so that transformers.js finds it. */
  tokenizer?: PreTrainedTokenizer;
}

interface EncoderModel {
  forward(inputs: EncoderFeeds): { logits?: Tensor; lastHiddenState?: Tensor };
}

const DECODER_SUFFIXES = ['ForCausalLM', 'LMHeadModel', 'ForConditionalGeneration', 'MTModel'];

/** The graph with int64 token inputs, as transformers.js feeds them, cast to the int32 attn's ops take. */
function withInt64Inputs(spec: GraphSpec): GraphSpec {
  const casts: NodeSpec[] = [];
  const rename = new Map<string, string>();
  for (const input of spec.inputs) {
    if (input.type !== 'int32') continue;
    rename.set(input.name, `${input.name}.int32`);
    casts.push({ op: 'Cast', inputs: [input.name], outputs: [`${input.name}.int32`], attrs: { to: 6 } });
  }
  return {
    ...spec,
    nodes: [...casts, ...spec.nodes.map((n) => ({ ...n, inputs: n.inputs.map((x) => rename.get(x) ?? x) }))],
    inputs: spec.inputs.map((v) => ({
      ...v,
      type: rename.has(v.name) ? 'int64' : v.type,
      dims: v.dims?.map((d) => (d === 'batch' ? 'batch_size' : d === 'sequence' ? 'sequence_length' : d)),
    })),
  };
}

function hasForward(model: PreTrainedModel): model is PreTrainedModel & EncoderModel {
  return typeof (model as Partial<EncoderModel>).forward === 'function';
}

/** Writes `model` as onnx/model.onnx + config.json (+ tokenizer files) into `dir`; returns the .onnx path. */
export async function exportOnnx(
  model: PreTrainedModel,
  dir: string,
  options: ExportOnnxOptions = {},
): Promise<string> {
  const name = model.constructor.name;
  if (model.config.isEncoderDecoder || DECODER_SUFFIXES.some((s) => name.endsWith(s))) {
    throw new ExportError(
      `exportOnnx: ${name} is a decoder; attn exports encoder models (BERT, DistilBERT, RoBERTa, … with or without a task head)`,
    );
  }
  if (!hasForward(model)) throw new ExportError(`exportOnnx: ${name} has no forward pass of its own to export`);
  const encoder = model;
  const output = (x: EncoderFeeds): Record<string, Tensor> => {
    const out = encoder.forward(x);
    if (out.logits) return { logits: out.logits };
    if (out.lastHiddenState) return { last_hidden_state: out.lastHiddenState };
    throw new ExportError(`exportOnnx: ${name}'s forward pass gives neither logits nor lastHiddenState`);
  };
  const vocab = model.config.rawField('vocab_size');
  const wasTraining = model.training;
  model.eval();
  const compiled = CompiledForward.compile(model, encoderSpec(typeof vocab === 'number' ? vocab : 2, output));
  try {
    const file = join(dir, 'onnx', 'model.onnx');
    await writeFileAtomic(file, modelFileParts(withInt64Inputs(compiled.specWithWeightCasts), compiled.weightInits));
    await model.config.withOverrides({ architectures: [name] }).saveTo(dir);
    await options.tokenizer?.savePretrained(dir);
    return file;
  } finally {
    compiled.dispose();
    model.train(wasTraining);
  }
}
