import { createRequire } from 'node:module';
import { dtypeOf, type DType, type TypedArray } from '../../tensor/dtype.js';
import type { Backend, KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backend.js';
import { graphFor } from './lowering.js';
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

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: object): void;
  run(feeds: Record<string, unknown>, fetches: Record<string, null>, options: object): Record<string, NativeTensor>;
  dispose(): void;
}

interface NativeBinding {
  InferenceSession: new () => NativeSession;
}

type OrtTensorCtor = new (type: string, data: TypedArray, dims: readonly number[]) => unknown;

const ORT_TYPE: Record<DType, string> = { float32: 'float32', int32: 'int32', bool: 'bool' };

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

export class OnnxBackend implements Backend {
  readonly name = 'onnx' as const;
  private readonly sessions = new Map<string, NativeSession>();
  private threads: number;

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

  get cachedSessions(): number {
    return this.sessions.size;
  }

  private session<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): NativeSession {
    const types = inputs.map((x) => dtypeOf(x.data));
    const ranks = inputs.map((x) => x.shape.length);
    const key = `${op}|${JSON.stringify(attrs)}|${types.join(',')}|${ranks.join(',')}`;
    let s = this.sessions.get(key);
    if (!s) {
      const model = encodeModel(graphFor(op, types, ranks, attrs));
      s = new (loadNative().binding.InferenceSession)();
      s.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, {
        intraOpNumThreads: this.threads,
        interOpNumThreads: 1,
        executionMode: 'sequential',
        graphOptimizationLevel: 'basic',
      });
      this.sessions.set(key, s);
    }
    return s;
  }

  run<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): KernelTensor {
    const { OrtTensor } = loadNative();
    const session = this.session(op, inputs, attrs);
    const feeds: Record<string, unknown> = {};
    inputs.forEach((x, i) => {
      feeds[`x${i}`] = new OrtTensor(ORT_TYPE[dtypeOf(x.data)], x.data, x.shape);
    });
    const out = session.run(feeds, { y: null }, {}).y!;
    return { data: out.data, shape: [...out.dims] };
  }
}
