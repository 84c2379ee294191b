import { stepScalar } from '../tensor/creation.js';
import { keep, noGrad } from '../tensor/engine.js';
import { zerosLike } from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';
import { shapeString } from '../tensor/shape.js';

/**
 * Base of the optimizers. An update is written with tensor ops, so a graph capture of a training step records it
 * (capture.ts); the result is assigned into each parameter in place, so tensors sharing a parameter's buffer (tied
 * weights, reshaped views) see it. Values that change between steps (learning rate, bias corrections) enter as
 * `stepScalar`s named `optim.<param index>.<name>`: a replayed step feeds them from `nextStepScalars()`.
 */

/** Hyperparameters every optimizer has; subclasses add their own. */
export interface BaseHyperparameters {
  lr: number;
  weightDecay: number;
}

/** Parameters with their own hyperparameters (e.g. no weight decay on biases and norms), as torch param groups. */
export type ParamGroup<H> = { params: Tensor[] } & Partial<H>;

export type ParamsInput<H> = Tensor[] | ParamGroup<H>[];

/** Per-parameter state: the step count and named buffers (moments), each of the parameter's shape. */
export interface ParamState {
  step: number;
  buffers: Record<string, Tensor>;
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
    const groups: ParamGroup<H>[] =
      params.length > 0 && params[0] instanceof Tensor
        ? [{ params: params as Tensor[] } as ParamGroup<H>]
        : (params as ParamGroup<H>[]);
    this.paramGroups = groups.map((g) => ({ ...defaults, ...g }));
    const seen = new Set<Tensor>();
    for (const g of this.paramGroups) {
      for (const p of g.params) {
        if (seen.has(p))
          throw new Error(
            `${this.constructor.name}: a parameter ${shapeString(p.shape)} appears twice in the parameter groups`,
          );
        if (p.dtype !== 'float32')
          throw new TypeError(
            `${this.constructor.name}: parameters must be float32, got ${p.dtype} ${shapeString(p.shape)}`,
          );
        // Updates are in place in float32; a weight loaded in half precision keeps float32 values from here on.
        p.widenToFloat32();
        seen.add(p);
      }
    }
  }

  /** One update of every parameter that has a gradient. Parameters without one are skipped, as in torch. */
  step(): void {
    const updated: Tensor[] = [];
    noGrad(() => {
      this.paramGroups.forEach((group) => {
        for (const p of group.params) {
          if (!p.grad) continue;
          const index = this.indexOf(p);
          const state = this.stateOf(p, group);
          state.step++;
          const scalars: Record<string, Tensor> = {};
          for (const [name, value] of Object.entries(this.scalars(group, state.step))) {
            scalars[name] = stepScalar(`optim.${index}.${name}`, value);
          }
          const next = this.update(p, p.grad, scalars, state.buffers, group);
          p.assign(next.param);
          for (const [name, b] of Object.entries(next.buffers)) state.buffers[name] = keep(b);
          updated.push(p);
        }
      });
    });
    this.lastUpdated = updated;
  }

  /** The parameters the last step() updated (a replayed step updates the same ones). */
  lastUpdated: readonly Tensor[] = [];

  /**
   * The step scalars the next step() would feed, by graph input name, for every parameter in `params` (default:
   * those of the last step): what replaying a captured step feeds. Written into `into` when given (a compiled step
   * passes the same object on every step).
   */
  nextStepScalars(
    params: readonly Tensor[] = this.lastUpdated,
    into: Record<string, number> = {},
  ): Record<string, number> {
    for (const p of params) {
      const step = (this.state.get(p)?.step ?? 0) + 1;
      const scalars = this.scalars(this.groupOf(p), step);
      for (const name in scalars) into[this.scalarInputName(p, name)] = scalars[name]!;
    }
    return into;
  }

  /**
   * `optim.<param index>.<name>`, built once per parameter and name: a compiled step asks for every scalar of
   * every parameter on each step, and fresh strings for them kept V8's young generation growing.
   */
  private scalarInputName(p: Tensor, name: string): string {
    let names = this.scalarInputNames.get(p);
    if (!names) this.scalarInputNames.set(p, (names = new Map()));
    let inputName = names.get(name);
    if (inputName === undefined) names.set(name, (inputName = `optim.${this.indexOf(p)}.${name}`));
    return inputName;
  }

  private readonly scalarInputNames = new Map<Tensor, Map<string, string>>();

  /** Counts a step taken outside step() (a replayed captured step) for `params`. */
  countStep(params: readonly Tensor[]): void {
    for (const p of params) (this.state.get(p) ?? this.stateOf(p, this.groupOf(p))).step++;
  }

  /** Saves every parameter's step count; the returned function puts them back (a step that is undone). */
  saveStepCounts(): () => void {
    const saved = new Map([...this.state].map(([p, s]) => [p, s.step]));
    return () => {
      for (const [p, s] of this.state) s.step = saved.get(p) ?? 0;
    };
  }

  /** Creates every parameter's state (zero moments) now rather than on its first step, so a capture sees it. */
  initializeState(): void {
    for (const group of this.paramGroups) for (const p of group.params) this.stateOf(p, group);
  }

  /** Every state buffer by name `optim.<param index>.<buffer>`, in a fixed order (a captured step's inputs). */
  stateTensors(): Map<string, { param: Tensor; name: string; tensor: Tensor }> {
    const out = new Map<string, { param: Tensor; name: string; tensor: Tensor }>();
    for (const p of this.paramGroups.flatMap((g) => g.params)) {
      const state = this.state.get(p);
      if (!state) continue;
      for (const [name, tensor] of Object.entries(state.buffers))
        out.set(`optim.${this.indexOf(p)}.${name}`, { param: p, name, tensor });
    }
    return out;
  }

  /** The state buffer `name` of `param` (see stateTensors). */
  stateTensor(param: Tensor, name: string): Tensor {
    const buffer = this.state.get(param)?.buffers[name];
    if (!buffer)
      throw new RangeError(
        `${this.constructor.name}: no state buffer '${name}' for parameter ${shapeString(param.shape)}`,
      );
    return buffer;
  }

  /**
   * Sets a state buffer to `value` (a replayed step's output) by adopting its storage: no copy, and no new
   * long-lived tensor per step (which made V8's heap grow over long compiled runs).
   */
  setStateTensor(param: Tensor, name: string, value: Tensor): void {
    this.stateTensor(param, name).replaceStorage(value.storage);
  }

  private indexOf(p: Tensor): number {
    let index = 0;
    for (const g of this.paramGroups) {
      const i = g.params.indexOf(p);
      if (i >= 0) return index + i;
      index += g.params.length;
    }
    throw new RangeError(`${this.constructor.name}: parameter ${shapeString(p.shape)} is not in any parameter group`);
  }

  private groupOf(p: Tensor): H & { params: Tensor[] } {
    for (const group of this.paramGroups) if (group.params.includes(p)) return group;
    throw new RangeError(`${this.constructor.name}: parameter ${shapeString(p.shape)} is not in any parameter group`);
  }

  private stateOf(p: Tensor, group: H): ParamState {
    let state = this.state.get(p);
    if (!state) {
      const buffers: Record<string, Tensor> = {};
      for (const name of this.bufferNames(group)) buffers[name] = keep(zerosLike(p));
      state = { step: 0, buffers };
      this.state.set(p, state);
    }
    return state;
  }

  /** The state buffers a parameter of `group` has (zero-filled before its first step). */
  protected abstract bufferNames(group: H): string[];

  /** The values of this step that are not constants of the graph (learning rate, bias corrections), by name. */
  protected abstract scalars(group: H, step: number): Record<string, number>;

  /**
   * The updated parameter and state buffers, with tensor ops. `scalars` holds `scalars()` as 0-d tensors;
   * structural choices (is there weight decay, momentum) may read `group`.
   */
  protected abstract update(
    param: Tensor,
    grad: Tensor,
    scalars: Record<string, Tensor>,
    buffers: Readonly<Record<string, Tensor>>,
    group: H,
  ): { param: Tensor; buffers: Record<string, Tensor> };

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
        // State created ahead of a first step (initializeState) is not saved, as torch saves none before it.
        if (s && s.step > 0) {
          const buffers: Record<string, Tensor> = {};
          for (const [name, b] of Object.entries(s.buffers)) buffers[name] = new Tensor(b.storage.slice(), p.shape);
          state[index] = { step: s.step, buffers };
        }
        indices.push(index++);
      }
      // A group minus its params is its hyperparameters H; TypeScript cannot simplify Omit<H & {params}, 'params'> to H.
      paramGroups.push({ ...(hyper as unknown as H), params: indices });
    }
    return { state, paramGroups };
  }

  /** Restores a `stateDict()` taken from an optimizer over parameters of the same shapes, in the same order. */
  loadStateDict(dict: OptimizerStateDict<H>): void {
    const name = this.constructor.name;
    if (dict.paramGroups.length !== this.paramGroups.length) {
      throw new RangeError(
        `${name}.loadStateDict: the checkpoint has ${dict.paramGroups.length} parameter groups, this optimizer ${this.paramGroups.length}`,
      );
    }
    const params = this.paramGroups.flatMap((g) => g.params);
    dict.paramGroups.forEach((saved, i) => {
      const group = this.paramGroups[i]!;
      if (saved.params.length !== group.params.length) {
        throw new RangeError(
          `${name}.loadStateDict: group ${i} has ${saved.params.length} parameters in the checkpoint, ${group.params.length} here`,
        );
      }
      const { params: _indices, ...hyper } = saved;
      Object.assign(group, hyper);
    });
    this.state.clear();
    for (const [key, saved] of Object.entries(dict.state)) {
      const p = params[Number(key)];
      if (!p)
        throw new RangeError(`${name}.loadStateDict: state for parameter ${key}, but there are only ${params.length}`);
      const buffers: Record<string, Tensor> = {};
      for (const [bufferName, t] of Object.entries(saved.buffers)) {
        if (t.size !== p.size) {
          throw new RangeError(
            `${name}.loadStateDict: '${bufferName}' of parameter ${key} has shape ${shapeString(t.shape)}, the parameter ${shapeString(p.shape)}`,
          );
        }
        buffers[bufferName] = keep(new Tensor(Float32Array.from(t.data), p.shape));
      }
      this.state.set(p, { step: saved.step, buffers });
    }
  }
}
