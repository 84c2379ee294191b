import type { Tensor } from '../tensor/tensor.js';
import { Optimizer, type BaseHyperparameters, type ParamsInput } from './optimizer.js';

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
      if (g.nesterov && (g.momentum <= 0 || g.dampening !== 0))
        throw new RangeError('SGD: nesterov needs momentum > 0 and dampening 0');
    }
  }

  protected bufferNames(group: SGDHyperparameters): string[] {
    return group.momentum !== 0 ? ['momentum_buffer'] : [];
  }

  protected scalars(group: SGDHyperparameters, step: number): Record<string, number> {
    const first = step === 1;
    // The first step sets buf ← g: the same formula with keep 0 and take 1, so one graph serves every step.
    return {
      lr: group.lr,
      weightDecay: group.weightDecay,
      momentum: group.momentum,
      keep: first ? 0 : group.momentum,
      take: first ? 1 : 1 - group.dampening,
    };
  }

  protected update(
    param: Tensor,
    grad: Tensor,
    s: Record<string, Tensor>,
    buffers: Readonly<Record<string, Tensor>>,
    group: SGDHyperparameters,
  ): { param: Tensor; buffers: Record<string, Tensor> } {
    let g = group.weightDecay !== 0 ? grad.add(param.mul(s.weightDecay!)) : grad;
    if (group.momentum === 0) return { param: param.sub(g.mul(s.lr!)), buffers: {} };
    const buf = buffers.momentum_buffer!.mul(s.keep!).add(g.mul(s.take!));
    g = group.nesterov ? g.add(buf.mul(s.momentum!)) : buf;
    return { param: param.sub(g.mul(s.lr!)), buffers: { momentum_buffer: buf } };
  }
}
