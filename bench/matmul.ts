/**
 * Matmul GFLOPS through attn's onnx backend (Tensor.matmul: op dispatch, session cache, buffer copies) versus a raw
 * onnxruntime-node InferenceSession on the same shapes: the gap is attn's dispatch overhead.
 */
import '../src/backends/register.js';
import * as ort from 'onnxruntime-node';
import { randn } from '../src/tensor/creation.js';
import { setBackend } from '../src/tensor/engine.js';
import { encodeModel } from '../src/backends/onnx/protobuf.js';

const SHAPES: Array<[number, number, number, number]> = [
  // [batch, M, K, N]
  [1, 64, 64, 64],
  [1, 256, 256, 256],
  [1, 1024, 1024, 1024],
  [16, 128, 64, 128], // attention scores: (B·H, T, D) @ (B·H, D, T)
  [1, 2048, 256, 1024], // MLP up-projection of the train-step benchmark
];

function timeIt(fn: () => void, minMs = 300): number {
  fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || n < 3) {
    fn();
    n++;
  }
  return (performance.now() - start) / n;
}

async function timeItAsync(fn: () => Promise<void>, minMs = 300): Promise<number> {
  await fn();
  let n = 0;
  const start = performance.now();
  while (performance.now() - start < minMs || n < 3) {
    await fn();
    n++;
  }
  return (performance.now() - start) / n;
}

setBackend('onnx');
const results = [];
for (const [b, m, k, n] of SHAPES) {
  const a = randn([b, m, k]);
  const w = randn([b, k, n]);
  const flops = 2 * b * m * k * n;
  const attnMs = timeIt(() => {
    a.matmul(w);
  });
  const model = encodeModel({
    nodes: [{ op: 'MatMul', inputs: ['a', 'b'], outputs: ['y'] }],
    inputs: [
      { name: 'a', type: 'float32', dims: ['B', 'M', 'K'] },
      { name: 'b', type: 'float32', dims: ['B', 'K', 'N'] },
    ],
    outputs: [{ name: 'y', type: 'float32' }],
    initializers: [],
  });
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'basic' });
  const feeds = {
    a: new ort.Tensor('float32', a.data as Float32Array, [b, m, k]),
    b: new ort.Tensor('float32', w.data as Float32Array, [b, k, n]),
  };
  const rawMs = await timeItAsync(async () => {
    await session.run(feeds);
  });
  const row = {
    shape: `${b}x${m}x${k}x${n}`,
    attn_gflops: +(flops / attnMs / 1e6).toFixed(2),
    ort_gflops: +(flops / rawMs / 1e6).toFixed(2),
    ratio: +(rawMs / attnMs).toFixed(3),
  };
  console.log(
    `${row.shape}: attn ${row.attn_gflops} GFLOPS, raw onnxruntime ${row.ort_gflops} GFLOPS (ratio ${row.ratio})`,
  );
  results.push(row);
}
console.log(JSON.stringify({ bench: 'matmul', results }));
