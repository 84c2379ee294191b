/**
 * Compiled inference: a model's forward pass as ONE onnxruntime graph, with the weights as initializers (so
 * onnxruntime pre-packs them for its matmuls) and graph optimization 'all' (constant folding, LayerNorm / GELU /
 * MatMul fusions). One graph serves every batch size and length:
 *
 *   1. The forward pass is captured (backends/onnx/capture.ts) at three shapes, A, B and C, whose symbolic sizes
 *      (batch, sequence, …) take distinct values that are never 1 (an op that is a no-op at size 1, such as an
 *      expand, would change the graph's structure).
 *   2. The three graphs must agree node for node. Where a constant differs between them it is a function of the
 *      sizes, and is rebuilt inside the graph from the inputs' shapes: shape operands (reshape, expand, slice
 *      bounds) element by element as `a·∏ size^e + c` fitted on A and B and checked on C; position ranges
 *      `start … start+n-1` as a Range; causal masks as a Trilu. A difference that fits none of these is an error
 *      (GeneralizeError), never a guess.
 *   3. The general graph runs on C's inputs and must reproduce C's eager outputs (the capture ran them) before it
 *      is used: a wrong generalisation fails here, at compile time, instead of giving a silently wrong answer.
 *
 * Inputs whose values JavaScript reads while recording would make the graph valid for those values only; the
 * capture guards them (GraphGuardError), and a model whose forward pass reads them cannot be compiled this way
 * (attention masks are turned into biases with ops while capturing, see nn/attention.ts).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, CaptureError, type CapturedGraph } from '../backends/onnx/capture.js';
import { loadNative, OnnxBackend, sessionOptions, type NativeSession } from '../backends/onnx/index.js';
import {
  encodeModel,
  OnnxType,
  type GraphSpec,
  type NodeSpec,
  type TensorInit,
  type ValueSpec,
} from '../backends/onnx/protobuf.js';
import {
  FILE_WEIGHT_TYPES,
  modelWithExternalWeights,
  modelWithFileWeights,
  type FileWeight,
  type FileWeightType,
  type WeightInit,
  weightType,
} from '../backends/onnx/weights.js';
import type { TensorEntry } from '../io/safetensors.js';
import { allocate, type DType } from '../tensor/dtype.js';
import { getBackend, noGrad } from '../tensor/engine.js';
import { shapeString } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import type { Module } from '../nn/module.js';
import { quantizationConfigOf } from './quantization.js';
import { writeFileAtomicSync } from '../util/fs.js';

export class GeneralizeError extends Error {}

/** One axis of an input: a fixed size, or a symbolic size (`name`), optionally offset (`past = keys - 1`). */
export type Axis = number | { size: string; offset?: number };

export interface InputSpec {
  dtype: DType;
  axes: readonly Axis[];
}

export interface ForwardSpec {
  /** The graph's inputs by name, in feed order. */
  inputs: Record<string, InputSpec>;
  /** The forward pass: named inputs → named outputs. */
  forward(inputs: Record<string, Tensor>): Record<string, Tensor>;
  /** Values to record with (default zeros; token ids must be in range, and zeros are). */
  example?(name: string, shape: readonly number[]): Tensor | undefined;
}

/**
 * Sizes each symbol takes in the three recordings: distinct and never 1, small enough for tiny models' context
 * windows. (A size-dependent uniform constant crossing the capture's 16-value cut changes the graph's structure;
 * that is caught as a GeneralizeError, and the model then runs eagerly.)
 */
const SAMPLE_SIZES: ReadonlyArray<readonly number[]> = [
  [2, 5, 6],
  [3, 7, 9],
  [4, 11, 13],
];

function symbolsOf(spec: ForwardSpec): string[] {
  const names: string[] = [];
  for (const input of Object.values(spec.inputs)) {
    for (const axis of input.axes) if (typeof axis !== 'number' && !names.includes(axis.size)) names.push(axis.size);
  }
  if (names.length > SAMPLE_SIZES[0]!.length)
    throw new GeneralizeError(`compile: at most ${SAMPLE_SIZES[0]!.length} symbolic sizes, got ${names.join(', ')}`);
  return names;
}

function axisName(axis: Axis): string | number {
  if (typeof axis === 'number') return axis;
  return axis.offset ? `${axis.size}${axis.offset > 0 ? '+' : ''}${axis.offset}` : axis.size;
}

function concreteShape(axes: readonly Axis[], sizes: Record<string, number>): number[] {
  return axes.map((a) => (typeof a === 'number' ? a : sizes[a.size]! + (a.offset ?? 0)));
}

// ---- fitting constants to the sizes ----

/** `coefficient · ∏ size^exponent + constant`, over the symbols in order. */
interface Expression {
  coefficient: number;
  exponents: number[];
  constant: number;
}

const MAX_EXPONENT = 2;
const MAX_CONSTANT = 4;

function* exponentTuples(n: number): Generator<number[]> {
  const total = (MAX_EXPONENT + 1) ** n;
  for (let code = 0; code < total; code++) {
    const e: number[] = [];
    let c = code;
    for (let i = 0; i < n; i++) {
      e.push(c % (MAX_EXPONENT + 1));
      c = Math.floor(c / (MAX_EXPONENT + 1));
    }
    yield e;
  }
}

function monomial(exponents: number[], sizes: readonly number[]): number {
  return exponents.reduce((p, e, i) => p * sizes[i]! ** e, 1);
}

function evaluate(x: Expression, sizes: readonly number[]): number {
  return x.coefficient * monomial(x.exponents, sizes) + x.constant;
}

