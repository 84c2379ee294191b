import { Tensor } from '../tensor/tensor.js';
import { shapeString } from '../tensor/shape.js';

/**
 * Base of the optimizers. Updates run in place on each parameter's Float32Array in plain loops: no tensors are
 * allocated per step, and tensors sharing a parameter's buffer (tied weights, reshaped views) see the update.
 */

/** Hyperparameters every optimizer has; subclasses add their own. */
export interface BaseHyperparameters {
  lr: number;
  weightDecay: number;
}

/** Parameters with their own hyperparameters (e.g. no weight decay on biases and norms), as torch param groups. */
export type ParamGroup<H> = { params: Tensor[] } & Partial<H>;

export type ParamsInput<H> = Tensor[] | ParamGroup<H>[];

/** Per-parameter state: the step count and named Float32Array buffers (moments). */
export interface ParamState {
  step: number;
  buffers: Record<string, Float32Array>;
}

/** A checkpointable snapshot, laid out as torch's `optimizer.state_dict()` (parameters by index). */
export interface OptimizerStateDict<H> {
  state: Record<number, { step: number; buffers: Record<string, Tensor> }>;
  paramGroups: Array<H & { params: number[] }>;
}

export abstract class Optimizer<H extends BaseHyperparameters = BaseHyperparameters> {
  readonly paramGroups: Array<H & { params: Tensor[] }>;
  protected readonly state = new Map<Tensor, ParamState>();

  constructor(params: ParamsInput<H>, defaults: H) {
    const groups: ParamGroup<H>[] = params.length > 0 && params[0] instanceof Tensor ? [{ params: params as Tensor[] } as ParamGroup<H>] : (params as ParamGroup<H>[]);
    this.paramGroups = groups.map((g) => ({ ...defaults, ...g }));
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (seen.has(p)) throw new Error(`${this.constructor.name}: a parameter ${shapeString(p.shape)} appears twice in the parameter groups`);
        if (p.dtype !== 'float32') throw new TypeError(`${this.constructor.name}: parameters must be float32, got ${p.dtype} ${shapeString(p.shape)}`);
        seen.add(p);
      }
    }
  }

  /** One update of every parameter that has a gradient. Parameters without one are skipped, as in torch. */
  step(): void {
    for (const group of this.paramGroups) {
      for (const p of group.params) {
        if (!p.grad) continue;
        let state = this.state.get(p);
        if (!state) {
          state = { step: 0, buffers: {} };
          this.state.set(p, state);
        }
        state.step++;
        this.update(p.data as Float32Array, p.grad.data as Float32Array, group, state);
      }
    }
  }

  /** Updates one parameter in place; `state.step` already counts this step (1 on the first). */
  protected abstract update(param: Float32Array, grad: Float32Array, group: H, state: ParamState): void;

  /** Drops every gradient (torch's `zero_grad(set_to_none=True)`). */
  zeroGrad(): void {
    for (const g of this.paramGroups) for (const p of g.params) p.grad = null;
  }

  /** A copy of the state (moments as tensors) and of the hyperparameters, parameters named by position. */
  stateDict(): OptimizerStateDict<H> {
    const state: OptimizerStateDict<H>['state'] = {};
    const paramGroups: OptimizerStateDict<H>['paramGroups'] = [];
    let index = 0;
    for (const { params, ...hyper } of this.paramGroups) {
      const indices: number[] = [];
      for (const p of params) {
        const s = this.state.get(p);
        if (s) {
          const buffers: Record<string, Tensor> = {};
          for (const [name, b] of Object.entries(s.buffers)) buffers[name] = new Tensor(b.slice(), p.shape);
          state[index] = { step: s.step, buffers };
        }
        indices.push(index++);
      }
      paramGroups.push({ ...(hyper as unknown as H), params: indices });
    }
    return { state, paramGroups };
  }

  /** Restores a `stateDict()` taken from an optimizer over parameters of the same shapes, in the same order. */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const name = this.constructor.name;
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(`${name}.loadStateDict: the checkpoint has ${dict.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`);
    }
    const params = this.paramGroups.flatMap((g) => g.params);
    dict.paramGroups.forEach((saved, i) => {
      const group = this.paramGroups[i]!;
      if (saved.params.length !== group.params.length) {
        throw new RangeError(`${name}.loadStateDict: group ${i} has ${saved.params.length} parameters in the checkpoint, ${group.params.length} here`);
      }
      const { params: _indices, ...hyper } = saved;
      Object.assign(group, hyper);
    });
    this.state.clear();
    for (const [key, saved] of Object.entries(dict.state)) {
      const p = params[Number(key)];
      if (!p) throw new RangeError(`${name}.loadStateDict: state for parameter ${key}, but there are only ${params.length}`);
      const buffers: Record<string, Float32Array> = {};
      for (const [bufferName, t] of Object.entries(saved.buffers)) {
        if (t.size !== p.size) {
          throw new RangeError(`${name}.loadStateDict: '${bufferName}' of parameter ${key} has shape ${shapeString(t.shape)}, the parameter ${shapeString(p.shape)}`);
        }
        buffers[bufferName] = Float32Array.from(t.data);
      }
      this.state.set(p, { step: saved.step, buffers });
    }
  }
}

/** The named state buffer, zero-filled on first use. */
export function stateBuffer(state: ParamState, name: string, size: number): Float32Array {
  return (state.buffers[name] ??= new Float32Array(size));
}
