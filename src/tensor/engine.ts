import type { Backend, KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backends/backend.js';

/**
 * Global engine state: the active backend, whether autograd records, and the open memory scopes. The tensor layer
 * knows backends only by this interface: the concrete ones (src/backends/register.ts) are registered by the package
 * entry (src/index.ts), the CLI, and each script or test setup that runs ops, so imports run tensor ← backends.
 */

export type BackendName = Backend['name'];

const factories = new Map<BackendName, () => Backend>();
const created = new Map<BackendName, Backend>();
let active: Backend | undefined;

/** Makes a backend available by name; it is created on first use. */
export function registerBackend(name: BackendName, create: () => Backend): void {
  factories.set(name, create);
  created.delete(name);
}

function backendNamed(name: BackendName): Backend {
  let backend = created.get(name);
  if (!backend) {
    const create = factories.get(name);
    if (!create) {
      const known = factories.size > 0 ? `registered: ${[...factories.keys()].join(', ')}` : 'none is registered';
      throw new Error(
        `attn: no '${name}' backend (${known}); import 'attn' or src/backends/register.js before running ops`,
      );
    }
    backend = create();
    created.set(name, backend);
  }
  return backend;
}

/** The backend ops run on: `onnx` by default, `reference` when ATTN_BACKEND=reference. */
export function getBackend(): Backend {
  active ??= backendNamed(process.env.ATTN_BACKEND === 'reference' ? 'reference' : 'onnx');
  return active;
}

export function setBackend(name: BackendName): Backend {
  active = backendNamed(name);
  return active;
}

/** Intra-op threads for the onnx backend (0: one per core). */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`setNumThreads: expected a whole number >= 0, got ${n}`);
  process.env.ATTN_NUM_THREADS = String(n);
  for (const backend of created.values()) backend.setNumThreads?.(n);
}

/** Runs `fn` with the given backend active, then restores the previous one (tests compare backends this way). */
export function withBackend<T>(name: BackendName, fn: () => T): T {
  const previous = getBackend();
  setBackend(name);
  try {
    return fn();
  } finally {
    active = previous;
  }
}

// ---- graph capture hooks ----

/**
 * What a graph tracer (src/backends/onnx/capture.ts) needs to see while it records: every primitive dispatched,
 * every read of tensor values by JavaScript (values JS reads can steer the computation, so a recorded graph is only
 * valid while they stay the same), in-place assignments, and the per-run values that are not constants.
 * The tensor layer only calls these hooks; it knows nothing of ONNX.
 */
export interface OpTracer {
  /** Runs `op` on the active backend and records it (its output storage names the result). */
  dispatch<K extends PrimitiveOp>(op: K, inputs: readonly TracedTensor[], attrs: PrimitiveAttrs[K]): KernelTensor;
  /** JavaScript read the values of `t` (not a kernel). */
  hostRead(t: TracedTensor): void;
  /** `target`'s storage now holds `source`'s values (an optimizer updating a parameter in place). */
  assigned(target: TracedTensor, source: TracedTensor): void;
  /** A value that changes from run to run without being computed by ops (learning rate, bias correction). */
  stepInput(name: string, t: TracedTensor): void;
  /** A random tensor (a dropout mask): `generate` is called again on every replay, in recording order. */
  randomInput(t: TracedTensor, generate: () => KernelTensor['data']): void;
  /** A random number was drawn outside `randomTensor` (it would be baked into the graph as a constant). */
  randomDrawn(): void;
}

/** The parts of a Tensor a tracer sees (storage identifies a value: reshapes share it). */
export interface TracedTensor extends KernelTensor {
  readonly storage: KernelTensor['data'];
}

/** The tracer recording now, or null (the normal, eager case). Read on every op and every `.data` access. */
export let activeTracer: OpTracer | null = null;

/** Runs `fn` with `tracer` recording every op (nested captures are not supported). */
export function withTracer<T>(tracer: OpTracer, fn: () => T): T {
  if (activeTracer) throw new Error('capture: a graph capture is already recording; captures do not nest');
  activeTracer = tracer;
  try {
    return fn();
  } finally {
    activeTracer = null;
  }
}

/** Runs `fn` with no tracer seeing it: validation reads (index range checks) and a random input's own draws. */
export function untraced<T>(fn: () => T): T {
  const tracer = activeTracer;
  activeTracer = null;
  try {
    return fn();
  } finally {
    activeTracer = tracer;
  }
}

// ---- autograd recording ----

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording the autograd graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

// ---- memory scopes ----

export interface Disposable {
  dispose(): void;
}

const scopes: Set<Disposable>[] = [];

/** Called by every new tensor: the innermost open scope owns it. */
export function track(t: Disposable): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Takes `t` out of every open scope, so `tidy` does not free it. */
export function keep<T extends Disposable>(t: T): T {
  for (const s of scopes) s.delete(t);
  return t;
}

/**
 * Runs `fn` and frees every tensor it created except those it returns (a tensor, or an array / object of them).
 * Long training loops wrap each step in it so that memory stays flat.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Disposable>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } finally {
    scopes.pop();
  }
  const kept = new Set<unknown>();
  collect(result, kept, 0);
  for (const t of scope) {
    if (kept.has(t)) track(t);
    else t.dispose();
  }
  return result;
}

function collect(value: unknown, into: Set<unknown>, depth: number): void {
  if (value === null || typeof value !== 'object' || depth > 4) return;
  into.add(value);
  if (Array.isArray(value)) for (const v of value) collect(v, into, depth + 1);
  else if (value.constructor === Object) for (const v of Object.values(value)) collect(v, into, depth + 1);
}
