import type { KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backends/backend.js';
import { allocate, type DType } from './dtype.js';
import { activeTracer, getBackend, isGradEnabled, noGrad, untraced } from './engine.js';
import { broadcastShapes, normalizeAxis, sameShape, shapeString, sizeOf, type Shape } from './shape.js';
import { Tensor, withGrad, type TensorLike } from './tensor.js';

/**
 * Every tensor op, composed from the backend primitives (backends/backend.ts), each with its gradient.
 * Gradients are written with these same ops, so every backend differentiates the same way.
 */

function prim<K extends PrimitiveOp>(op: K, inputs: Tensor[], attrs: PrimitiveAttrs[K]): Tensor {
  const out: KernelTensor = activeTracer
    ? activeTracer.dispatch(op, inputs, attrs)
    : getBackend().run(op, inputs, attrs);
  return new Tensor(out.data, out.shape);
}

const NO_ATTRS = {} as Record<string, never>;

function requireFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'float32') throw new TypeError(`${op}: expected a float32 tensor, got ${t.dtype}`);
}

/** A number becomes a 0-d tensor of the other operand's dtype. */
function lift(x: TensorLike, like: Tensor): Tensor {
  if (x instanceof Tensor) return x;
  const data = allocate(like.dtype === 'bool' ? 'float32' : like.dtype, 1);
  data[0] = x;
  return new Tensor(data, []);
}

function pair(a: TensorLike, b: TensorLike, op: string): [Tensor, Tensor] {
  if (a instanceof Tensor) {
    const bt = lift(b, a);
    if (a.dtype !== bt.dtype) throw new TypeError(`${op}: dtypes differ (${a.dtype} and ${bt.dtype}); cast one first`);
    broadcastShapes(a.shape, bt.shape, op);
    return [a, bt];
  }
  if (b instanceof Tensor) return [lift(a, b), b];
  throw new TypeError(`${op}: at least one operand must be a Tensor`);
}

// ---- creation helpers used by gradients ----

export function full(shape: Shape, value: number, dtype: DType = 'float32'): Tensor {
  const data = allocate(dtype, sizeOf(shape));
  if (value !== 0) data.fill(value);
  return new Tensor(data, shape);
}

export function zerosLike(t: Tensor): Tensor {
  return full(t.shape, 0, t.dtype);
}

export function onesLike(t: Tensor): Tensor {
  return full(t.shape, 1, t.dtype);
}

export function scalar(value: number, dtype: DType = 'float32'): Tensor {
  return full([], value, dtype);
}

/** Sums a broadcast gradient back down to `shape`. */
export function sumTo(g: Tensor, shape: Shape): Tensor {
  if (sameShape(g.shape, shape)) return g;
  const lead = g.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && g.shape[i] !== 1)) axes.push(i);
  }
  const reduced = axes.length ? prim('reduceSum', [g], { axes, keepdims: true }) : g;
  return reshape(reduced, shape);
}

// ---- elementwise: binary ----

export function add(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'add');
  return withGrad(prim('add', [x, y], NO_ATTRS), 'add', [x, y], (g) => [sumTo(g, x.shape), sumTo(g, y.shape)]);
}

export function sub(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'sub');
  return withGrad(prim('sub', [x, y], NO_ATTRS), 'sub', [x, y], (g) => [sumTo(g, x.shape), sumTo(neg(g), y.shape)]);
}

export function mul(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'mul');
  return withGrad(prim('mul', [x, y], NO_ATTRS), 'mul', [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, y), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, x), y.shape) : null,
  ]);
}

export function div(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'div');
  return withGrad(prim('div', [x, y], NO_ATTRS), 'div', [x, y], (g) => [
    x.requiresGrad ? sumTo(div(g, y), x.shape) : null,
    y.requiresGrad ? sumTo(neg(div(mul(g, x), mul(y, y))), y.shape) : null,
  ]);
}

export function pow(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'pow');
  requireFloat(x, 'pow');
  const out = prim('pow', [x, y], NO_ATTRS);
  return withGrad(out, 'pow', [x, y], (g) => [
    x.requiresGrad ? sumTo(mul(g, mul(y, prim('pow', [x, sub(y, 1)], NO_ATTRS))), x.shape) : null,
    y.requiresGrad ? sumTo(mul(g, mul(out, log(x))), y.shape) : null,
  ]);
}

