import { beforeAll, describe, expect, it } from 'vitest';
import type { OnnxBackend } from '../../src/backends/onnx/index.js';
import { randn, rand, tensor } from '../../src/tensor/creation.js';
import { getBackend, withBackend } from '../../src/tensor/engine.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/tensor/ops.js';
import { scaledDotProductAttention } from '../../src/nn/attention.js';
import * as F from '../../src/nn/functional.js';
import { gradcheck } from '../helpers/gradcheck.js';

const gen = new Generator(42);
const normal = (...shape: number[]): Tensor => randn(shape, { generator: gen });
const positive = (...shape: number[]): Tensor => rand(shape, { low: 0.5, high: 2, generator: gen });
/** Values kept away from kinks (relu at 0, abs at 0, max ties) so central differences are valid. */
const awayFromZero = (...shape: number[]): Tensor => {
  const t = normal(...shape);
  const d = t.data as Float32Array;
  for (let i = 0; i < d.length; i++) d[i] = d[i]! + Math.sign(d[i]!) * 0.2 + (d[i] === 0 ? 0.3 : 0);
  return t;
};
/** Distinct values at least 0.25 apart, shuffled: no near-ties for max/min to straddle. */
const distinct = (...shape: number[]): Tensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  const values = Array.from({ length: n }, (_, i) => (i - n / 2) * 0.25);
  for (let i = n - 1; i > 0; i--) {
    const j = gen.randint(i + 1);
    [values[i], values[j]] = [values[j]!, values[i]!];
  }
  return Tensor.from(values, shape);
};
const ids = (values: number[], shape: number[]): Tensor => Tensor.from(values, shape, 'int32');

interface Case {
  name: string;
  fn: (...xs: Tensor[]) => Tensor;
  inputs: () => Tensor[];
}

