import { keep } from '../tensor/engine.js';
import { shapeString, sameShape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';

/** A trainable tensor owned by a module: requires grad, and no memory scope frees it. */
export class Parameter extends Tensor {
  constructor(value: Tensor) {
    super(value.halfStorage ?? value.data, value.shape);
    keep(this);
    this.requiresGrad = true;
  }
}

export class StateDictError extends Error {}

export interface LoadResult {
  missingKeys: string[];
  unexpectedKeys: string[];
}

/**
 * Base of every layer and model. Parameters and submodules are found from the instance's own fields, so a
 * field's name is its name in the state dict: `this.attention = …` gives `attention.…`, as PyTorch does, and
 * Hugging Face checkpoints load by name.
 */
export class Module {
  training = true;
  private readonly buffers = new Map<string, { tensor: Tensor; persistent: boolean }>();

  /** Non-trainable state (e.g. position tables); persistent buffers are saved in the state dict. */
  protected registerBuffer(name: string, tensor: Tensor, persistent = true): Tensor {
    keep(tensor);
    this.buffers.set(name, { tensor, persistent });
    return tensor;
  }

  protected buffer(name: string): Tensor {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`${this.constructor.name}: no buffer named '${name}'`);
    return b.tensor;
  }

  /** Direct children in field order. */
  *children(): Generator<[string, Module]> {
    for (const [name, value] of Object.entries(this)) if (value instanceof Module) yield [name, value];
  }

  *namedModules(prefix = ''): Generator<[string, Module]> {
    yield [prefix, this];
    for (const [name, child] of this.children()) yield* child.namedModules(prefix ? `${prefix}.${name}` : name);
  }

  /** Every parameter once (a tied weight under its first name), in definition order. */
  namedParameters(): Array<[string, Parameter]> {
    const seen = new Set<Tensor>();
    const out: Array<[string, Parameter]> = [];
    for (const [name, p] of this.allParameters('')) {
      if (seen.has(p)) continue;
      seen.add(p);
      out.push([name, p]);
    }
    return out;
  }

  parameters(): Parameter[] {
    return this.namedParameters().map(([, p]) => p);
  }

  /** Total number of parameter values (tied weights counted once). */
  numParameters(): number {
    return this.parameters().reduce((n, p) => n + p.size, 0);
  }

  private *allParameters(prefix: string): Generator<[string, Parameter]> {
    for (const [name, value] of Object.entries(this)) {
      const full = prefix ? `${prefix}.${name}` : name;
      if (value instanceof Parameter) yield [full, value];
      else if (value instanceof Module) yield* value.allParameters(full);
    }
  }

  /** Every parameter and persistent buffer under every name it has (tied weights appear under each name). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [prefix, m] of this.namedModules()) {
      const join = (n: string): string => (prefix ? `${prefix}.${n}` : n);
      for (const [name, value] of Object.entries(m)) if (value instanceof Parameter) out.set(join(name), value);
      for (const [name, b] of m.buffers) if (b.persistent) out.set(join(name), b.tensor);
    }
    return out;
  }

  /**
   * Copies values into this module's tensors (in place, so tied weights stay tied). Shape or dtype mismatches are
   * errors naming the key; with `strict`, so are missing and unexpected keys.
   */
  loadStateDict(state: Map<string, Tensor> | Record<string, Tensor>, options: { strict?: boolean } = {}): LoadResult {
    const strict = options.strict ?? true;
    const incoming = state instanceof Map ? state : new Map(Object.entries(state));
    const own = this.stateDict();
    const missingKeys = [...own.keys()].filter((k) => !incoming.has(k));
    const unexpectedKeys = [...incoming.keys()].filter((k) => !own.has(k));
    for (const [key, target] of own) {
      const source = incoming.get(key);
      if (!source) continue;
      if (!sameShape(source.shape, target.shape)) {
        throw new StateDictError(
          `loadStateDict: '${key}' has shape ${shapeString(source.shape)}, the model expects ${shapeString(target.shape)}`,
        );
      }
      if (source.dtype !== target.dtype) {
        throw new StateDictError(`loadStateDict: '${key}' is ${source.dtype}, the model expects ${target.dtype}`);
      }
      if (source !== target) target.data.set(source.data);
    }
    if (strict && (missingKeys.length > 0 || unexpectedKeys.length > 0)) {
      const parts = [];
      if (missingKeys.length) parts.push(`missing keys: ${missingKeys.join(', ')}`);
      if (unexpectedKeys.length) parts.push(`unexpected keys: ${unexpectedKeys.join(', ')}`);
      throw new StateDictError(`loadStateDict: ${parts.join('; ')}`);
    }
    return { missingKeys, unexpectedKeys };
  }

  train(mode = true): this {
    for (const [, m] of this.namedModules()) m.training = mode;
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) p.grad = null;
  }
}

/** Submodules named 0, 1, 2, … (HF's `layer.0.…`). */
export class ModuleList<M extends Module = Module> extends Module implements Iterable<M> {
  [index: number]: M;
  length = 0;

  constructor(modules: Iterable<M> = []) {
    super();
    for (const m of modules) this.push(m);
  }

  push(m: M): void {
    this[this.length] = m;
    this.length++;
  }

  *[Symbol.iterator](): Iterator<M> {
    for (let i = 0; i < this.length; i++) yield this[i]!;
  }

  at(i: number): M {
    const m = this[i < 0 ? this.length + i : i];
    if (!m) throw new RangeError(`ModuleList: index ${i} out of range for ${this.length} modules`);
    return m;
  }
}