/** The simplest expression giving `values[k]` at `samples[k]` for every recording, or null. */
function fit(values: readonly number[], samples: ReadonlyArray<readonly number[]>): Expression | null {
  if (values.every((v) => v === values[0]))
    return { coefficient: 0, exponents: samples[0]!.map(() => 0), constant: values[0]! };
  for (let constant = 0; Math.abs(constant) <= MAX_CONSTANT; constant = constant > 0 ? -constant : 1 - constant) {
    for (const exponents of exponentTuples(samples[0]!.length)) {
      if (exponents.every((e) => e === 0)) continue;
      const m0 = monomial(exponents, samples[0]!);
      const coefficient = (values[0]! - constant) / m0;
      if (!Number.isInteger(coefficient) || coefficient === 0) continue;
      const x = { coefficient, exponents, constant };
      if (samples.every((s, k) => evaluate(x, s) === values[k])) return x;
    }
  }
  return null;
}

/** Builds size expressions as nodes, each once. */
class SizeNodes {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorInit[] = [];
  private readonly made = new Map<string, string>();
  private counter = 0;

  constructor(private readonly symbolSources: ReadonlyArray<{ input: string; axis: number; offset: number }>) {}

  private constantInt64(value: number): string {
    return this.once(`c${value}`, (name) => this.initializers.push({ name, type: 'int64', dims: [], values: [value] }));
  }

  private once(key: string, build: (name: string) => void): string {
    let name = this.made.get(key);
    if (!name) {
      name = `#size.${this.counter++}`;
      build(name);
      this.made.set(key, name);
    }
    return name;
  }

  /** The int64 scalar holding symbol `i`, read from the first input axis carrying it. */
  private symbol(i: number): string {
    return this.once(`s${i}`, (name) => {
      const { input, axis, offset } = this.symbolSources[i]!;
      const shape = `${name}.shape`;
      const raw = offset === 0 ? name : `${name}.raw`;
      this.nodes.push({ op: 'Shape', inputs: [input], outputs: [shape], attrs: { start: axis, end: axis + 1 } });
      this.nodes.push({ op: 'Squeeze', inputs: [shape], outputs: [raw] });
      if (offset !== 0) this.nodes.push({ op: 'Sub', inputs: [raw, this.constantInt64(offset)], outputs: [name] });
    });
  }

  /** An int64 scalar computing `x`. */
  scalar(x: Expression): string {
    const key = `e${x.coefficient}|${x.exponents.join(',')}|${x.constant}`;
    return this.once(key, (name) => {
      let acc: string | null = null;
      x.exponents.forEach((e, i) => {
        for (let k = 0; k < e; k++) {
          const s = this.symbol(i);
          if (acc === null) acc = s;
          else {
            const product: string = `${name}.m${i}.${k}`;
            this.nodes.push({ op: 'Mul', inputs: [acc, s], outputs: [product] });
            acc = product;
          }
        }
      });
      if (acc === null) {
        this.nodes.push({ op: 'Identity', inputs: [this.constantInt64(x.constant)], outputs: [name] });
        return;
      }
      let value: string = acc;
      if (x.coefficient !== 1) {
        const scaled = `${name}.scaled`;
        this.nodes.push({ op: 'Mul', inputs: [value, this.constantInt64(x.coefficient)], outputs: [scaled] });
        value = scaled;
      }
      this.nodes.push({
        op: x.constant === 0 ? 'Identity' : 'Add',
        inputs: x.constant === 0 ? [value] : [value, this.constantInt64(x.constant)],
        outputs: [name],
      });
    });
  }

  /** A 1-D int64 vector computing each element (a shape operand). */
  vector(elements: Expression[], out: string): void {
    const axes = this.once('axes0', (name) => this.initializers.push({ name, type: 'int64', dims: [1], values: [0] }));
    const parts = elements.map((x, k) => {
      const part = `${out}.${k}`;
      this.nodes.push({ op: 'Unsqueeze', inputs: [this.scalar(x), axes], outputs: [part] });
      return part;
    });
    this.nodes.push({ op: 'Concat', inputs: parts, outputs: [out], attrs: { axis: 0 } });
  }

  cast(input: string, type: TensorInit['type'], out: string): void {
    this.nodes.push({ op: 'Cast', inputs: [input], outputs: [out], attrs: { to: OnnxType[type] } });
  }
}

/** start, start+1, …: the arithmetic progression a 1-D constant holds, or null. */
function progression(values: ArrayLike<number>): number | null {
  for (let i = 1; i < values.length; i++) if (values[i] !== values[0]! + i) return null;
  return values[0] ?? null;
}

const MASKED = -3.4028234663852886e38;

/** Whether a (Tq, Tk) constant is a causal mask: MASKED exactly where key j is after query i's position. */
function isCausalMask(init: TensorInit): boolean {
  if (init.dims.length !== 2 || init.type !== 'float32') return false;
  const [tq, tk] = init.dims as [number, number];
  for (let i = 0; i < tq; i++) {
    for (let j = 0; j < tk; j++) if (init.values[i * tk + j] !== (j > tk - tq + i ? MASKED : 0)) return false;
  }
  return true;
}

function sameValues(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a === b) return true; // a weight: the same buffer in every recording
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i] && !(Number.isNaN(a[i]) && Number.isNaN(b[i]))) return false;
  return true;
}

function fitOrThrow(values: number[], samples: ReadonlyArray<readonly number[]>, what: string): Expression {
  const x = fit(values, samples);
  if (!x)
    throw new GeneralizeError(
      `compile: ${what} is ${values.join(' / ')} at the recorded sizes and fits no size expression`,
    );
  return x;
}

/**
 * One graph from three recordings of the same forward pass at different sizes (see the file comment): inputs get
 * symbolic dims, size-dependent constants are computed from the inputs' shapes.
 */
