import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import * as ops from '../../src/tensor/ops.js';
import { noGrad } from '../../src/tensor/engine.js';

/**
 * Finite-difference check of autograd: loss = Σ w ⊙ f(inputs) with fixed random weights w, so every output
 * element matters. Central differences in float32 need a sizeable step; inputs are kept O(1).
 */
export function gradcheck(
  fn: (...xs: Tensor[]) => Tensor,
  inputs: Tensor[],
  { eps = 1e-2, rtol = 2e-2, atol = 2e-3 } = {},
): { maxError: number; worst: string } {
  const leaves = inputs.map((x) => (x.dtype === 'float32' ? x.clone().requireGrad() : x));
  const out = fn(...leaves);
  const weights = new Float32Array(out.size);
  const g = new Generator(7);
  for (let i = 0; i < weights.length; i++) weights[i] = g.normal();
  const w = new Tensor(weights, out.shape);
  const loss = (o: Tensor): number => noGrad(() => ops.sum(ops.mul(o, w)).item());
  ops.sum(ops.mul(out, w)).backward();
  let maxError = 0;
  let worst = '';
  leaves.forEach((leaf, li) => {
    if (leaf.dtype !== 'float32') return;
    const analytic = leaf.grad?.data ?? new Float32Array(leaf.size);
    const data = leaf.data as Float32Array;
    for (let i = 0; i < data.length; i++) {
      const orig = data[i]!;
      data[i] = orig + eps;
      const up = loss(noGrad(() => fn(...leaves)));
      data[i] = orig - eps;
      const down = loss(noGrad(() => fn(...leaves)));
      data[i] = orig;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - analytic[i]!) - rtol * Math.abs(numeric);
      if (err > maxError) {
        maxError = err;
        worst = `input ${li} element ${i}: numeric ${numeric}, autograd ${analytic[i]}`;
      }
    }
  });
  return { maxError: maxError > atol ? maxError : 0, worst };
}
