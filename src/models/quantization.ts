/**
 * Quantizing a model's weights, and reading and writing quantized checkpoints.
 *
 *   quantize(model, { dtype: 'int8' })  every Linear → int8 codes with one scale per output channel, run by
 *                                       onnxruntime's DynamicQuantizeMatMul (activations quantized per call); every
 *                                       Embedding → int8 codes with one scale per row (dequantized on lookup).
 *   quantize(model, { dtype: 'q4' })    Linear layers whose input width is a whole number of 32-wide blocks → 4-bit
 *                                       weight-only codes (MatMulNBits); the rest and embeddings as int8. For causal
 *                                       LMs, whose matmuls are weight-bound.
 *
 * GPT-2's Conv1D (a Linear keeping its weight (in, out)) counts as a Linear: it is quantized as the Linear whose
 * weight is the transpose, so its codes and scales have a Linear's layout, (out, in) and (out) for int8, and
 * `dequantize` gives a Conv1D back. Weights of other layers stay float (BART's learned position tables, an Embedding
 * subclass): `layersLeftFloat` names them, and `attn quantize` prints them. Naming such a layer in `modules` is an
 * error.
 *
 * A LM head tied to the token embedding stays tied: it reads the embedding's int8 codes (a row scale of the table
 * is an output-channel scale of the head), and the checkpoint holds them once.
 *
 * The checkpoint is the float one with each quantized layer's `weight` replaced by its codes (I8 for int8, U8 for
 * q4's packed bytes) and `weight_scale` added (F32); see nn/quantized.ts for the layouts. config.json records
 *
 *   "quantization_config": { "quant_method": "attn", "dtype": "int8" | "q4", "block_size": 32,
 *                            "modules": { "<layer name>": "int8" | "q4", … } }
 *
 * and `fromPretrained` rebuilds those layers before reading the weights (`prepareQuantizedModel`).
 *
 * `dequantize(model)` goes back: float layers holding exactly the weights the codes stand for, to fine-tune a shipped
 * quantized model or run it in float (`fromPretrained(dir, { dtype: 'float32' })`, a pipeline's `dtype: 'fp32'`).
 * `narrowToFloat16(model)` keeps the float weights as IEEE half bits instead (`dtype: 'float16'` / 'fp16'; a plain F16
 * checkpoint when saved): half the size of float32, computed in float32.
 */
import { createRequire } from 'node:module';
import { graphFor } from '../backends/onnx/lowering.js';
import { encodeModel } from '../backends/onnx/protobuf.js';
import { loadNative } from '../backends/onnx/index.js';
import { dequantizeQ4 } from '../backends/reference/quantized.js';
import { Embedding, Linear } from '../nn/layers.js';
import { Parameter, type Module } from '../nn/module.js';
import {
  Q4_BLOCK,
  QuantizedEmbedding,
  QuantizedLinear,
  quantizedTensors,
  type InputMajorLinear,
  type InputMajorLinearClass,
  type QuantScheme,
} from '../nn/quantized.js';
import { deferRandomInit } from '../tensor/creation.js';
import { narrowToHalf } from '../tensor/half.js';
import { Tensor } from '../tensor/tensor.js';
import type { JsonObject, PretrainedConfig } from './configuration_utils.js';

export class QuantizationError extends Error {}

export interface QuantizeOptions {
  dtype: QuantScheme;
  /** Layer names to quantize (as in the state dict, without `.weight`); default every Linear, Conv1D and Embedding. */
  modules?: string[];
}

/** A model's quantization as config.json records it. */
export interface QuantizationConfig {
  dtype: QuantScheme;
  modules: Record<string, QuantScheme>;
}

/** The onnxruntime kernel each scheme's layers run on. */
export const QUANTIZED_OPS: Readonly<Record<QuantScheme, string>> = {
  int8: 'com.microsoft.DynamicQuantizeMatMul',
  q4: 'com.microsoft.MatMulNBits',
};

interface Slot {
  parent: Module;
  field: string;
  module: Module;
}