export function generalize(
  specs: readonly GraphSpec[],
  samples: ReadonlyArray<readonly number[]>,
  inputs: Record<string, InputSpec>,
  symbols: string[],
): GraphSpec {
  const [first, ...others] = specs as [GraphSpec, ...GraphSpec[]];
  for (const other of others) {
    if (other.nodes.length !== first.nodes.length) {
      throw new GeneralizeError(
        `compile: the forward pass ran ${first.nodes.length} and ${other.nodes.length} ops at two sizes; its ops depend on the sizes`,
      );
    }
    first.nodes.forEach((node, i) => {
      const o = other.nodes[i]!;
      if (
        o.op !== node.op ||
        JSON.stringify(o.attrs ?? {}) !== JSON.stringify(node.attrs ?? {}) ||
        o.inputs.join() !== node.inputs.join()
      ) {
        throw new GeneralizeError(
          `compile: op ${i} differs between sizes (${node.op} ${JSON.stringify(node.attrs ?? {})} vs ${o.op} ${JSON.stringify(o.attrs ?? {})})`,
        );
      }
    });
  }
  const sources = symbols.map((symbol) => {
    for (const [name, spec] of Object.entries(inputs)) {
      const axis = spec.axes.findIndex((a) => typeof a !== 'number' && a.size === symbol);
      if (axis >= 0) return { input: name, axis, offset: (spec.axes[axis] as { offset?: number }).offset ?? 0 };
    }
    throw new GeneralizeError(`compile: no input carries the size '${symbol}'`);
  });
  const sizes = new SizeNodes(sources);
  const byName = others.map((o) => new Map(o.initializers.map((init) => [init.name, init])));
  const initializers: TensorInit[] = [];
  const computed: NodeSpec[] = [];
  for (const init of first.initializers) {
    const versions = [init, ...byName.map((m) => m.get(init.name))];
    if (versions.some((v) => v === undefined))
      throw new GeneralizeError(`compile: constant '${init.name}' is missing at some sizes`);
    const all = versions as TensorInit[];
    if (all.every((v) => v.dims.join() === init.dims.join() && sameValues(v.values, init.values))) {
      initializers.push(init);
      continue;
    }
    const where = `constant '${init.name}' (${init.type} ${shapeString(init.dims)})`;
    if (init.type === 'int64' && init.dims.length <= 1 && all.every((v) => v.values.length === init.values.length)) {
      // A shape operand: each element a size expression.
      const elements = Array.from(init.values, (_, k) =>
        fitOrThrow(
          all.map((v) => v.values[k]!),
          samples,
          `element ${k} of ${where}`,
        ),
      );
      if (init.dims.length === 0) {
        const s = sizes.scalar(elements[0]!);
        computed.push({ op: 'Identity', inputs: [s], outputs: [init.name] });
      } else sizes.vector(elements, init.name);
      continue;
    }
    if (init.dims.length <= 1 && all.every((v) => v.values.length === init.values.length && v.values.length <= 4)) {
      // A few numbers (a mean's count): computed in int64, then cast.
      const elements = Array.from(init.values, (_, k) =>
        fitOrThrow(
          all.map((v) => v.values[k]!),
          samples,
          `element ${k} of ${where}`,
        ),
      );
      const vector = `${init.name}.i64`;
      if (init.dims.length === 0)
        computed.push({ op: 'Identity', inputs: [sizes.scalar(elements[0]!)], outputs: [vector] });
      else sizes.vector(elements, vector);
      sizes.cast(vector, init.type, init.name);
      continue;
    }
    // A vector (every axis but one of size 1: (T), (T, 1), …) holding start, start+1, …: a range of positions.
    const vectorLike = all.every(
      (v) => v.dims.length === init.dims.length && v.dims.filter((d) => d !== 1).length <= 1,
    );
    const starts = all.map((v) => (vectorLike ? progression(v.values) : null));
    if (starts.every((s) => s !== null)) {
      const start = sizes.scalar(fitOrThrow(starts as number[], samples, `the start of ${where}`));
      const length = sizes.scalar(
        fitOrThrow(
          all.map((v) => v.values.length),
          samples,
          `the length of ${where}`,
        ),
      );
      const n = init.name;
      initializers.push({ name: `${n}.one`, type: 'int64', dims: [], values: [1] });
      computed.push({ op: 'Add', inputs: [start, length], outputs: [`${n}.end`] });
      computed.push({ op: 'Range', inputs: [start, `${n}.end`, `${n}.one`], outputs: [`${n}.i64`] });
      sizes.cast(`${n}.i64`, init.type, `${n}.flat`);
      const dims = init.dims.map((_, axis) =>
        fitOrThrow(
          all.map((v) => v.dims[axis]!),
          samples,
          `dim ${axis} of ${where}`,
        ),
      );
      sizes.vector(dims, `${n}.shape`);
      computed.push({ op: 'Reshape', inputs: [`${n}.flat`, `${n}.shape`], outputs: [n] });
      continue;
    }
    if (all.every(isCausalMask)) {
      const tq = sizes.scalar(
        fitOrThrow(
          all.map((v) => v.dims[0]!),
          samples,
          `the queries of ${where}`,
        ),
      );
      const tk = sizes.scalar(
        fitOrThrow(
          all.map((v) => v.dims[1]!),
          samples,
          `the keys of ${where}`,
        ),
      );
      const n = init.name;
      initializers.push(
        { name: `${n}.axis`, type: 'int64', dims: [1], values: [0] },
        { name: `${n}.one`, type: 'int64', dims: [], values: [1] },
      );
      computed.push(
        { op: 'Unsqueeze', inputs: [tq, `${n}.axis`], outputs: [`${n}.q`] },
        { op: 'Unsqueeze', inputs: [tk, `${n}.axis`], outputs: [`${n}.k`] },
        { op: 'Concat', inputs: [`${n}.q`, `${n}.k`], outputs: [`${n}.shape`], attrs: { axis: 0 } },
        {
          op: 'ConstantOfShape',
          inputs: [`${n}.shape`],
          outputs: [`${n}.full`],
          attrs: { value: { name: '', type: 'float32', dims: [1], values: [MASKED] } },
        },
        { op: 'Sub', inputs: [tk, tq], outputs: [`${n}.offset`] },
        { op: 'Add', inputs: [`${n}.offset`, `${n}.one`], outputs: [`${n}.diagonal`] },
        { op: 'Trilu', inputs: [`${n}.full`, `${n}.diagonal`], outputs: [n], attrs: { upper: 1 } },
      );
      continue;
    }
    throw new GeneralizeError(`compile: ${where} depends on the input sizes in a way attn cannot rebuild in the graph`);
  }
  const nodes = [...sizes.nodes, ...computed, ...first.nodes];
  // An input the outputs do not need (DistilBERT ignores token types) is dropped: callers may still feed it.
  const used = new Set(nodes.flatMap((n) => n.inputs));
  const inputSpecs: ValueSpec[] = first.inputs
    .filter((v) => used.has(v.name))
    .map((v) => {
      const spec = inputs[v.name];
      return spec ? { ...v, dims: spec.axes.map(axisName) } : v;
    });
  return {
    nodes,
    initializers: [...sizes.initializers, ...initializers],
    inputs: inputSpecs,
    outputs: first.outputs.map(({ name, type }) => ({ name, type })),
  };
}

