import { noGrad } from '../tensor/engine.js';
import { add, div, minimum, mul, scalar, sqrt, sum } from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * Scales the gradients of `params` so that their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ (factor min(1, maxNorm / (norm + 1e-6))), with tensor ops so a graph capture
 * records it; returns the norm before clipping as a 0-d tensor.
 */
export function clipGradients(params: Iterable<Tensor>, maxNorm: number): Tensor {
  return noGrad(() => {
    // Each parameter's gradient counts in the norm, as in torch. The engine may hand two parameters the same
    // gradient buffer (e.g. both operands of an add): it is scaled once, and both get the scaled tensor.
    const byStorage = new Map<unknown, { grad: Tensor; params: Tensor[] }>();
    let sumSquares: Tensor | null = null;
    for (const p of params) {
      if (!p.grad) continue;
      const s = sum(mul(p.grad, p.grad));
      sumSquares = sumSquares ? add(sumSquares, s) : s;
      const entry = byStorage.get(p.grad.storage);
      if (entry) entry.params.push(p);
      else byStorage.set(p.grad.storage, { grad: p.grad, params: [p] });
    }
    if (!sumSquares) return scalar(0);
    const norm = sqrt(sumSquares);
    const factor = minimum(div(maxNorm, add(norm, 1e-6)), 1);
    for (const { grad, params: sharing } of byStorage.values()) {
      const scaled = mul(grad, factor);
      for (const p of sharing) p.grad = scaled;
    }
    return norm;
  });
}

/** clipGradients, returning the norm as a number. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  return clipGradients(params, maxNorm).item();
}
