import { describe, expect, it } from 'vitest';
import { randn } from '../../src/tensor/creation.js';
import { Generator } from '../../src/tensor/random.js';
import { noGrad, withBackend } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { Linear, Embedding } from '../../src/nn/layers.js';
import {
  QuantizedEmbedding,
  QuantizedLinear,
  quantizeInt8Rows,
  quantizeQ4Blocks,
  quantizedTensors,
  type QuantScheme,
} from '../../src/nn/quantized.js';
import { dequantizeQ4 } from '../../src/backends/reference/quantized.js';
import { maxMagnitude, maxTensorDiff } from '../helpers/tensors.js';

function quantizedCopy(layer: Linear, scheme: QuantScheme): QuantizedLinear {
  const weights = quantizedTensors(scheme, layer.outFeatures, layer.inFeatures, layer.weight.data as Float32Array);
  return new QuantizedLinear(scheme, layer.inFeatures, layer.outFeatures, weights, layer.bias);
}

describe('weight quantization', () => {
  it('int8 rows: codes within ±127, the row maximum exact, every value within half a step', () => {
    const w = Float32Array.from([0.5, -1, 0.25, 0, 2, -0.3]);
    const { codes, scales } = quantizeInt8Rows(w, 2, 3);
    expect([...codes]).toEqual([64, -127, 32, 0, 127, -19]);
    expect(scales[0]).toBeCloseTo(1 / 127, 9);
    expect(scales[1]).toBeCloseTo(2 / 127, 9);
  });

  it('q4 blocks: MatMulNBits packing (low nibble first, zero point 8), the largest magnitude exact', () => {
    const w = new Float32Array(32).map((_, i) => (i - 8) * 0.5); // -4 … 11.5
    const { codes, scales } = quantizeQ4Blocks(w, 1, 32);
    expect(scales[0]).toBeCloseTo(11.5 / -8, 6);
    const back = dequantizeQ4(codes, scales, 32, 1, 32);
    expect(back[31]).toBeCloseTo(11.5, 5);
    // first byte: codes for w[0] = -4 and w[1] = -3.5 → round(-4 / -1.4375) + 8 = 11, round(2.43) + 8 = 10
    expect(codes[0]).toBe(11 | (10 << 4));
    for (let i = 0; i < 32; i++)
      expect(Math.abs(back[i]! - w[i]!)).toBeLessThanOrEqual(Math.abs(scales[0]!) / 2 + 1e-6);
  });

  it('q4 refuses widths that are not whole blocks', () => {
    expect(() => quantizeQ4Blocks(new Float32Array(40), 1, 40)).toThrow(
      /40 input features are not a multiple of the block size 32/,
    );
  });
});

describe('quantizedMatmul: onnxruntime kernels against the reference', () => {
  for (const scheme of ['int8', 'q4'] as const) {
    it(`${scheme}: the onnx backend (com.microsoft kernel) equals the reference kernel, and both approximate the float layer`, () => {
      const g = new Generator(3);
      const layer = new Linear(64, 48, { generator: g });
      const q = quantizedCopy(layer, scheme);
      const x = randn([2, 5, 64], { generator: g });
      noGrad(() => {
        const exact = layer.forward(x);
        const reference = withBackend('reference', () => q.forward(x));
        const onnx = withBackend('onnx', () => q.forward(x));
        expect(onnx.shape).toEqual([2, 5, 48]);
        expect(maxTensorDiff(onnx, reference)).toBeLessThan(1e-4 * maxMagnitude(exact));
        // int8 loses about 1% (8-bit activations and weights), q4 about 10% (16 levels per block).
        expect(maxTensorDiff(reference, exact)).toBeLessThan((scheme === 'int8' ? 0.03 : 0.25) * maxMagnitude(exact));
      });
    });
  }

  it('refuses gradients into a quantized layer', () => {
    const layer = quantizedCopy(new Linear(32, 4), 'int8');
    const x = randn([1, 32]);
    x.requiresGrad = true;
    expect(() => layer.forward(x)).toThrow(/inference-only/);
  });
});

describe('QuantizedEmbedding', () => {
  it('looks up dequantized rows', () => {
    const table = new Embedding(10, 8);
    const w = table.weight.data as Float32Array;
    const { codes, scales } = quantizedTensors('int8', 10, 8, w);
    const q = new QuantizedEmbedding(10, 8, { codes, scales });
    const ids = new Tensor(Int32Array.from([3, 7, 0]), [1, 3]);
    noGrad(() => {
      const got = q.forward(ids);
      const want = table.forward(ids);
      expect(got.shape).toEqual([1, 3, 8]);
      expect(maxTensorDiff(got, want)).toBeLessThan(maxMagnitude(want) / 127);
      // row 7, column 2: code × scale exactly
      const row = 7;
      expect(got.data[8 + 2]).toBeCloseTo(codes.data[row * 8 + 2]! * scales.data[row]!, 6);
    });
  });
});