// ---- the compiled forward pass ----

const TOLERANCE = 1e-4;
/**
 * A graph with dynamic int8 matmuls quantizes each activation tensor per call, and onnxruntime's fused kernels may
 * round a value on a quantization step's midpoint the other way than the op-by-op kernels: one step of an 8-bit
 * activation, carried through the layers, moved USE Lite's int8 logits by ~2% on the recording's synthetic ids,
 * while on 1,000 real sentences the compiled and op-by-op probabilities agree within 1e-8. Structural errors (a
 * shape-dependent constant, a lost mask) move outputs by far more than this.
 */
const QUANTIZED_TOLERANCE = 0.05;

function closeEnough(expected: Tensor, actual: Tensor, tolerance: number): string | null {
  if (expected.shape.join() !== actual.shape.join())
    return `shape ${shapeString(actual.shape)} instead of ${shapeString(expected.shape)}`;
  const a = expected.data;
  const b = actual.data;
  let scale = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(a[i]!));
  for (let i = 0; i < a.length; i++) {
    if (Math.abs(a[i]! - b[i]!) > tolerance * Math.max(1, scale)) return `value ${i} is ${b[i]} instead of ${a[i]}`;
  }
  return null;
}

function cacheKeyOf(model: Module, forward: ForwardSpec, weights: Record<string, Tensor>, name: string): string {
  const config = (model as { config?: { toJSON?(): unknown } }).config?.toJSON?.() ?? null;
  const shapes = Object.entries(weights).map(([weight, t]) => [weight, t.dtype, ...t.shape]);
  const key = {
    format: CACHE_FORMAT,
    code: codeStamp(),
    name,
    model: model.constructor.name,
    config,
    shapes,
    inputs: forward.inputs,
  };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex');
}

/**
 * Whether JS holds any of `model`'s weights in half precision. Those must go in as initializers (weights 'packed'):
 * onnxruntime then casts them once, at session load; fed as inputs ('shared') they are cast on every run, which
 * made a sentiment-ko call (2M weights, mostly its embedding table) about 10x slower (9.7 ms instead of 0.9 ms).
 */
export function holdsHalfWeights(model: Module): boolean {
  for (const [, t] of model.stateDict()) if (!t.isDisposed && t.halfStorage !== null) return true;
  return false;
}

/** Every parameter and buffer of `model` by state-dict name (tied weights once): the graph's weights. */
function weightsOf(model: Module): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  const seen = new Set<unknown>();
  for (const [name, t] of model.stateDict()) {
    // A weight released to its checkpoint file (tied weights are one tensor) has no buffer to compare; a half one
    // is compared by its bits (its widened buffer is a cache entry, not an identity).
    const identity = t.isDisposed ? t : (t.halfStorage ?? t.storage);
    if (seen.has(identity)) continue;
    seen.add(identity);
    out[name] = t;
  }
  return out;
}

export type WeightMode = 'packed' | 'shared';

/** How a session gets its weights: from JS buffers (see WeightMode), or read by onnxruntime from the checkpoint. */
type WeightSource =
  | { mode: WeightMode; weights: WeightInit[]; casts: NodeSpec[] }
  | { mode: 'file'; folder: string; files: FileWeight[]; casts: NodeSpec[]; inline: WeightInit[] };

/** How a checkpoint stores a weight, as onnxruntime reads it (attn's tensors hold floats as float32, ints as int32). */
const STORED_AS: Record<TensorEntry['dtype'], FileWeightType> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  U8: 'uint8',
  I8: 'int8',
  BOOL: 'bool',
};

/**
 * A weight as a session takes it. One kept in half precision (tensor/half.ts) goes in as its float16 / bfloat16 bits
 * under `<name>#half`, cast to float32 inside the graph (appended to `casts`): JS makes no float32 copy, and the
 * graph computes on exactly the values the eager pass widens to. As an initializer, onnxruntime folds the Cast once
 * at session load (its copy is then float32: its CPU kernels compute in float32); as a 'shared' input it casts on
 * every run.
 */
function weightInitOf(name: string, t: Tensor, casts: NodeSpec[]): WeightInit {
  const half = t.halfStorage;
  if (!half) return { name, dims: t.shape, data: t.storage };
  const stored = `${name}#half`;
  casts.push({ op: 'Cast', inputs: [stored], outputs: [name], attrs: { to: OnnxType.float32 } });
  return { name: stored, dims: t.shape, data: half.bits, half: half.format === 'F16' ? 'float16' : 'bfloat16' };
}