const cases: Case[] = [
  { name: 'add (broadcast)', fn: (a, b) => ops.add(a!, b!), inputs: () => [normal(2, 3), normal(3)] },
  { name: 'sub (broadcast)', fn: (a, b) => ops.sub(a!, b!), inputs: () => [normal(2, 1), normal(1, 3)] },
  { name: 'mul (broadcast)', fn: (a, b) => ops.mul(a!, b!), inputs: () => [normal(2, 3), normal(2, 1)] },
  { name: 'div', fn: (a, b) => ops.div(a!, b!), inputs: () => [normal(2, 3), positive(2, 3)] },
  { name: 'pow', fn: (a, b) => ops.pow(a!, b!), inputs: () => [positive(2, 3), normal(2, 3)] },
  {
    name: 'maximum',
    fn: (a, b) => ops.maximum(a!, b!),
    inputs: () => {
      const d = distinct(2, 4);
      return [d.slice(0, 0, 1), d.slice(0, 1, 2)];
    },
  },
  {
    name: 'minimum',
    fn: (a, b) => ops.minimum(a!, b!),
    inputs: () => {
      const d = distinct(2, 4);
      return [d.slice(0, 0, 1), d.slice(0, 1, 2)];
    },
  },
  { name: 'neg', fn: (a) => ops.neg(a!), inputs: () => [normal(5)] },
  { name: 'abs', fn: (a) => ops.abs(a!), inputs: () => [awayFromZero(5)] },
  { name: 'exp', fn: (a) => ops.exp(a!), inputs: () => [normal(5)] },
  { name: 'log', fn: (a) => ops.log(a!), inputs: () => [positive(5)] },
  { name: 'sqrt', fn: (a) => ops.sqrt(a!), inputs: () => [positive(5)] },
  { name: 'rsqrt', fn: (a) => ops.rsqrt(a!), inputs: () => [positive(5)] },
  { name: 'tanh', fn: (a) => ops.tanh(a!), inputs: () => [normal(5)] },
  { name: 'sigmoid', fn: (a) => ops.sigmoid(a!), inputs: () => [normal(5)] },
  { name: 'relu', fn: (a) => ops.relu(a!), inputs: () => [awayFromZero(6)] },
  { name: 'gelu (erf)', fn: (a) => ops.gelu(a!), inputs: () => [normal(6)] },
  { name: 'gelu (tanh)', fn: (a) => ops.gelu(a!, 'tanh'), inputs: () => [normal(6)] },
  { name: 'silu', fn: (a) => ops.silu(a!), inputs: () => [normal(6)] },
  { name: 'sin, cos', fn: (a) => ops.mul(ops.sin(a!), ops.cos(a!)), inputs: () => [normal(6)] },
  { name: 'clamp', fn: (a) => ops.clamp(a!, -0.5, 0.5), inputs: () => [tensor([-1.2, -0.3, 0.1, 0.4, 0.9])] },
  { name: 'where', fn: (a, b) => ops.where(ops.gt(a!, 0), a!, b!), inputs: () => [awayFromZero(2, 3), normal(3)] },
  {
    name: 'maskedFill',
    fn: (a) => ops.maskedFill(a!, tensor([[true, false, true]]), -3),
    inputs: () => [normal(2, 3)],
  },
  { name: 'sum over axes', fn: (a) => ops.sum(a!, [0, 2]), inputs: () => [normal(2, 3, 4)] },
  { name: 'sum keepdim', fn: (a) => ops.sum(a!, 1, true), inputs: () => [normal(2, 3)] },
  { name: 'mean', fn: (a) => ops.mean(a!, -1), inputs: () => [normal(2, 3)] },
  { name: 'max', fn: (a) => ops.max(a!, 1), inputs: () => [distinct(3, 4)] },
  { name: 'min', fn: (a) => ops.min(a!, 0, true), inputs: () => [distinct(3, 4)] },
  { name: 'var', fn: (a) => ops.variance(a!, -1, true), inputs: () => [normal(2, 5)] },
  {
    name: 'matmul (batched, broadcast)',
    fn: (a, b) => ops.matmul(a!, b!),
    inputs: () => [normal(2, 3, 4), normal(4, 5)],
  },
  { name: 'softmax', fn: (a) => ops.softmax(a!, -1), inputs: () => [normal(2, 5)] },
  { name: 'logSoftmax', fn: (a) => ops.logSoftmax(a!, 0), inputs: () => [normal(4, 3)] },
  {
    name: 'linear (3-D input, bias)',
    fn: (x, w, b) => F.linear(x!, w!, b!),
    inputs: () => [normal(2, 3, 4), normal(5, 4), normal(5)],
  },
  { name: 'linear (no bias)', fn: (x, w) => F.linear(x!, w!), inputs: () => [normal(3, 4), normal(2, 4)] },
  { name: 'layerNorm (no affine)', fn: (a) => F.layerNorm(a!), inputs: () => [normal(3, 5)] },
  { name: 'layerNorm', fn: (a, w, b) => F.layerNorm(a!, w, b), inputs: () => [normal(2, 6), normal(6), normal(6)] },
  { name: 'rmsNorm', fn: (a, w) => F.rmsNorm(a!, w), inputs: () => [normal(2, 6), normal(6)] },
  {
    name: 'reshape + transpose',
    fn: (a) => ops.transpose(ops.reshape(a!, [3, 2, 2]), 0, 2),
    inputs: () => [normal(2, 6)],
  },
  { name: 'permute', fn: (a) => ops.permute(a!, [2, 0, 1]), inputs: () => [normal(2, 3, 4)] },
  { name: 'expand', fn: (a) => ops.expand(a!, [3, 2, 4]), inputs: () => [normal(2, 1)] },
  { name: 'slice (pads the gradient back)', fn: (a) => ops.slice(a!, 0, 1, -1), inputs: () => [normal(4, 3)] },
  { name: 'slice with step', fn: (a) => ops.slice(a!, 1, 1, 6, 2), inputs: () => [normal(2, 7)] },
  { name: 'concat', fn: (a, b) => ops.concat([a!, b!], 1), inputs: () => [normal(2, 3), normal(2, 2)] },
  { name: 'stack', fn: (a, b) => ops.stack([a!, b!], 0), inputs: () => [normal(2, 3), normal(2, 3)] },
  {
    name: 'embedding (repeated ids)',
    fn: (w) => F.embedding(ids([1, 3, 1, 0], [2, 2]), w!),
    inputs: () => [normal(4, 3)],
  },
  { name: 'indexSelect axis 1', fn: (a) => ops.indexSelect(a!, ids([2, 0, 2], [3]), 1), inputs: () => [normal(2, 3)] },
  {
    name: 'gatherElements',
    fn: (a) => ops.gatherElements(a!, ids([0, 2, 1, 1], [2, 2]), 1),
    inputs: () => [normal(2, 3)],
  },
  {
    name: 'scatterAdd',
    fn: (a, u) => ops.scatterAdd(a!, 1, ids([0, 0, 2, 1], [2, 2]), u!),
    inputs: () => [normal(2, 3), normal(2, 2)],
  },
  { name: 'triu / tril', fn: (a) => ops.add(ops.triu(a!, 1), ops.tril(a!, -1)), inputs: () => [normal(2, 3, 3)] },
  {
    name: 'crossEntropy (ignoreIndex, smoothing)',
    fn: (l) => F.crossEntropy(l!, ids([1, -100, 3], [3]), { labelSmoothing: 0.1 }),
    inputs: () => [normal(3, 4)],
  },
  { name: 'mseLoss', fn: (a, b) => F.mseLoss(a!, b!), inputs: () => [normal(2, 3), normal(2, 3)] },
  {
    name: 'dropout (fixed mask)',
    fn: (a) => F.dropout(a!, 0.3, true, new Generator(5)),
    inputs: () => [normal(3, 4)],
  },
  {
    name: 'attention (causal + padding mask)',
    fn: (q, k, v) =>
      scaledDotProductAttention(q!, k!, v!, { causal: true, mask: tensor([[[[true, true, false]]]]) }).output,
    inputs: () => [normal(1, 2, 3, 4), normal(1, 2, 3, 4), normal(1, 2, 3, 4)],
  },
];

