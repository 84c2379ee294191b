import { Optimizer, stateBuffer, type BaseHyperparameters, type ParamState, type ParamsInput } from './optimizer.js';

export interface SGDHyperparameters extends BaseHyperparameters {
  momentum: number;
  dampening: number;
  nesterov: boolean;
}

/**
 * Stochastic gradient descent with optional momentum, as torch.optim.SGD:
 *   g ← grad + weightDecay·p
 *   buf ← g on the first step, else momentum·buf + (1 − dampening)·g
 *   g ← g + momentum·buf (nesterov) or buf
 *   p ← p − lr·g
 */
export class SGD extends Optimizer<SGDHyperparameters> {
  constructor(params: ParamsInput<SGDHyperparameters>, options: Partial<SGDHyperparameters> & { lr: number }) {
    super(params, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, ...options });
    for (const g of this.paramGroups) {
      if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0)) throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected update(param: Float32Array, grad: Float32Array, group: SGDHyperparameters, state: ParamState): void {
    const { lr, momentum, dampening, weightDecay, nesterov } = group;
    const buf = momentum !== 0 ? stateBuffer(state, 'momentum_buffer', param.length) : null;
    const first = state.step === 1;
    for (let i = 0; i < param.length; i++) {
      let g = grad[i]! + weightDecay * param[i]!;
      if (buf) {
        const b = first ? g : momentum * buf[i]! + (1 - dampening) * g;
        buf[i] = b;
        g = nesterov ? g + momentum * b : b;
      }
      param[i] = param[i]! - lr * g;
    }
  }
}
