import type { Tensor } from '../tensor/tensor.js';

/**
 * Scales the gradients of `params` in place so that their global L2 norm is at most `maxNorm`, as
 * torch.nn.utils.clip_grad_norm_ (factor maxNorm / (norm + 1e-6)); returns the norm before clipping.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const grads: Float32Array[] = [];
  for (const p of params) if (p.grad) grads.push(p.grad.data as Float32Array);
  let sumSquares = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sumSquares += g[i]! * g[i]!;
  const norm = Math.sqrt(sumSquares);
  const factor = maxNorm / (norm + 1e-6);
  if (factor < 1) {
    // The engine may hand two parameters the same gradient buffer (e.g. both operands of an add): scale it once.
    for (const g of new Set(grads)) for (let i = 0; i < g.length; i++) g[i] = g[i]! * factor;
  }
  return norm;
}