/** Every module with its parent and field name, by state-dict path. */
function slots(model: Module): Map<string, Slot> {
  const out = new Map<string, Slot>();
  for (const [path, parent] of model.namedModules()) {
    for (const [field, module] of parent.children())
      out.set(path ? `${path}.${field}` : field, { parent, field, module });
  }
  return out;
}

function replace(slot: Slot, module: Module): void {
  (slot.parent as unknown as Record<string, unknown>)[slot.field] = module;
}

function isQuantized(module: Module): boolean {
  return module instanceof QuantizedLinear || module instanceof QuantizedEmbedding;
}

/** Exactly these classes: a subclass may read `.weight` itself, which codes would not survive. */
function isPlainLinear(m: Module): m is Linear {
  return m.constructor === Linear;
}

function isPlainEmbedding(m: Module): m is Embedding {
  return m.constructor === Embedding;
}

/** GPT-2's Conv1D: the Linear with its weight transposed. */
function isInputMajorLinear(m: Module): m is InputMajorLinear {
  return (m as Module & { weightLayout?: unknown }).weightLayout === 'input-major';
}

/** A Linear or a Linear kept transposed: what becomes a QuantizedLinear. */
function isLinearLike(m: Module): m is Linear | InputMajorLinear {
  return isPlainLinear(m) || isInputMajorLinear(m);
}

function isQuantizable(m: Module): boolean {
  return isLinearLike(m) || isPlainEmbedding(m);
}

/** The (rows, cols) matrix `w` as (cols, rows). */
function transposed(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = w[r * cols + c]!;
  return out;
}

/** A Linear's (out, in) float weight, a Conv1D's (in, out) one transposed. */
function linearWeight(m: Linear | InputMajorLinear): Float32Array {
  const w = m.weight.data as Float32Array;
  return isInputMajorLinear(m) ? transposed(w, m.inFeatures, m.outFeatures) : w;
}

/** The scheme each chosen layer gets (see the file comment), or an error naming a layer that cannot take it. */
function planSchemes(all: Map<string, Slot>, options: QuantizeOptions): Map<string, QuantScheme> {
  const plan = new Map<string, QuantScheme>();
  const chosen = options.modules ?? [...all].filter(([, s]) => isQuantizable(s.module)).map(([name]) => name);
  for (const name of chosen) {
    const slot = all.get(name);
    if (!slot) throw new QuantizationError(`quantize: the model has no layer named '${name}'`);
    const m = slot.module;
    if (isQuantized(m)) throw new QuantizationError(`quantize: layer '${name}' is already quantized`);
    if (isPlainEmbedding(m)) {
      plan.set(name, 'int8');
    } else if (isLinearLike(m)) {
      const fitsBlocks = m.inFeatures % Q4_BLOCK === 0;
      if (options.dtype === 'q4' && !fitsBlocks && options.modules) {
        throw new QuantizationError(
          `quantize: layer '${name}' has ${m.inFeatures} input features, not a multiple of the q4 block size ${Q4_BLOCK}`,
        );
      }
      plan.set(name, options.dtype === 'q4' && fitsBlocks ? 'q4' : 'int8');
    } else {
      throw new QuantizationError(
        `quantize: layer '${name}' is a ${m.constructor.name}; attn quantizes Linear, Conv1D and Embedding layers ` +
          '(a subclass may read its float weight directly)',
      );
    }
  }
  return plan;
}

/**
 * Swaps the planned layers for quantized ones: from the float weights (`fromWeights`), or empty, to be filled by
 * a checkpoint. A Linear sharing its weight with a quantized Embedding (a tied LM head) shares its codes.
 */
