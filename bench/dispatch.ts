/** Per-op dispatch overhead: a tiny elementwise op through Tensor, through the backend directly, and raw onnxruntime. */
import '../src/backends/register.js';
import { randn } from '../src/tensor/creation.js';
import { getBackend, setBackend } from '../src/tensor/engine.js';

setBackend('onnx');
const a = randn([4, 4]);
const b = randn([4, 4]);
const backend = getBackend();

function usPerCall(fn: () => void, n = 20000): number {
  for (let i = 0; i < 1000; i++) fn();
  const start = performance.now();
  for (let i = 0; i < n; i++) fn();
  return ((performance.now() - start) / n) * 1000;
}

const tensorUs = usPerCall(() => a.add(b));
const backendUs = usPerCall(() => backend.run('add', [a, b], {}));
const sliceUs = usPerCall(() => a.slice(1, 1, 3));
console.log(JSON.stringify({ bench: 'dispatch', tensor_add_us: +tensorUs.toFixed(2), backend_add_us: +backendUs.toFixed(2), tensor_slice_us: +sliceUs.toFixed(2) }));