beforeAll(() => {
  // These cases are small: make the onnx backend run them natively rather than through its TypeScript fast path.
  withBackend('onnx', () => {
    (getBackend() as OnnxBackend).tinyOpsInTypeScript = false;
  });
});

for (const backend of ['reference', 'onnx'] as const) {
  describe(`autograd matches finite differences (${backend} backend)`, () => {
    for (const c of cases) {
      it(c.name, () => {
        withBackend(backend, () => {
          const { maxError, worst } = gradcheck(c.fn, c.inputs());
          expect(maxError, worst).toBe(0);
        });
      });
    }
  });
}

describe('backends agree', () => {
  for (const c of cases) {
    it(c.name, () => {
      const inputs = c.inputs();
      const ref = withBackend('reference', () => c.fn(...inputs));
      const onnx = withBackend('onnx', () => c.fn(...inputs));
      expect(onnx.shape).toEqual(ref.shape);
      const a = ref.data;
      const b = onnx.data;
      for (let i = 0; i < a.length; i++)
        expect(Math.abs(a[i]! - b[i]!)).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(a[i]!));
    });
  }
});

describe('gradient bookkeeping', () => {
  it('accumulates across backward calls and stops at detach / noGrad', () => {
    const x = tensor([1, 2, 3]).requireGrad();
    ops.sum(ops.mul(x, x)).backward();
    ops.sum(ops.mul(x, 3)).backward();
    expect(Array.from(x.grad!.data)).toEqual([5, 7, 9]);
    const y = ops.mul(x.detach(), 2);
    expect(y.requiresGrad).toBe(false);
  });

  it('a tied tensor used twice gets the sum of both gradients', () => {
    const w = tensor([
      [1, 2],
      [3, 4],
    ]).requireGrad();
    const h = F.embedding(ids([1], [1]), w); // (1, 2)
    const logits = ops.matmul(h, ops.transpose(w, 0, 1)); // (1, 2)
    ops.sum(logits).backward();
    // d/dw of Σ_j (w[1]·w[j]): row j gets w[1]; row 1 also gets Σ_j w[j].
    expect(Array.from(w.grad!.data)).toEqual([3, 4, 3 + 4, 4 + 6]);
  });
});