function swapLayers(all: Map<string, Slot>, plan: Map<string, QuantScheme>, fromWeights: boolean): void {
  const tables = new Map<Parameter, QuantizedEmbedding>();
  const ordered = [...plan].sort(
    ([a], [b]) => Number(isPlainLinear(all.get(a)!.module)) - Number(isPlainLinear(all.get(b)!.module)),
  );
  for (const [name, scheme] of ordered) {
    const slot = all.get(name)!;
    const m = slot.module;
    if (isPlainEmbedding(m)) {
      // Tables sharing one weight (Marian's shared / encoder / decoder embeddings) share one quantized table, so the
      // checkpoint holds its codes once, as the float one holds the weight once.
      const q =
        tables.get(m.weight) ??
        new QuantizedEmbedding(
          m.numEmbeddings,
          m.embeddingDim,
          quantizedTensors(
            'int8',
            m.numEmbeddings,
            m.embeddingDim,
            fromWeights ? (m.weight.data as Float32Array) : undefined,
          ),
        );
      tables.set(m.weight, q);
      replace(slot, q);
      continue;
    }
    const linear = m as Linear | InputMajorLinear;
    // A head tied to a quantized table reads its int8 codes, whatever the plan said.
    const table = tables.get(linear.weight);
    const weights = table
      ? { codes: table.codes, scales: table.scales }
      : quantizedTensors(scheme, linear.outFeatures, linear.inFeatures, fromWeights ? linearWeight(linear) : undefined);
    const inputMajorClass = isInputMajorLinear(linear) ? (linear.constructor as InputMajorLinearClass) : null;
    replace(
      slot,
      new QuantizedLinear(
        table ? 'int8' : scheme,
        linear.inFeatures,
        linear.outFeatures,
        weights,
        linear.bias,
        inputMajorClass,
      ),
    );
  }
}

/**
 * Quantizes `model` in place (see the file comment) and returns it, in eval mode: quantized layers are inference
 * only. Save it with `savePretrained`; `fromPretrained` loads it back quantized.
 */
export function quantize<M extends Module>(model: M, options: QuantizeOptions): M {
  if (options.dtype !== 'int8' && options.dtype !== 'q4') {
    throw new QuantizationError(`quantize: dtype '${String(options.dtype)}' is not one of int8, q4`);
  }
  const all = slots(model);
  const plan = planSchemes(all, options);
  if (plan.size === 0) {
    const done = quantizedLayers(model);
    throw new QuantizationError(
      done.size > 0
        ? `quantize: ${model.constructor.name} is already quantized (${new Set(done.values()).size > 1 ? 'int8 and q4' : [...done.values()][0]}, ${done.size} layers); ` +
            "to quantize it again, load it dequantized first (fromPretrained(dir, { dtype: 'float32' }), or dequantize(model))"
        : `quantize: ${model.constructor.name} has no Linear, Conv1D or Embedding layer to quantize`,
    );
  }
  swapLayers(all, plan, true);
  model.eval();
  return model;
}

/**
 * The float (rows, cols) weight quantized codes stand for, as a fresh parameter: code · scale with a scale per row
 * (int8), (code − 8) · scale with a scale per 32-wide block of a row (q4). Each value is the float32 product, the
 * value the quantized kernels and QuantizedEmbedding's lookup multiply with.
 */
function dequantizedWeight(scheme: QuantScheme, codes: Tensor, scales: Tensor, rows: number, cols: number): Parameter {
  const q = codes.data as Int32Array;
  const s = scales.data as Float32Array;
  let w: Float32Array;
  if (scheme === 'q4') {
    w = dequantizeQ4(q, s, cols, rows, Q4_BLOCK);
  } else {
    w = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) w[r * cols + c] = q[r * cols + c]! * s[r]!;
  }
  return new Parameter(new Tensor(w, [rows, cols])); // (out, in) for a Linear, (num, dim) for an Embedding
}

/**
 * Replaces every QuantizedLinear of `model` (in place) by a Linear holding the weight its codes stand for (see
 * `dequantizedWeight`; a Conv1D holding it transposed where a Conv1D was quantized), its float bias kept, and every
 * QuantizedEmbedding by an Embedding; returns the model. A head tied to a quantized table is tied to the new table.
 * The float model computes what the quantized one approximates without rounding the activations (int8); it trains
 * like any other, and `savePretrained` writes a float checkpoint without `quantization_config`. Training and eval
 * mode are kept.
 */