/** Ties send the gradient to the first operand, as PyTorch's maximum does half/half; one side is enough for SGD. */
export function maximum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'maximum');
  return withGrad(prim('maximum', [x, y], NO_ATTRS), 'maximum', [x, y], (g) => {
    const takeX = ge(x, y);
    return [sumTo(where(takeX, g, 0), x.shape), sumTo(where(takeX, 0, g), y.shape)];
  });
}

export function minimum(a: TensorLike, b: TensorLike): Tensor {
  const [x, y] = pair(a, b, 'minimum');
  return withGrad(prim('minimum', [x, y], NO_ATTRS), 'minimum', [x, y], (g) => {
    const takeX = le(x, y);
    return [sumTo(where(takeX, g, 0), x.shape), sumTo(where(takeX, 0, g), y.shape)];
  });
}

function compare(
  op: 'equal' | 'less' | 'lessEqual' | 'greater' | 'greaterEqual',
  a: TensorLike,
  b: TensorLike,
): Tensor {
  const [x, y] = pair(a, b, op);
  return prim(op, [x, y], NO_ATTRS);
}

export const eq = (a: TensorLike, b: TensorLike): Tensor => compare('equal', a, b);
export const lt = (a: TensorLike, b: TensorLike): Tensor => compare('less', a, b);
export const le = (a: TensorLike, b: TensorLike): Tensor => compare('lessEqual', a, b);
export const gt = (a: TensorLike, b: TensorLike): Tensor => compare('greater', a, b);
export const ge = (a: TensorLike, b: TensorLike): Tensor => compare('greaterEqual', a, b);

export function logicalAnd(a: Tensor, b: Tensor): Tensor {
  return prim('and', [a, b], NO_ATTRS);
}

export function logicalOr(a: Tensor, b: Tensor): Tensor {
  return prim('or', [a, b], NO_ATTRS);
}

export function logicalNot(a: Tensor): Tensor {
  return prim('not', [a], NO_ATTRS);
}

/** where(cond, a, b): a where cond is true, else b; broadcasting all three. */
export function where(cond: Tensor, a: TensorLike, b: TensorLike): Tensor {
  if (cond.dtype !== 'bool') throw new TypeError(`where: the condition must be a bool tensor, got ${cond.dtype}`);
  const [x, y] = pair(a, b, 'where');
  broadcastShapes(cond.shape, broadcastShapes(x.shape, y.shape, 'where'), 'where');
  return withGrad(prim('where', [cond, x, y], NO_ATTRS), 'where', [x, y], (g) => [
    x.requiresGrad ? sumTo(where(cond, g, 0), x.shape) : null,
    y.requiresGrad ? sumTo(where(cond, 0, g), y.shape) : null,
  ]);
}

/** Positions where `mask` is true take `value`. */
export function maskedFill(t: Tensor, mask: Tensor, value: number): Tensor {
  return where(mask, value, t);
}

export function cast(t: Tensor, dtype: DType): Tensor {
  if (t.dtype === dtype) return t;
  const out = prim('cast', [t], { to: dtype });
  // Only float-to-float carries a gradient, and casts to float32 from float32 are the identity above.
  return out;
}

// ---- elementwise: unary ----

function unary(op: PrimitiveOp, t: Tensor, grad: (g: Tensor, out: Tensor) => Tensor): Tensor {
  requireFloat(t, op);
  const out = prim(op, [t], NO_ATTRS);
  return withGrad(out, op, [t], (g) => [grad(g, out)]);
}

export const neg = (t: Tensor): Tensor => {
  const out = prim('neg', [t], NO_ATTRS);
  return withGrad(out, 'neg', [t], (g) => [neg(g)]);
};
export const exp = (t: Tensor): Tensor => unary('exp', t, (g, out) => mul(g, out));
export const log = (t: Tensor): Tensor => unary('log', t, (g) => div(g, t));
export const sqrt = (t: Tensor): Tensor => unary('sqrt', t, (g, out) => div(g, mul(out, 2)));
export const rsqrt = (t: Tensor): Tensor => reciprocal(sqrt(t));
export const reciprocal = (t: Tensor): Tensor => unary('reciprocal', t, (g, out) => neg(mul(g, mul(out, out))));
export const tanh = (t: Tensor): Tensor => unary('tanh', t, (g, out) => mul(g, sub(1, mul(out, out))));
export const sigmoid = (t: Tensor): Tensor => unary('sigmoid', t, (g, out) => mul(g, mul(out, sub(1, out))));
export const relu = (t: Tensor): Tensor => unary('relu', t, (g) => where(gt(t, 0), g, 0));
export const sin = (t: Tensor): Tensor => unary('sin', t, (g) => mul(g, cos(t)));
export const cos = (t: Tensor): Tensor => unary('cos', t, (g) => neg(mul(g, sin(t))));
export const erf = (t: Tensor): Tensor =>
  unary('erf', t, (g) => mul(g, mul(exp(neg(mul(t, t))), 2 / Math.sqrt(Math.PI))));
