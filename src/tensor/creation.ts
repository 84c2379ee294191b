import { allocate, type DType, type TypedArray } from './dtype.js';
import { activeTracer, untraced } from './engine.js';
import { full } from './ops.js';
import { defaultGenerator, type Generator } from './random.js';
import { sizeOf, type Shape } from './shape.js';
import { Tensor, type NestedArray } from './tensor.js';

export { full };

export interface CreateOptions {
  dtype?: DType;
  requiresGrad?: boolean;
}

function finish(t: Tensor, options: CreateOptions): Tensor {
  return options.requiresGrad ? t.requireGrad() : t;
}

/** A tensor from (nested) JS arrays or a typed array; dtype inferred (booleans → bool, else float32). */
export function tensor(
  values: NestedArray | Float32Array | Int32Array | Uint8Array,
  options: CreateOptions = {},
): Tensor {
  if (ArrayBuffer.isView(values))
    return finish(Tensor.from(values, [values.length], options.dtype ?? inferTyped(values)), options);
  const shape: number[] = [];
  let probe: NestedArray = values;
  while (Array.isArray(probe)) {
    shape.push(probe.length);
    probe = probe[0] as NestedArray;
  }
  const flat: number[] = [];
  let sawBool = false;
  const walk = (v: NestedArray, dim: number, path: string): void => {
    if (dim === shape.length) {
      if (Array.isArray(v)) throw new RangeError(`tensor: ragged nested array at ${path || 'top'}: expected a number`);
      if (typeof v === 'boolean') sawBool = true;
      flat.push(Number(v));
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[dim]) {
      throw new RangeError(`tensor: ragged nested array at ${path || 'top'}: expected ${shape[dim]} entries`);
    }
    v.forEach((x, i) => walk(x, dim + 1, `${path}[${i}]`));
  };
  walk(values, 0, '');
  const dtype = options.dtype ?? (sawBool ? 'bool' : 'float32');
  return finish(Tensor.from(flat, shape, dtype), options);
}

function inferTyped(values: Float32Array | Int32Array | Uint8Array): DType {
  return values instanceof Float32Array ? 'float32' : values instanceof Int32Array ? 'int32' : 'bool';
}

export function zeros(shape: Shape, options: CreateOptions = {}): Tensor {
  return finish(full(shape, 0, options.dtype), options);
}

export function ones(shape: Shape, options: CreateOptions = {}): Tensor {
  return finish(full(shape, 1, options.dtype), options);
}

/** [start, end) by step, as torch.arange (int32 unless a dtype is given or a bound is fractional). */
export function arange(start: number, end?: number, step = 1, options: CreateOptions = {}): Tensor {
  const [s, e] = end === undefined ? [0, start] : [start, end];
  if (step === 0) throw new RangeError('arange: step must not be 0');
  const n = Math.max(0, Math.ceil((e - s) / step));
  const dtype = options.dtype ?? ([s, e, step].every(Number.isInteger) ? 'int32' : 'float32');
  const data = allocate(dtype, n);
  for (let i = 0; i < n; i++) data[i] = s + i * step;
  return finish(new Tensor(data, [n]), options);
}

/** Random fills postponed by `deferRandomInit`, keyed by the buffer they would fill. */
let deferredFills: Map<Float32Array, () => void> | null = null;

function fillOrDefer(data: Float32Array, fill: () => void): void {
  if (deferredFills) deferredFills.set(data, fill);
  else fill();
}

/**
 * Runs `fn` (a model constructor) with `randn`/`rand` allocating zeroed buffers and postponing their random fill:
 * loading a checkpoint overwrites nearly every weight, and drawing them first was most of a cold load. The
 * returned `initialize(skip)` runs the postponed fills except for buffers in `skip` (those the checkpoint filled),
 * so weights it lacks (a new task head) still start random.
 */
export function deferRandomInit<T>(fn: () => T): { result: T; initialize(skip: ReadonlySet<unknown>): void } {
  const outer = deferredFills;
  const fills = new Map<Float32Array, () => void>();
  deferredFills = fills;
  let result: T;
  try {
    result = fn();
  } finally {
    deferredFills = outer;
  }
  return {
    result,
    initialize(skip) {
      for (const [data, fill] of fills) if (!skip.has(data)) fill();
      fills.clear();
    },
  };
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

/** Standard normal samples scaled by `std` around `mean`. */
export function randn(shape: Shape, options: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const { mean = 0, std = 1 } = options;
  const data = new Float32Array(sizeOf(shape));
  fillOrDefer(data, () => {
    for (let i = 0; i < data.length; i++) data[i] = mean + std * g.normal();
  });
  return finish(new Tensor(data, shape), options);
}

/** Uniform samples in [low, high). */
export function rand(shape: Shape, options: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const { low = 0, high = 1 } = options;
  const data = new Float32Array(sizeOf(shape));
  fillOrDefer(data, () => {
    for (let i = 0; i < data.length; i++) data[i] = low + (high - low) * g.random();
  });
  return finish(new Tensor(data, shape), options);
}

/** Uniform integers in [low, high). */
export function randint(low: number, high: number, shape: Shape, options: RandomOptions = {}): Tensor {
  const g = options.generator ?? defaultGenerator;
  const data = new Int32Array(sizeOf(shape));
  for (let i = 0; i < data.length; i++) data[i] = low + g.randint(high - low);
  return new Tensor(data, shape);
}

/**
 * A 0-d float32 tensor holding a value that changes from step to step without being computed by ops (a learning
 * rate, a bias correction). Eagerly just a scalar; a graph capture makes it the graph input `name`, which every
 * replay must feed.
 */
export function stepScalar(name: string, value: number): Tensor {
  const t = new Tensor(Float32Array.of(value), []);
  activeTracer?.stepInput(name, t);
  return t;
}

/**
 * A tensor of random values from `generate` (a dropout mask). A graph capture makes it a graph input and calls
 * `generate` again on every replay, in the order recorded, so a replayed step draws exactly what an eager one would.
 */
export function randomTensor(shape: Shape, generate: () => TypedArray): Tensor {
  const tracer = activeTracer;
  if (!tracer) return new Tensor(generate(), shape);
  const t = new Tensor(untraced(generate), shape);
  tracer.randomInput(t, generate);
  return t;
}