export function dequantize<M extends Module>(model: M): M {
  const weights = new Map<Tensor, Parameter>(); // by codes: a tied head shares its table's
  const weightOf = (scheme: QuantScheme, layer: QuantizedLinear | QuantizedEmbedding, rows: number, cols: number) => {
    let w = weights.get(layer.codes);
    if (!w) weights.set(layer.codes, (w = dequantizedWeight(scheme, layer.codes, layer.scales, rows, cols)));
    return w;
  };
  for (const slot of slots(model).values()) {
    const m = slot.module;
    // Built without their random initial weights, which are replaced at once.
    if (m instanceof QuantizedEmbedding) {
      const table = deferRandomInit(() => new Embedding(m.numEmbeddings, m.embeddingDim)).result;
      table.weight = weightOf('int8', m, m.numEmbeddings, m.embeddingDim);
      table.training = slot.parent.training;
      replace(slot, table);
    } else if (m instanceof QuantizedLinear) {
      const cls = m.inputMajorClass;
      const linear = deferRandomInit(() =>
        cls ? new cls(m.inFeatures, m.outFeatures) : new Linear(m.inFeatures, m.outFeatures, { bias: false }),
      ).result;
      const weight = weightOf(m.scheme, m, m.outFeatures, m.inFeatures); // (out, in)
      const inputMajor = () => transposed(weight.data as Float32Array, m.outFeatures, m.inFeatures); // (in, out)
      linear.weight = cls ? new Parameter(new Tensor(inputMajor(), [m.inFeatures, m.outFeatures])) : weight;
      linear.bias = m.bias;
      linear.training = slot.parent.training;
      replace(slot, linear);
    }
  }
  return model;
}

/** A layer holding float weights that quantizing left as they were. */
export interface FloatLayer {
  name: string;
  kind: string;
  values: number;
}

/**
 * The layers of `model` holding a float weight matrix (a parameter of rank ≥ 2) that is not quantized, by state-dict
 * name, with their class and number of values (a weight two layers share counted once, under the first). After
 * `quantize` these are layers of kinds it does not take (BART's learned position table, an Embedding subclass), or
 * those left out of its `modules`.
 */
export function layersLeftFloat(model: Module): FloatLayer[] {
  const seen = new Set<Tensor>();
  const out: FloatLayer[] = [];
  for (const [name, m] of model.namedModules()) {
    if (isQuantized(m)) continue;
    let values = 0;
    for (const value of Object.values(m)) {
      if (!(value instanceof Parameter) || value.shape.length < 2 || seen.has(value)) continue;
      seen.add(value);
      values += value.size;
    }
    if (values > 0) out.push({ name, kind: m.constructor.name, values });
  }
  return out;
}

/** The model's quantized layers by state-dict name (in module order), with their scheme. */
export function quantizedLayers(model: Module): Map<string, QuantScheme> {
  const layers = new Map<string, QuantScheme>();
  for (const [name, slot] of slots(model)) {
    if (slot.module instanceof QuantizedLinear) layers.set(name, slot.module.scheme);
    else if (slot.module instanceof QuantizedEmbedding) layers.set(name, 'int8');
  }
  return layers;
}

/** The model's quantization (null when it has none), as config.json records it. */
export function quantizationConfigOf(model: Module): JsonObject | null {
  const layers = quantizedLayers(model);
  if (layers.size === 0) return null;
  const dtype = [...layers.values()].includes('q4') ? 'q4' : 'int8';
  return { quant_method: 'attn', dtype, block_size: Q4_BLOCK, modules: Object.fromEntries(layers) };
}

/** safetensors storage types of the quantized codes, by checkpoint name (I8 for int8, U8 for q4's bytes). */
export function quantizedTensorDtypes(model: Module, names: Iterable<[string, Tensor]>): Record<string, 'I8' | 'U8'> {
  const kinds = new Map<Tensor, 'I8' | 'U8'>();
  for (const [, slot] of slots(model)) {
    const m = slot.module;
    if (m instanceof QuantizedLinear) kinds.set(m.codes, m.scheme === 'q4' ? 'U8' : 'I8');
    else if (m instanceof QuantizedEmbedding) kinds.set(m.codes, 'I8');
  }
  const out: Record<string, 'I8' | 'U8'> = {};
  for (const [name, t] of names) {
    const kind = kinds.get(t);
    if (kind) out[name] = kind;
  }
  return out;
}

