import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, type BaseHyperparameters, type ParamsInput } from './optimizer.js';

export interface AdamHyperparameters extends BaseHyperparameters {
  betas: [number, number];
  eps: number;
}

/**
 * Adam, as torch.optim.Adam (weight decay, if any, is L2: added to the gradient):
 *   m ← β1·m + (1 − β1)·g;  v ← β2·v + (1 − β2)·g²
 *   p ← p − lr / (1 − β1ᵗ) · m / (√v / √(1 − β2ᵗ) + eps)
 */
export class Adam extends Optimizer<AdamHyperparameters> {
  /** AdamW decays the weights directly instead of through the gradient. */
  protected readonly decoupledWeightDecay: boolean = false;

  constructor(params: ParamsInput<AdamHyperparameters>, options: Partial<AdamHyperparameters> = {}) {
    super(params, { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0, ...options });
  }

  protected bufferNames(): string[] {
    return ['exp_avg', 'exp_avg_sq'];
  }

  protected scalars(group: AdamHyperparameters, step: number): Record<string, number> {
    const { lr, eps, weightDecay } = group;
    const [beta1, beta2] = group.betas;
    return {
      beta1,
      oneMinusBeta1: 1 - beta1,
      beta2,
      oneMinusBeta2: 1 - beta2,
      eps,
      stepSize: lr / (1 - Math.pow(beta1, step)),
      bias2Sqrt: Math.sqrt(1 - Math.pow(beta2, step)),
      // Decoupled decay scales the weights; L2 adds weightDecay·p to the gradient.
      decay: this.decoupledWeightDecay ? 1 - lr * weightDecay : 1,
      l2: this.decoupledWeightDecay ? 0 : weightDecay,
    };
  }

  protected update(
    param: Tensor,
    grad: Tensor,
    s: Record<string, Tensor>,
    buffers: Readonly<Record<string, Tensor>>,
    group: AdamHyperparameters,
  ): { param: Tensor; buffers: Record<string, Tensor> } {
    const p = this.decoupledWeightDecay ? param.mul(s.decay!) : param;
    const g = !this.decoupledWeightDecay && group.weightDecay !== 0 ? grad.add(p.mul(s.l2!)) : grad;
    const m = buffers.exp_avg!.mul(s.beta1!).add(g.mul(s.oneMinusBeta1!));
    const v = buffers.exp_avg_sq!.mul(s.beta2!).add(g.mul(g).mul(s.oneMinusBeta2!));
    const denom = v.sqrt().div(s.bias2Sqrt!).add(s.eps!);
    return { param: p.sub(m.div(denom).mul(s.stepSize!)), buffers: { exp_avg: m, exp_avg_sq: v } };
  }
}

/**
 * AdamW (Loshchilov & Hutter), as torch.optim.AdamW: p ← p·(1 − lr·weightDecay) first, then the Adam step with the
 * raw gradient. Default weight decay 0.01, as torch.
 */
export class AdamW extends Adam {
  protected override readonly decoupledWeightDecay = true;

  constructor(params: ParamsInput<AdamHyperparameters>, options: Partial<AdamHyperparameters> = {}) {
    super(params, { weightDecay: 0.01, ...options });
  }
}