/**
 * The weights of a graph as onnxruntime reads them from their checkpoint file by offset (a weight stored in another
 * type, F16 or I64, gets a Cast), the rest inline; null unless every checkpoint weight lies in one folder (the one
 * onnxruntime is allowed to read external data from).
 */
function checkpointSource(
  used: ReadonlySet<string>,
  weights: Record<string, Tensor>,
  checkpoint: ReadonlyMap<Tensor, TensorEntry>,
): WeightSource | null {
  const files: FileWeight[] = [];
  const casts: NodeSpec[] = [];
  const inline: WeightInit[] = [];
  const folders = new Set<string>();
  // onnxruntime resolves links before checking that external data stays in its folder (a hub snapshot links to
  // blobs/), so the folder is the real one.
  const realPaths = new Map<string, string>();
  for (const [name, t] of Object.entries(weights)) {
    if (!used.has(name)) continue;
    const entry = checkpoint.get(t);
    if (!entry) {
      inline.push(weightInitOf(name, t, casts));
      continue;
    }
    let real = realPaths.get(entry.file);
    if (real === undefined) realPaths.set(entry.file, (real = realpathSync(entry.file)));
    folders.add(dirname(real));
    const type = STORED_AS[entry.dtype];
    const direct = type === t.dtype;
    const stored = direct ? name : `${name}#stored`;
    const bytes = { location: basename(real), offset: entry.begin, length: entry.end - entry.begin };
    files.push({ name: stored, dims: t.shape, type, ...bytes });
    if (!direct) casts.push({ op: 'Cast', inputs: [stored], outputs: [name], attrs: { to: OnnxType[t.dtype] } });
  }
  if (folders.size !== 1) return null;
  return { mode: 'file', folder: [...folders][0]!, files, casts, inline };
}

/**
 * The graph reading a checkpoint's 8-bit codes (I8 int8 / U8 q4 bytes) in their file type. attn holds codes as int32,
 * so the graph widens each stored weight (`<name>#stored` → Cast int32), then its only users narrow it back (the
 * quantized matmul's Cast to int8 / uint8) or gather rows that are cast to float (QuantizedEmbedding). onnxruntime
 * would fold the widening at session load into an int32 copy, 4 bytes a weight (the embedding table stays so); the
 * users take the stored bytes instead, with the same values, and no int32 copy is ever made. A weight used otherwise
 * keeps its Cast.
 */
export function codesReadAsStored(spec: GraphSpec, files: readonly FileWeight[]): GraphSpec {
  const codeTypes = new Map(
    files.filter((f) => f.type === 'int8' || f.type === 'uint8').map((f) => [f.name, FILE_WEIGHT_TYPES[f.type]]),
  );
  const users = new Map<string, NodeSpec[]>();
  for (const n of spec.nodes) {
    for (const i of n.inputs) (users.get(i) ?? users.set(i, []).get(i)!).push(n);
  }
  const graphOutputs = new Set(spec.outputs.map((o) => o.name));
  const usersOf = (value: string) => (graphOutputs.has(value) ? null : (users.get(value) ?? []));
  const replaced = new Map<NodeSpec, NodeSpec | null>();
  for (const widen of spec.nodes) {
    const stored = widen.inputs[0]!;
    const storedType = codeTypes.get(stored);
    if (widen.op !== 'Cast' || storedType === undefined) continue;
    const widened = widen.outputs[0]!;
    const narrowsBack = (n: NodeSpec) => n.op === 'Cast' && n.attrs?.to === storedType;
    const gathersRowsCast = (n: NodeSpec) =>
      n.op === 'Gather' &&
      n.inputs.indexOf(widened) === 0 &&
      n.inputs.lastIndexOf(widened) === 0 &&
      (usersOf(n.outputs[0]!)?.every((m) => m.op === 'Cast') ?? false);
    const readers = usersOf(widened);
    if (readers === null || !readers.every((n) => narrowsBack(n) || gathersRowsCast(n))) continue;
    replaced.set(widen, null);
    for (const n of readers) {
      replaced.set(
        n,
        narrowsBack(n)
          ? { op: 'Identity', inputs: [stored], outputs: n.outputs }
          : { ...n, inputs: [stored, ...n.inputs.slice(1)] },
      );
    }
  }
  const nodes = spec.nodes.flatMap((n) => (replaced.has(n) ? (replaced.get(n) ?? []) : [n]));
  return { ...spec, nodes };
}

// ---- the compile cache ----

/**
 * Compiling records the forward pass three times, which costs more than loading the weights; the general graph
 * (without weights: a few hundred KB of nodes and small constants) is therefore kept on disk, in
 * $ATTN_CACHE_DIR/compiled (default ~/.cache/attn/compiled), and reused by the next process. The key covers
 * everything the graph depends on: the caller's name for the computation, the model class, its config, the
 * weights' names, shapes and dtypes, the input specs, and a stamp of attn's own code (every source file's path,
 * size and modification time), so a code change or another model never reuses a stale graph. ATTN_COMPILE_CACHE=0
 * turns the cache off.
 */
const CACHE_FORMAT = 1;

let codeStampMemo: string | null = null;

/** Path, size and mtime of every file of attn's code (src/ or dist/src/, whichever is running). */
function codeStamp(): string {
  if (codeStampMemo === null) {
    const root = dirname(dirname(fileURLToPath(import.meta.url)));
    const hash = createHash('sha256');
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (/\.(js|ts)$/.test(entry.name)) {
          const { size, mtimeMs } = statSync(path);
          hash.update(`${path}|${size}|${mtimeMs}\n`);
        }
      }
    };
    walk(root);
    codeStampMemo = hash.digest('hex');
  }
  return codeStampMemo;
}

function cacheFile(key: string): string | null {
  if (process.env.ATTN_COMPILE_CACHE === '0') return null;
  const dir = process.env.ATTN_CACHE_DIR || join(homedir(), '.cache', 'attn');
  return join(dir, 'compiled', `${key}.json`);
}