/** config.json's quantization_config, checked, or null when the model is not quantized. */
export function readQuantizationConfig(config: PretrainedConfig): QuantizationConfig | null {
  const raw = config.rawField('quantization_config');
  if (raw === undefined || raw === null) return null;
  const where = `${config.source}: quantization_config`;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new QuantizationError(`${where} is ${JSON.stringify(raw)}; expected an object`);
  const q = raw as JsonObject;
  if (q.quant_method !== 'attn') {
    throw new QuantizationError(
      `${where}.quant_method is ${JSON.stringify(q.quant_method)}; attn reads only its own ('attn') quantized checkpoints`,
    );
  }
  if (q.dtype !== 'int8' && q.dtype !== 'q4')
    throw new QuantizationError(`${where}.dtype is ${JSON.stringify(q.dtype)}; expected "int8" or "q4"`);
  if (q.block_size !== undefined && q.block_size !== Q4_BLOCK) {
    throw new QuantizationError(
      `${where}.block_size is ${JSON.stringify(q.block_size)}; attn reads block size ${Q4_BLOCK}`,
    );
  }
  const modules = q.modules;
  if (typeof modules !== 'object' || modules === null || Array.isArray(modules)) {
    throw new QuantizationError(
      `${where}.modules is ${JSON.stringify(modules)}; expected an object { "<layer>": "int8" | "q4" }`,
    );
  }
  for (const [name, scheme] of Object.entries(modules)) {
    if (scheme !== 'int8' && scheme !== 'q4')
      throw new QuantizationError(`${where}.modules['${name}'] is ${JSON.stringify(scheme)}; expected "int8" or "q4"`);
  }
  return { dtype: q.dtype, modules: modules as Record<string, QuantScheme> };
}

const runtimeChecked = new Map<string, string | null>();

/** Why onnxruntime cannot build a session with `scheme`'s kernel, or null when it can. */
function runtimeProblem(scheme: QuantScheme): string | null {
  let problem = runtimeChecked.get(scheme);
  if (problem !== undefined) return problem;
  try {
    const attrs = { scheme, blockSize: Q4_BLOCK, inFeatures: Q4_BLOCK, outFeatures: 1 };
    const model = encodeModel(
      graphFor(
        'quantizedMatmul',
        ['float32', 'int32', 'float32'],
        [2, scheme === 'int8' ? 2 : 3, scheme === 'int8' ? 1 : 2],
        attrs,
      ),
    );
    const session = new (loadNative().binding.InferenceSession)();
    session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {});
    session.dispose();
    problem = null;
  } catch (err) {
    problem = (err as Error).message;
  }
  runtimeChecked.set(scheme, problem);
  return problem;
}

