/**
 * Per-op dispatch overhead on a tiny (4, 4) add: through Tensor, through the backend (the TypeScript kernels tiny
 * ops take), through the backend's native path (onnxruntime, as ops above 2,048 values go), and as a raw
 * onnxruntime session run; then a chain of 100 tiny ops eagerly vs one captured graph of them (per op).
 * Usage: npm run bench -- dispatch
 */
import '../src/backends/register.js';
import { capture } from '../src/backends/onnx/capture.js';
import { loadNative, OnnxBackend, sessionOptions } from '../src/backends/onnx/index.js';
import { encodeModel } from '../src/backends/onnx/protobuf.js';
import { randn } from '../src/tensor/creation.js';
import { getBackend, setBackend, tidy } from '../src/tensor/engine.js';
import type { Tensor } from '../src/tensor/tensor.js';

setBackend('onnx');
const a = randn([4, 4]);
const b = randn([4, 4]);
const backend = getBackend();
if (!(backend instanceof OnnxBackend)) throw new Error('dispatch bench: onnxruntime did not load');

function usPerCall(fn: () => void, n = 20000): number {
  for (let i = 0; i < 1000; i++) fn();
  const start = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - start) / n) * 1000;
}

const tensorUs = usPerCall(() => tidy(() => a.add(b)));
const backendUs = usPerCall(() => backend.run('add', [a, b], {}));
const sliceUs = usPerCall(() => tidy(() => a.slice(1, 1, 3)));
backend.tinyOpsInTypeScript = false;
const nativeBackendUs = usPerCall(() => backend.run('add', [a, b], {}));
const nativeTensorUs = usPerCall(() => tidy(() => a.add(b)));
backend.tinyOpsInTypeScript = true;

// The same add as a bare onnxruntime session: the floor of any native call from Node.
const { binding, OrtTensor } = loadNative();
const model = encodeModel({
  nodes: [{ op: 'Add', inputs: ['a', 'b'], outputs: ['y'] }],
  initializers: [],
  inputs: [
    { name: 'a', type: 'float32', dims: [4, 4] },
    { name: 'b', type: 'float32', dims: [4, 4] },
  ],
  outputs: [{ name: 'y', type: 'float32', dims: [4, 4] }],
});
const session = new binding.InferenceSession();
session.loadModel(
  model.buffer as ArrayBuffer,
  model.byteOffset,
  model.byteLength,
  sessionOptions(backend.numThreads, 'basic'),
);
const rawUs = usPerCall(() =>
  session.run(
    { a: new OrtTensor('float32', a.data, [4, 4]), b: new OrtTensor('float32', b.data, [4, 4]) },
    { y: null },
    {},
  ),
);
session.dispose();

// 100 dependent tiny ops: each dispatched eagerly, or all in one captured graph.
const chain = (inputs: Record<string, Tensor>): Record<string, Tensor> => {
  let x = inputs.x!;
  for (let i = 0; i < 50; i++) x = x.mul(inputs.y!).add(1);
  return { x };
};
const eagerChainUs = usPerCall(() => tidy(() => chain({ x: a, y: b })), 500) / 100;
const graph = capture(chain, { inputs: { x: a, y: b } });
const graphChainUs = usPerCall(() => tidy(() => graph.run({ x: a, y: b })), 2000) / 100;
graph.dispose();

const round = (v: number): number => +v.toFixed(2);
console.log(
  JSON.stringify({
    bench: 'dispatch',
    tensor_add_us: round(tensorUs),
    backend_add_us: round(backendUs),
    tensor_slice_us: round(sliceUs),
    native_tensor_add_us: round(nativeTensorUs),
    native_backend_add_us: round(nativeBackendUs),
    raw_onnxruntime_add_us: round(rawUs),
    eager_chain_us_per_op: round(eagerChainUs),
    captured_chain_us_per_op: round(graphChainUs),
  }),
);