interface CachedGraph {
  format: number;
  spec: GraphSpec;
  inputs: Record<string, InputSpec>;
}

/** Small constants are typed arrays in the spec; JSON keeps them as plain number lists (all encodeModel needs). */
function toJson(spec: GraphSpec): GraphSpec {
  return { ...spec, initializers: spec.initializers.map((init) => ({ ...init, values: Array.from(init.values) })) };
}

function readCached(file: string): CachedGraph | null {
  try {
    const cached = JSON.parse(readFileSync(file, 'utf8')) as CachedGraph;
    return cached.format === CACHE_FORMAT ? cached : null;
  } catch {
    return null; // absent or unreadable: compile again (and overwrite it)
  }
}

export interface CompileOptions {
  /** Intra-op threads (default: the onnx backend's, i.e. ATTN_NUM_THREADS or one per core). */
  threads?: number;
  /**
   * How the session holds the weights. 'packed' (default): as initializers, which onnxruntime copies and pre-packs
   * for its GEMM kernels (fastest matmuls; while the session is built the weights exist in JS, in onnxruntime's
   * copy and packed). 'shared': fed from attn's own buffers on every run (zero-copy on the CPU): one copy in
   * memory, no packing. Measured (1 thread, CPU time per run, DistilBERT-base): 12 tokens packed 14.6–15.3 ms,
   * shared 18.5–19.4 ms; 128 tokens and batches of 16 about 7% apart; peak RSS 721 vs 377 MB.
   */
  weights?: WeightMode;
  /**
   * Names what `forward` computes (e.g. 'sequence-classification/logits'); with it the general graph is cached on
   * disk (see the compile cache above). Two different computations must never share a name.
   */
  cacheKey?: string;
  /**
   * Weights onnxruntime reads itself from their checkpoint file, by tensor (PreTrainedModel.weightsOnDisk): the
   * session holds its own (pre-packed) copy and JS none, so the caller may release them after compiling. Used when
   * all these files lie in one folder; `weights` then applies to none.
   */
  checkpoint?: ReadonlyMap<Tensor, TensorEntry>;
  /** Gives released weights their values back, for recording the forward pass when the graph is not cached. */
  readWeights?: () => void;
}

/** A forward pass compiled to one onnxruntime session for every size (see the file comment). */
export class CompiledForward {
  private session: NativeSession | null;
  readonly nodeCount: number;
  /** With weights 'shared': the weights as onnxruntime tensors over attn's buffers, fed with every run. */
  private readonly weightFeeds: Record<string, unknown> = {};
  private readonly weights: WeightInit[];
  /** Casts from the weights' stored types (F16 file bytes, half-kept tensors) to the types the graph reads. */
  private readonly weightCasts: NodeSpec[];
  /** Whether onnxruntime read the checkpoint weights from their file (CompileOptions.checkpoint). */
  readonly readsCheckpoint: boolean;

