import { allocate, dtypeOf, type DType, type TypedArray } from './dtype.js';
import { forgetWidened, isHalfStorage, widenHalf, widenHalfBits, type HalfStorage } from './half.js';
import { activeTracer, isGradEnabled, noGrad, track } from './engine.js';
import { shapeString, sizeOf, type Shape } from './shape.js';
import * as ops from './ops.js';

/** How a non-leaf tensor was made: its inputs and the vector–Jacobian product back to them. */
export interface GradNode {
  readonly op: string;
  readonly inputs: readonly Tensor[];
  /** Gradient of the loss w.r.t. each input, given the gradient w.r.t. the output (null: no gradient). */
  readonly backward: (grad: Tensor) => Array<Tensor | null>;
}

export type Scalar = number;
export type TensorLike = Tensor | Scalar;
export type NestedArray = number | boolean | NestedArray[];

/**
 * An n-dimensional array, stored contiguous and row-major on the CPU, immutable except through the optimizers'
 * in-place parameter updates. Ops are methods (and functions in `ops.ts`); each records how to differentiate it
 * when any input requires a gradient.
 */
export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  private _data: TypedArray;
  /** Set when the float32 values are kept as F16/BF16 bits (weights loaded from a half checkpoint). */
  private _half: HalfStorage | null = null;
  requiresGrad = false;
  grad: Tensor | null = null;
  gradNode: GradNode | null = null;
  private disposed = false;
  /** Why a released weight has no values here (see `release`); null for a plainly disposed tensor. */
  private releasedBecause: string | null = null;

  /** `data` is the values, or half-precision bits for a float32 tensor stored in half (see tensor/half.ts). */
  constructor(data: TypedArray | HalfStorage, shape: Shape) {
    const length = isHalfStorage(data) ? data.bits.length : data.length;
    if (length !== sizeOf(shape)) {
      throw new RangeError(`Tensor: ${length} values do not fill shape ${shapeString(shape)}`);
    }
    if (isHalfStorage(data)) {
      this._half = data;
      this._data = EMPTY.float32;
      this.dtype = 'float32';
    } else {
      this._data = data;
      this.dtype = dtypeOf(data);
    }
    this.shape = Object.freeze([...shape]);
    track(this);
  }

  /** Creates a tensor from flat values; `shape` defaults to 1-D. */
  static from(values: TypedArray | ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
    const n = values.length;
    const data = allocate(dtype, n);
    for (let i = 0; i < n; i++) data[i] = values[i]!;
    return new Tensor(data, shape ?? [n]);
  }

  /** The values. A tensor stored in half precision widens them to float32 here (shared, read-only: do not write). */
  get data(): TypedArray {
    if (this.disposed) throw this.disposedError();
    // A graph capture in progress sees JavaScript read values (see engine.ts `OpTracer`).
    if (activeTracer) activeTracer.hostRead(this);
    return this._half === null ? this._data : widenHalf(this._half);
  }

  /** The float32 (or int32, bool) buffer without reading values: for ops that share it (reshape) and kernels. */
  get storage(): TypedArray {
    if (this.disposed) throw this.disposedError();
    return this._half === null ? this._data : widenHalf(this._half);
  }

  /**
   * Overwrites this tensor's values with `source`'s, in place, so every tensor sharing the buffer (tied weights,
   * reshaped views) sees them: how optimizers update parameters. A graph capture records it as a new value.
   */
  assign(source: Tensor): this {
    if (source.dtype !== this.dtype || source.size !== this.size) {
      throw new RangeError(
        `assign: ${source.dtype} ${shapeString(source.shape)} does not fit ${this.dtype} ${shapeString(this.shape)}`,
      );
    }
    this.widenToFloat32();
    if (source.storage !== this._data) this._data.set(source.storage);
    activeTracer?.assigned(this, source);
    return this;
  }

  /**
   * The F16/BF16 bits of a float32 tensor kept in half precision, else null: what a compiled graph feeds as a
   * float16/bfloat16 input (with a Cast to float32 inside) instead of widening in JS.
   */
  get halfStorage(): HalfStorage | null {
    return this._half;
  }

  get size(): number {
    return this._half?.bits.length ?? this._data.length;
  }

  /**
   * Swaps in new values of the same size and dtype, keeping this object (so tied weights stay tied): a checkpoint
   * loader adopts the buffer it read, or half bits, without another copy.
   */
  replaceStorage(data: TypedArray | HalfStorage): void {
    const half = isHalfStorage(data) ? data : null;
    const length = half?.bits.length ?? (data as TypedArray).length;
    const dtype = half ? 'float32' : dtypeOf(data as TypedArray);
    if (length !== this.size || dtype !== this.dtype) {
      throw new TypeError(
        `replaceStorage: a ${this.dtype} ${shapeString(this.shape)} tensor cannot take ${length} ${dtype} values`,
      );
    }
    if (this._half) forgetWidened(this._half);
    this._half = half;
    this._data = half ? EMPTY.float32 : (data as TypedArray);
  }

  /** Keeps the values as float32 from now on (before in-place updates, which half storage cannot take). */
  widenToFloat32(): void {
    if (this._half === null) return;
    forgetWidened(this._half);
    this._data = widenHalfBits(this._half);
    this._half = null;
  }

  get rank(): number {
    return this.shape.length;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Frees the data and the autograd graph behind this tensor (parameters are never disposed by `tidy`). */
  dispose(): void {
    this.disposed = true;
    this.releasedBecause = null;
    if (this._half) forgetWidened(this._half);
    this._half = null;
    this._data = EMPTY[this.dtype];
    this.gradNode = null;
    this.grad = null;
  }

  /**
   * Frees the values of a weight that lives elsewhere (in its checkpoint file, read by a compiled session): any
   * later read throws an error saying `why`, instead of computing on nothing, until `restore` gives them back.
   */
  release(why: string): void {
    this.dispose();
    this.releasedBecause = why;
  }

  /** Gives a released (or disposed) tensor values again, e.g. read back from its checkpoint. */
  restore(data: TypedArray | HalfStorage): void {
    const half = isHalfStorage(data) ? data : null;
    const length = half?.bits.length ?? (data as TypedArray).length;
    if (length !== sizeOf(this.shape) || (half === null && dtypeOf(data as TypedArray) !== this.dtype)) {
      throw new TypeError(`restore: a ${this.dtype} ${shapeString(this.shape)} tensor cannot take ${length} values`);
    }
    this.disposed = false;
    this.releasedBecause = null;
    this._half = half;
    this._data = half ? EMPTY.float32 : (data as TypedArray);
  }

  private disposedError(): Error {
    return new Error(`Tensor ${shapeString(this.shape)} ${this.releasedBecause ?? 'was disposed and cannot be read'}`);
  }

  /** Marks this tensor as a leaf that collects `.grad` in `backward()`. */
  requireGrad(flag = true): this {
    if (flag && this.dtype !== 'float32')
      throw new TypeError(`requireGrad: only float32 tensors have gradients, got ${this.dtype}`);
    this.requiresGrad = flag;
    return this;
  }

  /** The same values, cut from the autograd graph. */
  detach(): Tensor {
    return new Tensor(this.storage, this.shape);
  }

  /** A copy with its own buffer (for in-place updates that must not touch the original). */
  clone(): Tensor {
    return new Tensor(this.data.slice(), this.shape);
  }

  item(): number {
    if (this.size !== 1)
      throw new RangeError(`item: expected a tensor with one value, got shape ${shapeString(this.shape)}`);
    return this.data[0]!;
  }

  /** Nested JS arrays (bool tensors give booleans). */
  toArray(): NestedArray {
    const data = this.data;
    const asValue = this.dtype === 'bool' ? (v: number) => v !== 0 : (v: number) => v;
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return asValue(data[offset]!);
      const stride = sizeOf(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim]! }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${shapeString(this.shape)})`;
  }

  /**
   * Reverse-mode autodiff from this tensor (a scalar unless `grad` is given): accumulates `.grad` on every leaf
   * that requires it, then frees the graph, as PyTorch does without `retain_graph`.
   */
  backward(grad?: Tensor): void {
    if (!this.requiresGrad)
      throw new Error('backward: this tensor does not require grad (no input of it requires grad)');
    if (!grad && this.size !== 1) {
      throw new RangeError(
        `backward: a gradient is needed for a non-scalar output of shape ${shapeString(this.shape)}`,
      );
    }
    noGrad(() => {
      const order = topologicalOrder(this);
      const grads = new Map<Tensor, Tensor>();
      grads.set(this, grad ?? ops.onesLike(this));
      for (const t of order) {
        const g = grads.get(t);
        if (!g) continue;
        const node = t.gradNode;
        if (!node) {
          t.grad = t.grad ? ops.add(t.grad, g) : g;
          continue;
        }
        const inputGrads = node.backward(g);
        node.inputs.forEach((input, i) => {
          const gi = inputGrads[i];
          if (!gi || !input.requiresGrad) return;
          const previous = grads.get(input);
          grads.set(input, previous ? ops.add(previous, gi) : gi);
        });
        grads.delete(t);
        t.gradNode = null;
      }
    });
  }

  // ---- elementwise ----
  add(other: TensorLike): Tensor {
    return ops.add(this, other);
  }
  sub(other: TensorLike): Tensor {
    return ops.sub(this, other);
  }
  mul(other: TensorLike): Tensor {
    return ops.mul(this, other);
  }
  div(other: TensorLike): Tensor {
    return ops.div(this, other);
  }
  pow(exponent: TensorLike): Tensor {
    return ops.pow(this, exponent);
  }
  maximum(other: TensorLike): Tensor {
    return ops.maximum(this, other);
  }
  minimum(other: TensorLike): Tensor {
    return ops.minimum(this, other);
  }
  neg(): Tensor {
    return ops.neg(this);
  }
  abs(): Tensor {
    return ops.abs(this);
  }
  exp(): Tensor {
    return ops.exp(this);
  }
  log(): Tensor {
    return ops.log(this);
  }
  sqrt(): Tensor {
    return ops.sqrt(this);
  }
  rsqrt(): Tensor {
    return ops.rsqrt(this);
  }
  tanh(): Tensor {
    return ops.tanh(this);
  }
  sigmoid(): Tensor {
    return ops.sigmoid(this);
  }
  relu(): Tensor {
    return ops.relu(this);
  }
  gelu(approximate: 'none' | 'tanh' = 'none'): Tensor {
    return ops.gelu(this, approximate);
  }
  silu(): Tensor {
    return ops.silu(this);
  }
  sin(): Tensor {
    return ops.sin(this);
  }
  cos(): Tensor {
    return ops.cos(this);
  }
  clamp(min?: number, max?: number): Tensor {
    return ops.clamp(this, min, max);
  }
  eq(other: TensorLike): Tensor {
    return ops.eq(this, other);
  }
  lt(other: TensorLike): Tensor {
    return ops.lt(this, other);
  }
  le(other: TensorLike): Tensor {
    return ops.le(this, other);
  }
  gt(other: TensorLike): Tensor {
    return ops.gt(this, other);
  }
  ge(other: TensorLike): Tensor {
    return ops.ge(this, other);
  }
  cast(dtype: DType): Tensor {
    return ops.cast(this, dtype);
  }
  maskedFill(mask: Tensor, value: number): Tensor {
    return ops.maskedFill(this, mask, value);
  }

  // ---- reductions ----
  sum(axes?: number | number[], keepdim = false): Tensor {
    return ops.sum(this, axes, keepdim);
  }
  mean(axes?: number | number[], keepdim = false): Tensor {
    return ops.mean(this, axes, keepdim);
  }
  max(axes?: number | number[], keepdim = false): Tensor {
    return ops.max(this, axes, keepdim);
  }
  min(axes?: number | number[], keepdim = false): Tensor {
    return ops.min(this, axes, keepdim);
  }
  var(axes?: number | number[], keepdim = false, correction = 1): Tensor {
    return ops.variance(this, axes, keepdim, correction);
  }
  argmax(axis = -1, keepdim = false): Tensor {
    return ops.argmax(this, axis, keepdim);
  }

  // ---- linear algebra and normalization ----
  matmul(other: Tensor): Tensor {
    return ops.matmul(this, other);
  }
  softmax(axis = -1): Tensor {
    return ops.softmax(this, axis);
  }
  logSoftmax(axis = -1): Tensor {
    return ops.logSoftmax(this, axis);
  }

  // ---- shape ----
  reshape(shape: readonly number[]): Tensor {
    return ops.reshape(this, shape);
  }
  view(...shape: number[]): Tensor {
    return ops.reshape(this, shape);
  }
  flatten(startAxis = 0, endAxis = -1): Tensor {
    return ops.flatten(this, startAxis, endAxis);
  }
  unsqueeze(axis: number): Tensor {
    return ops.unsqueeze(this, axis);
  }
  squeeze(axis?: number): Tensor {
    return ops.squeeze(this, axis);
  }
  transpose(axis0 = -2, axis1 = -1): Tensor {
    return ops.transpose(this, axis0, axis1);
  }
  permute(...perm: number[]): Tensor {
    return ops.permute(this, perm);
  }
  expand(shape: readonly number[]): Tensor {
    return ops.expand(this, shape);
  }
  slice(axis: number, start: number, end?: number, step = 1): Tensor {
    return ops.slice(this, axis, start, end, step);
  }
  gather(indices: Tensor, axis = 0): Tensor {
    return ops.indexSelect(this, indices, axis);
  }
  gatherElements(indices: Tensor, axis: number): Tensor {
    return ops.gatherElements(this, indices, axis);
  }
  triu(k = 0): Tensor {
    return ops.triu(this, k);
  }
  tril(k = 0): Tensor {
    return ops.tril(this, k);
  }
}

const EMPTY: Record<DType, TypedArray> = {
  float32: new Float32Array(0),
  int32: new Int32Array(0),
  bool: new Uint8Array(0),
};

/** Outputs before inputs, so each gradient is complete before it flows further. */
function topologicalOrder(root: Tensor): Tensor[] {
  const visited = new Set<Tensor>();
  const postorder: Tensor[] = [];
  // Iterative DFS: deep models would overflow the call stack with recursion.
  const stack: Array<[Tensor, number]> = [[root, 0]];
  visited.add(root);
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [t, i] = top;
    const inputs = t.gradNode?.inputs ?? [];
    if (i < inputs.length) {
      top[1]++;
      const next = inputs[i]!;
      if (next.requiresGrad && !visited.has(next)) {
        visited.add(next);
        stack.push([next, 0]);
      }
    } else {
      stack.pop();
      postorder.push(t);
    }
  }
  return postorder.reverse();
}

/** Attaches a grad node when recording and any input requires a gradient. Used by every differentiable op. */
export function withGrad(out: Tensor, op: string, inputs: Tensor[], backward: GradNode['backward']): Tensor {
  if (isGradEnabled() && inputs.some((t) => t.requiresGrad)) {
    out.requiresGrad = true;
    out.gradNode = { op, inputs, backward };
  }
  return out;
}
