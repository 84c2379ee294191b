import { createRequire } from 'node:module';
import { dtypeOf, type DType, type TypedArray } from '../../tensor/dtype.js';
import type { Backend, KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backend.js';
import { referenceBackend } from '../reference/index.js';
import { graphFor, runtimeOperands } from './lowering.js';
import { encodeModel } from './protobuf.js';

/**
 * The onnx backend: each primitive is a one-op ONNX model run by onnxruntime-node. Sessions are cached by op
 * signature (op, attributes, input dtypes and ranks; dims are symbolic), so after the first call an op costs one
 * native run. We call the native binding synchronously: onnxruntime-node's public `run` only wraps that same
 * synchronous call in a promise, and an eager autograd engine cannot await every op.
 */

interface NativeTensor {
  type: string;
  dims: readonly number[];
  data: TypedArray;
}

export interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}

interface NativeBinding {
  InferenceSession: new () => NativeSession;
}

type OrtTensorCtor = new (
  type: string,
  data: TypedArray | Uint16Array | BigInt64Array,
  dims: readonly number[],
) => unknown;

const ORT_TYPE: Record<DType, string> = { float32: 'float32', int32: 'int32', bool: 'bool' };

/**
 * Below this many values in and out, a native run (about 10 µs of fixed cost) is slower than the TypeScript
 * kernel, whose results the test suite holds equal; decoding one token of a small model is mostly such ops.
 */
const TINY_VALUES = 2048;
const TINY_MATMUL_MACS = 8192;

function isTiny(op: PrimitiveOp, inputs: KernelTensor[]): boolean {
  let values = 0;
  for (const x of inputs) values += x.data.length;
  if (values > TINY_VALUES) return false;
  if (op === 'matmul' || op === 'gemm') {
    const [a, b] = inputs as [KernelTensor, KernelTensor];
    const rows = a.data.length / a.shape[a.shape.length - 1]!;
    return rows * b.data.length <= TINY_MATMUL_MACS;
  }
  // Outputs can be far larger than inputs for these.
  return op !== 'expand' && op !== 'pad';
}

let native: { binding: NativeBinding; OrtTensor: OrtTensorCtor } | undefined;

/** Loads onnxruntime-node's native binding; throws if it cannot load on this machine. */
export function loadNative(): { binding: NativeBinding; OrtTensor: OrtTensorCtor } {
  if (!native) {
    const require = createRequire(import.meta.url);
    const bindingModule = require('onnxruntime-node/dist/binding.js') as { binding: NativeBinding; initOrt(): void };
    bindingModule.initOrt();
    const common = require('onnxruntime-common') as { Tensor: OrtTensorCtor };
    native = { binding: bindingModule.binding, OrtTensor: common.Tensor };
  }
  return native;
}

/**
 * Session options for attn's sessions. Every session owns a thread pool; spinning pools would fight each other and
 * the JS thread for the cores between runs. Denormals flush to zero: as training shrinks values, exp/softmax
 * gradients hit subnormal floats, whose slow path made late training steps several times slower than early ones.
 */
export function sessionOptions(threads: number, optimization: 'basic' | 'extended' | 'all'): object {
  // ATTN_ORT_PROFILE=<prefix>: onnxruntime writes a JSON trace of every node per session (for finding hot spots).
  const profile = process.env.ATTN_ORT_PROFILE;
  return {
    ...(profile ? { enableProfiling: true, profileFilePrefix: profile } : {}),
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: optimization,
    extra: { session: { intra_op: { allow_spinning: '0' }, set_denormal_as_zero: '1' } },
  };
}

export class OnnxBackend implements Backend {
  readonly name = 'onnx' as const;
  private readonly sessions = new Map<string, NativeSession>();
  private threads: number;
  /** Run tiny ops with the TypeScript kernels (see TINY_VALUES); tests switch it off to check the native kernels. */
  tinyOpsInTypeScript = true;

  constructor(threads = 0) {
    loadNative();
    this.threads = threads;
  }

  /** 0 lets onnxruntime pick (one per core). Cached sessions are rebuilt with the new count. */
  setNumThreads(n: number): void {
    if (n === this.threads) return;
    this.threads = n;
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }

  /** Intra-op threads sessions get (0: one per core). */
  get numThreads(): number {
    return this.threads;
  }

  get cachedSessions(): number {
    return this.sessions.size;
  }

  private session<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): NativeSession {
    const types = inputs.map((x) => dtypeOf(x.data));
    const ranks = inputs.map((x) => x.shape.length);
    let key = op + '|';
    const operands = runtimeOperands(op, attrs);
    for (const name in attrs) {
      const value = attrs[name as keyof typeof attrs];
      // Run-time operands only need their length (the rank) in the key.
      key += operands && name in operands ? `${(value as number[]).length};` : JSON.stringify(value) + ';';
    }
    for (let i = 0; i < inputs.length; i++) key += `|${types[i]}${ranks[i]}`;
    let s = this.sessions.get(key);
    if (!s) {
      const model = encodeModel(graphFor(op, types, ranks, attrs));
      s = new (loadNative().binding.InferenceSession)();
      s.loadModel(
        model.buffer as ArrayBuffer,
        model.byteOffset,
        model.byteLength,
        sessionOptions(this.threads, 'basic'),
      );
      this.sessions.set(key, s);
    }
    return s;
  }

  run<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): KernelTensor {
    if (this.tinyOpsInTypeScript && isTiny(op, inputs)) return referenceBackend.run(op, inputs, attrs);
    const { OrtTensor } = loadNative();
    const session = this.session(op, inputs, attrs);
    const feeds: Record<string, unknown> = {};
    inputs.forEach((x, i) => {
      feeds[`x${i}`] = new OrtTensor(ORT_TYPE[dtypeOf(x.data)], x.data, x.shape);
    });
    for (const [name, values] of Object.entries(runtimeOperands(op, attrs) ?? {})) {
      feeds[name] = new OrtTensor('int64', BigInt64Array.from(values, BigInt), [values.length]);
    }
    const out = session.run(feeds, { y: null }, {}).y!;
    return { data: out.data, shape: [...out.dims] };
  }
}