  private constructor(
    readonly spec: GraphSpec,
    readonly inputs: Record<string, InputSpec>,
    source: WeightSource,
    threads: number,
  ) {
    // Threads do not spin between runs (sessionOptions), unlike onnxruntime's default: every path runs JS between
    // graph runs, which spinning threads starved. 2 cores, load ~3.3, on → off: GPT-2-small int8 greedy 12.2 → 6.1
    // ms/token, sentiment-en 1,000 single calls 1.77 → 0.73 s, beam-4 translation 5.5 → 4.0 s per 100 (issue 17).
    const options = sessionOptions(threads, 'all') as { extra: { session: Record<string, string> } };
    this.session = new (loadNative().binding.InferenceSession)();
    this.weights = source.mode === 'file' ? source.inline : source.weights;
    this.readsCheckpoint = source.mode === 'file';
    this.weightCasts = source.casts;
    const weights = this.weights;
    const withCasts = this.specWithWeightCasts;
    if (source.mode === 'file') {
      // Loaded from bytes, external data is read from this folder (by path, so onnxruntime reads or maps the file
      // itself: in-memory external data would be copied). A symlinked checkpoint elsewhere is refused by its check
      // that external data stays inside the folder, hence no model file is written.
      options.extra.session['model_external_initializers_file_folder_path'] = source.folder;
      const parts = modelWithFileWeights(codesReadAsStored(withCasts, source.files), source.files, source.inline);
      const model = Buffer.concat(parts);
      this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, options);
    } else if (source.mode === 'packed') {
      const { model, externalData } = modelWithExternalWeights(withCasts, weights);
      this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
        ...options,
        externalData,
      });
    } else {
      const weightInputs = weights.map((w) => ({ name: w.name, type: weightType(w), dims: [...w.dims] }));
      const model = encodeModel({ ...withCasts, inputs: [...spec.inputs, ...weightInputs] });
      this.session.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, options);
      const { OrtTensor } = loadNative();
      for (const w of weights) this.weightFeeds[w.name] = new OrtTensor(weightType(w), w.data, w.dims);
    }
    this.nodeCount = spec.nodes.length;
  }

  /**
   * Records, generalises and checks `forward` on `model`'s weights, or takes the graph from the compile cache;
   * throws GeneralizeError / CaptureError.
   */
  static compile(model: Module, forward: ForwardSpec, options: CompileOptions = {}): CompiledForward {
    const initializers = weightsOf(model);
    const backend = getBackend();
    const threads = options.threads ?? (backend instanceof OnnxBackend ? backend.numThreads : 0);
    // Weights left in their checkpoint are read back to record the forward pass, or to feed them from JS.
    const readReleased = () => {
      if (!Object.values(initializers).some((t) => t.isDisposed)) return;
      if (!options.readWeights) throw new Error('compile: weights of the model were released and no readWeights given');
      options.readWeights();
    };
    const source = (used: ReadonlySet<string>): WeightSource => {
      const fromFile = options.checkpoint ? checkpointSource(used, initializers, options.checkpoint) : null;
      if (fromFile) return fromFile;
      readReleased();
      const casts: NodeSpec[] = [];
      const weights = Object.entries(initializers)
        .filter(([name]) => used.has(name))
        .map(([name, t]) => weightInitOf(name, t, casts));
      return { mode: options.weights ?? 'packed', weights, casts };
    };
    const file =
      options.cacheKey === undefined ? null : cacheFile(cacheKeyOf(model, forward, initializers, options.cacheKey));
    const cached = file ? readCached(file) : null;
    if (cached) {
      // The key covers the weights' names and shapes: the graph reads exactly these.
      const used = new Set(cached.spec.nodes.flatMap((n) => n.inputs));
      return new CompiledForward(cached.spec, cached.inputs, source(used), threads);
    }
    readReleased();
    const compiled = CompiledForward.record(model, forward, initializers, threads, source);
    if (file) {
      const entry: CachedGraph = { format: CACHE_FORMAT, spec: toJson(compiled.spec), inputs: compiled.inputs };
      try {
        writeFileAtomicSync(file, JSON.stringify(entry));
      } catch {
        // A read-only cache only costs the next process a recompilation.
      }
    }
    return compiled;
  }

  private static record(
    model: Module,
    forward: ForwardSpec,
    initializers: Record<string, Tensor>,
    threads: number,
    source: (used: ReadonlySet<string>) => WeightSource,
  ): CompiledForward {
    const symbols = symbolsOf(forward);
    const samples = SAMPLE_SIZES.map((s) => s.slice(0, symbols.length));
    const recordings: CapturedGraph[] = [];
    const feeds: Array<Record<string, Tensor>> = [];
    noGrad(() => {
      for (const sample of samples) {
        const sizes = Object.fromEntries(symbols.map((s, i) => [s, sample[i]!]));
        const inputs: Record<string, Tensor> = {};
        for (const [name, spec] of Object.entries(forward.inputs)) {
          const shape = concreteShape(spec.axes, sizes);
          inputs[name] =
            forward.example?.(name, shape) ??
            new Tensor(
              allocate(
                spec.dtype,
                shape.reduce((n, d) => n * d, 1),
              ),
              shape,
            );
        }
        feeds.push(inputs);
        recordings.push(capture(forward.forward, { inputs, initializers }));
      }
    });
    try {
      const guarded = recordings.flatMap((r) => [...r.guards.keys()]);
      if (guarded.length > 0) {
        throw new GeneralizeError(
          `compile: the forward pass reads the values of input(s) ${[...new Set(guarded)].join(', ')} in JavaScript, so one graph cannot serve every value`,
        );
      }
      const spec = generalize(
        recordings.map((r) => r.spec),
        samples,
        forward.inputs,
        symbols,
      );
      const weightNames = new Set(Object.keys(initializers));
      const used = new Set(spec.initializers.filter((init) => weightNames.has(init.name)).map((init) => init.name));
      const small = { ...spec, initializers: spec.initializers.filter((init) => !weightNames.has(init.name)) };
      const kept = Object.fromEntries(
        Object.entries(forward.inputs).filter(([name]) => spec.inputs.some((i) => i.name === name)),
      );
      const compiled = new CompiledForward(small, kept, source(used), threads);
      const check = recordings[recordings.length - 1]!;
      const got = compiled.run(feeds[feeds.length - 1]!);
      const tolerance = quantizationConfigOf(model) ? QUANTIZED_TOLERANCE : TOLERANCE;
      for (const [name, expected] of Object.entries(check.firstOutputs)) {
        const problem = closeEnough(expected, got[name]!, tolerance);
        if (problem) {
          compiled.dispose();
          throw new GeneralizeError(
            `compile: the general graph's output '${name}' disagrees with the eager forward pass (${problem})`,
          );
        }
      }
      return compiled;
    } finally {
      for (const r of recordings) r.dispose();
    }
  }

  /**
   * The weights by initializer name (export writes them inline, with `specWithWeightCasts`); those read from a
   * checkpoint file are not here.
   */
  get weightInits(): readonly WeightInit[] {
    return this.weights;
  }

  /** The graph with the casts from its weights' stored types first (half-kept weights, F16 checkpoint bytes). */
  get specWithWeightCasts(): GraphSpec {
    return { ...this.spec, nodes: [...this.weightCasts, ...this.spec.nodes] };
  }

  /** Runs the graph; feeds are checked against the input specs (dtype, rank, fixed sizes, shared sizes). */
  run(feeds: Record<string, Tensor>): Record<string, Tensor> {
    if (!this.session) throw new Error('CompiledForward: disposed');
    const { OrtTensor } = loadNative();
    const ortFeeds: Record<string, unknown> = { ...this.weightFeeds };
    const sizes = new Map<string, { value: number; from: string }>();
    for (const [name, spec] of Object.entries(this.inputs)) {
      const t = feeds[name];
      if (!t) throw new RangeError(`compiled forward: no feed for input '${name}'`);
      const expected = `${spec.dtype} (${spec.axes.map(axisName).join(', ')})`;
      if (t.dtype !== spec.dtype || t.rank !== spec.axes.length) {
        throw new RangeError(
          `compiled forward: input '${name}' is ${t.dtype} ${shapeString(t.shape)}; the graph takes ${expected}`,
        );
      }
      spec.axes.forEach((axis, i) => {
        const d = t.shape[i]!;
        if (typeof axis === 'number') {
          if (d !== axis)
            throw new RangeError(
              `compiled forward: input '${name}' is ${shapeString(t.shape)}; the graph takes ${expected}`,
            );
          return;
        }
        const value = d - (axis.offset ?? 0);
        const seen = sizes.get(axis.size);
        if (seen && seen.value !== value) {
          throw new RangeError(
            `compiled forward: input '${name}' ${shapeString(t.shape)} gives ${axis.size} = ${value}, but ${seen.from} gave ${seen.value}`,
          );
        }
        sizes.set(axis.size, { value, from: `input '${name}' ${shapeString(t.shape)}` });
      });
      ortFeeds[name] = new OrtTensor(t.dtype, t.storage, t.shape);
    }
    const fetches: Record<string, null> = {};
    for (const o of this.spec.outputs) fetches[o.name] = null;
    const results = this.session.run(ortFeeds, fetches, {});
    const out: Record<string, Tensor> = {};
    for (const o of this.spec.outputs) {
      const r = results[o.name]!;
      out[o.name] = new Tensor(r.data, [...r.dims]);
    }
    return out;
  }

  dispose(): void {
    this.session?.dispose();
    this.session = null;
  }
}