export const abs = (t: Tensor): Tensor => unary('abs', t, (g) => mul(g, sign(t)));

export function sign(t: Tensor): Tensor {
  return sub(cast(gt(t, 0), t.dtype), cast(lt(t, 0), t.dtype));
}

export function silu(t: Tensor): Tensor {
  return mul(t, sigmoid(t));
}

export function clamp(t: Tensor, min?: number, max?: number): Tensor {
  let out = t;
  if (min !== undefined) out = maximum(out, min);
  if (max !== undefined) out = minimum(out, max);
  return out;
}

// ---- reductions ----

function normalizeAxes(t: Tensor, axes: number | number[] | undefined, op: string): number[] {
  if (axes === undefined) return t.shape.map((_, i) => i);
  const list = (Array.isArray(axes) ? axes : [axes]).map((a) => normalizeAxis(a, t.rank, op));
  return [...new Set(list)].sort((a, b) => a - b);
}

function keptShape(shape: Shape, axes: number[]): number[] {
  return shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function sum(t: Tensor, axes?: number | number[], keepdim = false): Tensor {
  const ax = normalizeAxes(t, axes, 'sum');
  if (t.rank === 0) return t;
  const out = prim('reduceSum', [t], { axes: ax, keepdims: keepdim });
  return withGrad(out, 'sum', [t], (g) => [expand(reshape(g, keptShape(t.shape, ax)), t.shape)]);
}

export function mean(t: Tensor, axes?: number | number[], keepdim = false): Tensor {
  requireFloat(t, 'mean');
  const ax = normalizeAxes(t, axes, 'mean');
  const count = ax.reduce((n, a) => n * t.shape[a]!, 1);
  return div(sum(t, ax, keepdim), count);
}

function extreme(
  op: 'reduceMax' | 'reduceMin',
  t: Tensor,
  axes: number | number[] | undefined,
  keepdim: boolean,
): Tensor {
  const ax = normalizeAxes(t, axes, op === 'reduceMax' ? 'max' : 'min');
  if (t.size === 0) throw new RangeError(`${op === 'reduceMax' ? 'max' : 'min'}: cannot reduce an empty tensor`);
  const out = prim(op, [t], { axes: ax, keepdims: keepdim });
  return withGrad(out, op, [t], (g) => {
    // Ties share the gradient evenly (as torch.amax).
    const kept = keptShape(t.shape, ax);
    const hit = cast(eq(t, reshape(out, kept)), 'float32');
    const count = sum(hit, ax, true);
    return [div(mul(hit, reshape(g, kept)), count)];
  });
}

export const max = (t: Tensor, axes?: number | number[], keepdim = false): Tensor =>
  extreme('reduceMax', t, axes, keepdim);
export const min = (t: Tensor, axes?: number | number[], keepdim = false): Tensor =>
  extreme('reduceMin', t, axes, keepdim);

/** Variance with Bessel's `correction` (1: unbiased, as torch.var; 0: population). */
export function variance(t: Tensor, axes?: number | number[], keepdim = false, correction = 1): Tensor {
  const ax = normalizeAxes(t, axes, 'var');
  const count = ax.reduce((n, a) => n * t.shape[a]!, 1);
  const centered = sub(t, mean(t, ax, true));
  return div(sum(mul(centered, centered), ax, keepdim), Math.max(count - correction, 0));
}

export function argmax(t: Tensor, axis = -1, keepdim = false): Tensor {
  return prim('argMax', [t], { axis: normalizeAxis(axis, t.rank, 'argmax'), keepdims: keepdim });
}

// ---- linear algebra, softmax ----

/** Batched matrix product with broadcasting of leading dims (numpy.matmul); operands of rank >= 2. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  requireFloat(a, 'matmul');
  requireFloat(b, 'matmul');
  if (a.rank < 2 || b.rank < 2) {
    throw new RangeError(`matmul: operands need rank >= 2, got ${shapeString(a.shape)} and ${shapeString(b.shape)}`);
  }
  if (a.shape[a.rank - 1] !== b.shape[b.rank - 2]) {
    throw new RangeError(`matmul: inner dimensions differ: ${shapeString(a.shape)} @ ${shapeString(b.shape)}`);
  }
  broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), 'matmul');
  if (a.rank > 2 && b.rank === 2) {
    // (…, M, K) @ (K, N) is one (…·M, K) @ (K, N) product: one GEMM, and b's gradient is one GEMM too instead of
    // a batched product summed over the batch.
    const k = a.shape[a.rank - 1]!;
    return reshape(matmul(reshape(a, [-1, k]), b), [...a.shape.slice(0, -1), b.shape[1]!]);
  }
  return withGrad(prim('matmul', [a, b], NO_ATTRS), 'matmul', [a, b], (g) => [
    a.requiresGrad ? sumTo(matmul(g, transpose(b, -1, -2)), a.shape) : null,
    b.requiresGrad ? sumTo(matmul(transpose(a, -1, -2), g), b.shape) : null,
  ]);
}

export function softmax(t: Tensor, axis = -1): Tensor {
  requireFloat(t, 'softmax');
  const ax = normalizeAxis(axis, t.rank, 'softmax');
  const out = prim('softmax', [t], { axis: ax });
  return withGrad(out, 'softmax', [t], (g) => [mul(out, sub(g, sum(mul(g, out), ax, true)))]);
}

export function logSoftmax(t: Tensor, axis = -1): Tensor {
  requireFloat(t, 'logSoftmax');
  const ax = normalizeAxis(axis, t.rank, 'logSoftmax');
  const out = prim('logSoftmax', [t], { axis: ax });
  return withGrad(out, 'logSoftmax', [t], (g) => [sub(g, mul(exp(out), sum(g, ax, true)))]);
}

// ---- shape and movement ----

/** Metadata only: shares the buffer. One dim may be -1. */
export function reshape(t: Tensor, shape: readonly number[]): Tensor {
  const inferred = shape.indexOf(-1);
  let target = [...shape];
  if (inferred >= 0) {
    const known = shape.reduce((n, d, i) => (i === inferred ? n : n * d), 1);
    target[inferred] = known === 0 ? 0 : t.size / known;
  }
  if (sizeOf(target) !== t.size || target.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new RangeError(`reshape: cannot reshape ${shapeString(t.shape)} (${t.size} values) to ${shapeString(shape)}`);
  }
  if (sameShape(target, t.shape)) return t;
  target = target.map(Number);
  const out = new Tensor(t.storage, target);
  return withGrad(out, 'reshape', [t], (g) => [reshape(g, t.shape)]);
}

export function flatten(t: Tensor, startAxis = 0, endAxis = -1): Tensor {
  if (t.rank === 0) return reshape(t, [1]);
  const s = normalizeAxis(startAxis, t.rank, 'flatten');
  const e = normalizeAxis(endAxis, t.rank, 'flatten');
  const merged = t.shape.slice(s, e + 1).reduce((n, d) => n * d, 1);
  return reshape(t, [...t.shape.slice(0, s), merged, ...t.shape.slice(e + 1)]);
}

export function unsqueeze(t: Tensor, axis: number): Tensor {
  const a = normalizeAxis(axis, t.rank + 1, 'unsqueeze');
  return reshape(t, [...t.shape.slice(0, a), 1, ...t.shape.slice(a)]);
}

export function squeeze(t: Tensor, axis?: number): Tensor {
  if (axis === undefined)
    return reshape(
      t,
      t.shape.filter((d) => d !== 1),
    );
  const a = normalizeAxis(axis, t.rank, 'squeeze');
  if (t.shape[a] !== 1)
    throw new RangeError(`squeeze: axis ${axis} of ${shapeString(t.shape)} has size ${t.shape[a]}, not 1`);
  return reshape(
    t,
    t.shape.filter((_, i) => i !== a),
  );
}

export function permute(t: Tensor, perm: readonly number[]): Tensor {
  const p = perm.map((a) => normalizeAxis(a, t.rank, 'permute'));
  if (p.length !== t.rank || new Set(p).size !== p.length) {
    throw new RangeError(
      `permute: [${perm.join(', ')}] is not a permutation of the ${t.rank} axes of ${shapeString(t.shape)}`,
    );
  }
  if (p.every((a, i) => a === i)) return t;
  const inverse = new Array<number>(p.length);
  p.forEach((a, i) => (inverse[a] = i));
  return withGrad(prim('transpose', [t], { perm: p }), 'permute', [t], (g) => [permute(g, inverse)]);
}

export function transpose(t: Tensor, axis0 = -2, axis1 = -1): Tensor {
  const a = normalizeAxis(axis0, t.rank, 'transpose');
  const b = normalizeAxis(axis1, t.rank, 'transpose');
  const perm = t.shape.map((_, i) => i);
  perm[a] = b;
  perm[b] = a;
  return permute(t, perm);
}

/** numpy.broadcast_to; -1 keeps a dim. */
export function expand(t: Tensor, shape: readonly number[]): Tensor {
  const lead = shape.length - t.rank;
  const target = shape.map((d, i) => (d === -1 ? t.shape[i - lead]! : d));
  if (lead < 0 || !sameShape(broadcastShapes(t.shape, target, 'expand'), target)) {
    throw new RangeError(`expand: cannot expand ${shapeString(t.shape)} to ${shapeString(shape)}`);
  }
  if (sameShape(target, t.shape)) return t;
  return withGrad(prim('expand', [t], { shape: target }), 'expand', [t], (g) => [sumTo(g, t.shape)]);
}

/** Python-style slice of one axis: start/end may be negative or out of range; step > 0. */
export function slice(t: Tensor, axis: number, start: number, end?: number, step = 1): Tensor {
  const a = normalizeAxis(axis, t.rank, 'slice');
  if (!Number.isInteger(step) || step <= 0)
    throw new RangeError(`slice: step must be a positive whole number, got ${step}`);
  const n = t.shape[a]!;
  const clampIndex = (i: number): number => Math.min(Math.max(i < 0 ? i + n : i, 0), n);
  const s = clampIndex(start);
  const e = Math.max(clampIndex(end ?? n), s);
  if (s === 0 && e === n && step === 1) return t;
  const starts = t.shape.map(() => 0);
  // Untouched axes end "past the end" (clamped by the kernel), so the op's attributes, and the onnx session
  // cached for them, do not depend on the other axes' sizes.
  const ends = t.shape.map(() => 2 ** 31 - 1);
  const steps = t.shape.map(() => 1);
  starts[a] = s;
  ends[a] = e;
  steps[a] = step;
  const out = prim('slice', [t], { starts, ends, steps });
  return withGrad(out, 'slice', [t], (g) => {
    if (step === 1) {
      // Zero-pad the gradient back to the input's extent: a copy, where a scatter would index every element.
      const pads = t.shape.map(() => 0).concat(t.shape.map(() => 0));
      pads[a] = s;
      pads[a + t.rank] = n - e;
      return [prim('pad', [g], { pads, value: 0 })];
    }
    const len = out.shape[a]!;
    const index = new Int32Array(len);
    for (let i = 0; i < len; i++) index[i] = s + i * step;
    return [indexAdd(zerosLike(t), a, new Tensor(index, [len]), g)];
  });
}

export function concat(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new RangeError('concat: needs at least one tensor');
  const first = tensors[0]!;
  const a = normalizeAxis(axis, first.rank, 'concat');
  for (const t of tensors) {
    if (t.rank !== first.rank || t.shape.some((d, i) => i !== a && d !== first.shape[i]) || t.dtype !== first.dtype) {
      throw new RangeError(
        `concat: ${t.dtype} ${shapeString(t.shape)} does not match ${first.dtype} ${shapeString(first.shape)} except on axis ${a}`,
      );
    }
  }
  if (tensors.length === 1) return first;
  const out = prim('concat', [...tensors], { axis: a });
  return withGrad(out, 'concat', [...tensors], (g) => {
    let offset = 0;
    return tensors.map((t) => {
      const part = slice(g, a, offset, offset + t.shape[a]!);
      offset += t.shape[a]!;
      return part;
    });
  });
}

export function stack(tensors: readonly Tensor[], axis = 0): Tensor {
  if (tensors.length === 0) throw new RangeError('stack: needs at least one tensor');
  const a = normalizeAxis(axis, tensors[0]!.rank + 1, 'stack');
  return concat(
    tensors.map((t) => unsqueeze(t, a)),
    a,
  );
}

function requireIndices(indices: Tensor, op: string): void {
  if (indices.dtype !== 'int32') throw new TypeError(`${op}: indices must be int32, got ${indices.dtype}`);
}

/**
 * numpy.take along `axis`: the result has `indices`' shape in place of that axis. With axis 0 on a (V, C) table
 * this is an embedding lookup. Indices are range-checked here so a bad token id never reaches a kernel.
 */
export function indexSelect(t: Tensor, indices: Tensor, axis = 0): Tensor {
  requireIndices(indices, 'gather');
  const a = normalizeAxis(axis, t.rank, 'gather');
  const n = t.shape[a]!;
  // A check, not a value the result depends on: a captured graph stays valid for other indices.
  const idx = untraced(() => indices.data);
  for (let i = 0; i < idx.length; i++) {
    const v = idx[i]!;
    if (v < -n || v >= n) throw new RangeError(`gather: index ${v} is out of range for axis ${a} of size ${n}`);
  }
  const out = prim('gather', [t, indices], { axis: a });
  return withGrad(out, 'gather', [t], (g) => {
    const flat = reshape(indices, [indices.size]);
    const g2 = reshape(g, [...t.shape.slice(0, a), indices.size, ...t.shape.slice(a + 1)]);
    return [indexAdd(zerosLike(t), a, flat, g2)];
  });
}

/** t with `source` slices added at `indices` (1-D) along `axis`; repeated indices accumulate. */
export function indexAdd(t: Tensor, axis: number, indices: Tensor, source: Tensor): Tensor {
  const a = normalizeAxis(axis, t.rank, 'indexAdd');
  const shape = [...t.shape];
  shape[a] = indices.size;
  const expandedShape = shape.map((_, i) => (i === a ? indices.size : 1));
  const fullIndices = expand(reshape(indices, expandedShape), shape);
  return scatterAdd(t, a, fullIndices, source);
}

/** torch.gather: out[i][j] = t[i][indices[i][j]] along `axis`. */
export function gatherElements(t: Tensor, indices: Tensor, axis: number): Tensor {
  requireIndices(indices, 'gatherElements');
  const a = normalizeAxis(axis, t.rank, 'gatherElements');
  const out = prim('gatherElements', [t, indices], { axis: a });
  return withGrad(out, 'gatherElements', [t], (g) => [scatterAdd(zerosLike(t), a, indices, g)]);
}

/** torch.scatter_add: t with `updates` added at `indices` along `axis` (indices and updates share a shape). */
export function scatterAdd(t: Tensor, axis: number, indices: Tensor, updates: Tensor): Tensor {
  requireIndices(indices, 'scatterAdd');
  const a = normalizeAxis(axis, t.rank, 'scatterAdd');
  if (!sameShape(indices.shape, updates.shape)) {
    throw new RangeError(
      `scatterAdd: indices ${shapeString(indices.shape)} and updates ${shapeString(updates.shape)} must have the same shape`,
    );
  }
  const out = prim('scatterAdd', [t, indices, updates], { axis: a });
  return withGrad(out, 'scatterAdd', [t, updates], (g) => [
    g,
    updates.requiresGrad ? gatherElements(g, indices, a) : null,
  ]);
}

function trilu(t: Tensor, upper: boolean, k: number): Tensor {
  if (t.rank < 2) throw new RangeError(`${upper ? 'triu' : 'tril'}: needs rank >= 2, got ${shapeString(t.shape)}`);
  const out = prim('trilu', [t], { upper, k });
  return withGrad(out, upper ? 'triu' : 'tril', [t], (g) => [trilu(g, upper, k)]);
}

export const triu = (t: Tensor, k = 0): Tensor => trilu(t, true, k);
export const tril = (t: Tensor, k = 0): Tensor => trilu(t, false, k);

/** Inclusive cumulative sum (no gradient: used by samplers). */
export function cumsum(t: Tensor, axis = -1): Tensor {
  return noGrad(() => prim('cumsum', [t], { axis: normalizeAxis(axis, t.rank, 'cumsum') }));
}

// ---- fused layers: one kernel forward, gradients composed from the ops above ----

/**
 * x @ weightᵀ + bias for weight (out, in), through Gemm: the weight is read transposed in place instead of being
 * copied transposed on every call, and the bias add is fused.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  requireFloat(x, 'linear');
  const [outFeatures, inFeatures] = weight.shape as [number, number];
  if (weight.rank !== 2 || x.shape[x.rank - 1] !== inFeatures) {
    throw new RangeError(
      `linear: input ${shapeString(x.shape)} does not match weight ${shapeString(weight.shape)} (expected (…, ${inFeatures}))`,
    );
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new RangeError(`linear: bias ${shapeString(bias.shape)} does not match ${outFeatures} output features`);
  }
  const x2 = reshape(x, [-1, inFeatures]); // (N, in)
  const inputs = bias ? [x2, weight, bias] : [x2, weight];
  const y2 = prim('gemm', inputs, { transA: false, transB: true }); // (N, out)
  const y = withGrad(y2, 'linear', inputs, (g) => [
    x2.requiresGrad ? prim('gemm', [g, weight], { transA: false, transB: false }) : null,
    weight.requiresGrad ? prim('gemm', [g, x2], { transA: true, transB: false }) : null,
    bias?.requiresGrad ? prim('reduceSum', [g], { axes: [0], keepdims: false }) : null,
  ]);
  return reshape(y, [...x.shape.slice(0, -1), outFeatures]);
}

/** Layer normalization over the last axis with scale and bias (population variance, as torch). */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps: number): Tensor {
  requireFloat(x, 'layerNorm');
  const out = prim('layerNorm', [x, weight, bias], { epsilon: eps });
  return withGrad(out, 'layerNorm', [x, weight, bias], (g) => {
    const centered = sub(x, mean(x, -1, true));
    const inv = rsqrt(add(mean(mul(centered, centered), -1, true), eps));
    const normalized = mul(centered, inv); // x̂
    const gw = mul(g, weight);
    const dx = x.requiresGrad
      ? mul(inv, sub(sub(gw, mean(gw, -1, true)), mul(normalized, mean(mul(gw, normalized), -1, true))))
      : null;
    return [
      dx,
      weight.requiresGrad ? sumTo(mul(g, normalized), weight.shape) : null,
      bias.requiresGrad ? sumTo(g, bias.shape) : null,
    ];
  });
}