function onnxruntimeVersion(): string {
  try {
    return (createRequire(import.meta.url)('onnxruntime-node/package.json') as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** Throws naming the missing kernel when the installed onnxruntime cannot run `scheme`'s layers. */
export function checkQuantizedRuntime(scheme: QuantScheme, source: string, problem = runtimeProblem(scheme)): void {
  if (problem === null) return;
  throw new QuantizationError(
    `${source}: this checkpoint is quantized (${scheme}) and needs onnxruntime's ${QUANTIZED_OPS[scheme]} kernel, which the installed ` +
      `onnxruntime-node ${onnxruntimeVersion()} cannot run (${problem.split('\n')[0]}); install onnxruntime-node >= 1.17 or load a float checkpoint`,
  );
}

/**
 * Rebuilds the quantized layers config.json names (empty, before the checkpoint is read into them), after checking
 * that onnxruntime has their kernels. A model whose config has no quantization_config is left as it is.
 */
export function prepareQuantizedModel(model: Module, config: PretrainedConfig, baseModelPrefix: string): void {
  const q = readQuantizationConfig(config);
  if (!q) return;
  for (const scheme of new Set(Object.values(q.modules))) checkQuantizedRuntime(scheme, config.source);
  const all = slots(model);
  const plan = new Map<string, QuantScheme>();
  const dotted = `${baseModelPrefix}.`;
  for (const [name, scheme] of Object.entries(q.modules)) {
    // A base model's checkpoint in a head model, or the reverse: the names differ by the base prefix.
    const candidates = [name, `${dotted}${name}`, name.startsWith(dotted) ? name.slice(dotted.length) : name];
    const found = candidates.find((n) => all.has(n));
    if (found === undefined) continue; // a layer of another head (an LM head loaded as a base model)
    const m = all.get(found)!.module;
    if (!isQuantizable(m) || (scheme === 'q4' && !isLinearLike(m))) {
      throw new QuantizationError(
        `${config.source}: quantization_config.modules['${name}'] is ${scheme}, but that layer is a ${m.constructor.name}`,
      );
    }
    plan.set(found, scheme);
  }
  swapLayers(all, plan, false);
}

/** Weight types as transformers.js names them (its `dtype` option). */
export type WeightDtype = 'fp32' | 'fp16' | 'q8' | 'q4';

export const WEIGHT_DTYPES: readonly WeightDtype[] = ['fp32', 'fp16', 'q8', 'q4'];

const SCHEME_OF: Record<'q8' | 'q4', QuantScheme> = { q8: 'int8', q4: 'q4' };

export function isWeightDtype(value: unknown): value is WeightDtype {
  return WEIGHT_DTYPES.includes(value as WeightDtype);
}

/** Throws naming `dtype` and the accepted names unless it is a WeightDtype (or undefined: as saved). */
export function checkWeightDtype(dtype: unknown, source: string): asserts dtype is WeightDtype | undefined {
  if (dtype === undefined || isWeightDtype(dtype)) return;
  throw new QuantizationError(
    `${source}: dtype '${String(dtype)}' is not one of ${WEIGHT_DTYPES.join(', ')} (transformers.js' names)`,
  );
}

/** float16's largest finite value: a weight beyond it would become infinite. */
const FLOAT16_MAX = 65504;

/**
 * Keeps every float weight and buffer of `model` (in place) as IEEE half bits (tensor/half.ts), rounded to nearest
 * even as torch's `.half()`: half the memory, computed in float32 (ops widen on read; a compiled graph takes the
 * bits and casts inside). Weights already F16 stay as they are, BF16 ones are re-rounded, and weights released to
 * their checkpoint file (`readWeights: false`) are skipped: their file decides (see `loadFromDir`). Throws naming
 * the weight when a value lies beyond float16's range (±65504). Returns the model.
 */
export function narrowToFloat16<M extends Module>(model: M, source: string): M {
  for (const [name, t] of model.stateDict()) {
    if (t.isDisposed || t.dtype !== 'float32' || t.halfStorage?.format === 'F16') continue;
    const values = t.data as Float32Array;
    for (let i = 0; i < values.length; i++) {
      if (Math.abs(values[i]!) > FLOAT16_MAX && Number.isFinite(values[i]!)) {
        throw new QuantizationError(
          `${source}: weight '${name}' holds ${values[i]}, beyond float16's range (±${FLOAT16_MAX}); keep it float32 (dtype 'fp32')`,
        );
      }
    }
    t.replaceStorage(narrowToHalf(values, 'F16'));
  }
  return model;
}

/**
 * Brings a loaded model (in place) to the weight type a caller asked for: 'q8' / 'q4' quantize a float checkpoint on
 * load (a quantized one stays as saved); 'fp32' dequantizes a quantized one (`dequantize`: the weights its codes
 * stand for, not the float weights it was made from) and widens weights kept in half precision (an F16 checkpoint:
 * ops run op by op then read float32 instead of widening the bits on every read: translation 2.8x faster);
 * 'fp16' dequantizes too, then keeps the float weights as half bits (`narrowToFloat16`); none keeps it.
 */
export function applyWeightDtype(model: Module, dtype: WeightDtype | undefined, source: string): void {
  checkWeightDtype(dtype, source);
  if (dtype === undefined) return;
  const current = quantizationConfigOf(model);
  if (dtype === 'fp32' || dtype === 'fp16') {
    if (current) dequantize(model);
    if (dtype === 'fp16') narrowToFloat16(model, source);
    else for (const [, t] of model.stateDict()) if (!t.isDisposed) t.widenToFloat32();
    return;
  }
  if (!current) quantize(model, { dtype: SCHEME_OF[dtype] });
}