/** How a model holds its weights between compiled sessions and the op-by-op pass (PreTrainedModel has them). */
export interface WeightHolder {
  /** Weights left in the checkpoint file (`readWeights: false`), or null when JS read them all. */
  readonly weightsOnDisk: ReadonlyMap<Tensor, TensorEntry> | null;
  readWeightsBack(): void;
  releaseWeightsOnDisk(): void;
}

/**
 * How a session should hold weights JS keeps: quantized codes and half weights go in as initializers ('packed'), so
 * onnxruntime casts and lays them out once and pre-packs them; other weights as `preferred`.
 */
export function weightModeFor(model: Module, preferred: WeightMode): WeightMode {
  return quantizationConfigOf(model) || holdsHalfWeights(model) ? 'packed' : preferred;
}

export interface CompiledGraphsOptions {
  /** Sessions read the weights left in the checkpoint from the file (default true); false reads them into JS. */
  fromFile?: boolean;
  /** Says once that a graph runs op by op, and why. */
  warn: (message: string) => void;
}

/**
 * The compiled graphs of one model, by name, each compiled on first use (an encoder pipeline's, a causal LM's prompt
 * and decode step, an encoder–decoder's encoder and decoder steps). Sessions read the weights the model left in its
 * checkpoint from the file; once every graph compiled so far does, the model releases them, so JS holds no copy
 * (compiling one afresh reads them back to record the forward pass). A graph that cannot be compiled is null and its
 * pass runs op by op, on the weights read back.
 */
export class CompiledGraphs {
  private readonly graphs = new Map<string, CompiledForward | null>();
  private readonly fromFile: boolean;
  private readonly warn: (message: string) => void;

  constructor(
    private readonly model: Module & WeightHolder,
    options: CompiledGraphsOptions,
  ) {
    this.fromFile = options.fromFile ?? true;
    this.warn = options.warn;
  }

  /** Whether `key` was compiled: true / false once tried (false: it runs op by op), undefined before. */
  compiled(key: string): boolean | undefined {
    return this.graphs.has(key) ? this.graphs.get(key) !== null : undefined;
  }

  /**
   * The graph `key` (`what` names its pass in the warning), compiling `spec()` on first use; null when it cannot be
   * compiled. `options.weights` applies to weights JS holds.
   */
  get(
    key: string,
    what: string,
    spec: () => ForwardSpec,
    options: Omit<CompileOptions, 'checkpoint' | 'readWeights'> = {},
  ): CompiledForward | null {
    if (this.graphs.has(key)) return this.graphs.get(key)!;
    const model = this.model;
    let compiled: CompiledForward | null = null;
    try {
      compiled = CompiledForward.compile(model, spec(), {
        ...options,
        checkpoint: this.fromFile ? (model.weightsOnDisk ?? undefined) : undefined,
        readWeights: () => model.readWeightsBack(),
      });
    } catch (err) {
      if (!(err instanceof GeneralizeError || err instanceof CaptureError)) throw err;
      this.warn(`running ${model.constructor.name}'s ${what} op by op: ${err.message}`);
    }
    this.graphs.set(key, compiled);
    // A graph fed from JS buffers ('shared') or run op by op needs them.
    if ([...this.graphs.values()].every((g) => g?.readsCheckpoint)) model.releaseWeightsOnDisk();
    return compiled;
  }

  dispose(): void {
    for (const compiled of this.graphs.values()) compiled?.dispose();
    this.graphs.clear();
  }
}

/** The tensors a tokenizer hands an encoder, (B, T) int32 each. */
export interface EncoderFeeds {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds: Tensor;
}

const ENCODER_AXES: readonly Axis[] = [{ size: 'batch' }, { size: 'sequence' }];

/**
 * The ForwardSpec of an encoder pass on tokenizer output (input_ids, attention_mask, token_type_ids), recorded
 * with in-range ids and a mask that pads some rows, so the check in `compile` covers padding.
 */
export function encoderSpec(vocabSize: number, run: (feeds: EncoderFeeds) => Record<string, Tensor>): ForwardSpec {
  return {
    inputs: {
      input_ids: { dtype: 'int32', axes: ENCODER_AXES },
      attention_mask: { dtype: 'int32', axes: ENCODER_AXES },
      token_type_ids: { dtype: 'int32', axes: ENCODER_AXES },
    },
    forward: (x) => run({ inputIds: x.input_ids!, attentionMask: x.attention_mask!, tokenTypeIds: x.token_type_ids! }),
    example(name, shape) {
      const [b, t] = shape as [number, number];
      const data = new Int32Array(b * t);
      for (let i = 0; i < b; i++) {
        for (let j = 0; j < t; j++) {
          if (name === 'input_ids') data[i * t + j] = (i * 31 + j * 7 + 1) % vocabSize;
          else if (name === 'attention_mask') data[i * t + j] = i % 2 === 1 && j >= t - 2 ? 0 : 1;
        }
      }
      return new Tensor(data, shape);
    },
  };
}