/** GELU: exact (erf) or the tanh approximation of GPT-2's `gelu_new`. */
export function gelu(t: Tensor, approximate: 'none' | 'tanh' = 'none'): Tensor {
  requireFloat(t, 'gelu');
  const out = prim('gelu', [t], { approximate });
  return withGrad(out, 'gelu', [t], (g) => {
    if (approximate === 'none') {
      // Φ(x) + x·φ(x)
      const cdf = mul(add(erf(mul(t, Math.SQRT1_2)), 1), 0.5);
      const pdf = mul(exp(mul(mul(t, t), -0.5)), 1 / Math.sqrt(2 * Math.PI));
      return [mul(g, add(cdf, mul(t, pdf)))];
    }
    const k = Math.sqrt(2 / Math.PI);
    const th = tanh(mul(add(t, mul(pow(t, 3), 0.044715)), k));
    const dInner = mul(add(mul(mul(t, t), 3 * 0.044715), 1), k);
    const d = add(mul(add(th, 1), 0.5), mul(mul(mul(t, 0.5), sub(1, mul(th, th))), dInner));
    return [mul(g, d)];
  });
}

/**
 * x (…, K) times a quantized weight (N, K), transposed, plus bias: see backends/reference/quantized.ts for the
 * schemes. Inference only: quantized codes have no gradient, and backpropagating into x is refused rather than
 * silently treating the layer as constant.
 */
export function quantizedMatmul(
  x: Tensor,
  codes: Tensor,
  scale: Tensor,
  bias: Tensor | null,
  attrs: PrimitiveAttrs['quantizedMatmul'],
): Tensor {
  requireFloat(x, 'quantizedMatmul');
  if (x.requiresGrad && isGradEnabled()) {
    throw new TypeError(
      'quantizedMatmul: quantized layers are inference-only; run under noGrad() or train the float model',
    );
  }
  return prim('quantizedMatmul', bias ? [x, codes, scale, bias] : [x, codes, scale], attrs);
}
