import { Optimizer, stateBuffer, type BaseHyperparameters, type ParamState, type ParamsInput } from './optimizer.js';

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

  protected update(param: Float32Array, grad: Float32Array, group: AdamHyperparameters, state: ParamState): void {
    const { lr, eps, weightDecay } = group;
    const [beta1, beta2] = group.betas;
    const m = stateBuffer(state, 'exp_avg', param.length);
    const v = stateBuffer(state, 'exp_avg_sq', param.length);
    const stepSize = lr / (1 - Math.pow(beta1, state.step));
    const bias2Sqrt = Math.sqrt(1 - Math.pow(beta2, state.step));
    const decay = this.decoupledWeightDecay ? 1 - lr * weightDecay : 1;
    const l2 = this.decoupledWeightDecay ? 0 : weightDecay;
    for (let i = 0; i < param.length; i++) {
      const p = param[i]! * decay;
      const g = grad[i]! + l2 * p;
      const mi = beta1 * m[i]! + (1 - beta1) * g;
      const vi = beta2 * v[i]! + (1 - beta2) * g * g;
      m[i] = mi;
      v[i] = vi;
      param[i] = p - (stepSize * mi) / (Math.sqrt(vi) / bias2Sqrt + eps);
    }
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
