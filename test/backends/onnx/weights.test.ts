import { describe, expect, it } from 'vitest';
import { loadNative } from '../../../src/backends/onnx/index.js';
import type { GraphSpec } from '../../../src/backends/onnx/protobuf.js';
import { modelFileParts, modelWithExternalWeights } from '../../../src/backends/onnx/weights.js';

// y = x Wᵀ + b with W (3, 2) and b (3) as weights: x (1, 2) = [1, 2] gives [1+4, 3+8, 5+12] + [10, 20, 30].
const graph: GraphSpec = {
  nodes: [{ op: 'Gemm', inputs: ['x', 'w', 'b'], outputs: ['y'], attrs: { transB: 1 } }],
  inputs: [{ name: 'x', type: 'float32', dims: [1, 2] }],
  outputs: [{ name: 'y', type: 'float32' }],
  initializers: [],
};
const weights = [
  { name: 'w', dims: [3, 2], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
  { name: 'b', dims: [3], data: Float32Array.from([10, 20, 30]) },
];

function run(load: (s: ReturnType<typeof session>) => void): number[] {
  const s = session();
  load(s);
  const { OrtTensor } = loadNative();
  const out = s.run({ x: new OrtTensor('float32', Float32Array.from([1, 2]), [1, 2]) }, { y: null }, {});
  s.dispose();
  return Array.from(out.y!.data);
}

function session() {
  return new (loadNative().binding.InferenceSession)();
}

describe('models with weights as initializers', () => {
  it('hands onnxruntime the weights as in-memory external data', () => {
    const { model, externalData } = modelWithExternalWeights(graph, weights);
    expect(model.byteLength).toBeLessThan(400);
    expect(
      run((s) => s.loadModel(model.buffer as ArrayBuffer, model.byteOffset, model.byteLength, { externalData })),
    ).toEqual([15, 31, 47]);
  });

  it('writes a self-contained model with the weights inline', () => {
    const bytes = Buffer.concat(modelFileParts(graph, weights));
    expect(run((s) => s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, {}))).toEqual([
      15, 31, 47,
    ]);
  });
});
