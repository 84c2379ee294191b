/**
 * CompiledStep: a stateful step (a training step: forward, backward, clipping, optimizer update) run as captured
 * ONNX graphs, one per shape signature of its batch.
 *
 *   const step = new CompiledStep({ state, scalars, accept })
 *   const { outputs, mode } = step.run(batch, fn)
 *
 * The first batch of a signature runs `fn(batch)` eagerly while capture.ts records it (mode 'captured'); later
 * batches of that signature replay the graph (mode 'replayed'): feeds are the batch, the current state tensors and
 * `scalars()`, and the state outputs are written back through each slot's `set` when `accept(outputs)` allows
 * (a non-finite loss leaves the weights as they were). With `snapshot`, the recording run is undone (state values
 * restored, plus whatever `snapshot` saved: RNG, step counts) and the batch is replayed, so every step is computed
 * by a graph: a run resumed from a checkpoint is then bit-identical to one that was not interrupted. A batch of a new shape captures a new graph; keep their
 * number small by padding batches to a few bucket lengths (the Trainer pads to multiples of 16 or powers of 2).
 * A step that cannot be captured (JS reads computed values) or whose guarded inputs keep changing (JS reads an
 * input's values, e.g. an attention mask, so the graph may depend on them) runs eagerly for that signature, with a
 * one-line warning that says why (mode 'eager').
 */
import { sameShape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import { YoungGarbage } from '../../util/young_gc.js';
import { capture, CaptureError, GraphGuardError, type CapturedGraph, type CaptureOptions } from './capture.js';

/** A piece of state fed to the graph and written back from its output of the same name. */
export interface StateSlot {
  name: string;
  tensor: Tensor;
  set(value: Tensor): void;
}

export interface CompiledStepOptions {
  /** The state as it is now (called before each capture and each replay). */
  state(): StateSlot[];
  /**
   * Values of the `stepScalar`s for the coming run, by name (a superset is fine): written into `into` (an object
   * kept per graph, so a long run allocates none) or returned in an object of its own.
   */
  scalars(into: Record<string, number>): Record<string, number>;
  /** Whether a replay's state outputs are written back (default: always). */
  accept?(outputs: Record<string, Tensor>): boolean;
  /** Called after a replay's state was written back (e.g. to count the optimizer step). */
  afterReplay?(): void;
  /** Saves what a recording run changes besides the state slots (RNG, step counts); returns how to restore it. */
  snapshot?(): () => void;
  optimization?: CaptureOptions['optimization'];
  /** Recaptures allowed after guard misses before a signature runs eagerly. Default 2. */
  maxRecaptures?: number;
}

export type StepRunKind = 'captured' | 'replayed' | 'eager';

interface Entry {
  graph: CapturedGraph | null;
  stateNames: ReadonlySet<string>;
  recaptures: number;
  /**
   * The feeds of a replay and the step scalars' values, objects per graph refilled on each step: a step that built
   * ~100 feeds afresh made V8 grow its young generation over a long run (notes/issue-13-training.md).
   */
  feeds: Record<string, Tensor | number>;
  scalars: Record<string, number>;
}

/** `name:dtype[dims]` of every batch tensor, sorted by name. */
export function shapeSignature(batch: Record<string, Tensor>): string {
  return Object.keys(batch)
    .sort()
    .map((k) => `${k}:${batch[k]!.dtype}[${batch[k]!.shape.join(',')}]`)
    .join(' ');
}

/** Whether `batch` has exactly the tensors of `like`, by name, dtype and shape (a batch's signature, unbuilt). */
function sameSignature(batch: Record<string, Tensor>, like: Record<string, Tensor>): boolean {
  let count = 0;
  for (const name in batch) {
    const a = batch[name]!;
    const b = like[name];
    if (!b || a.dtype !== b.dtype || !sameShape(a.shape, b.shape)) return false;
    count++;
  }
  for (const _ in like) count--;
  return count === 0;
}

export class CompiledStep {
  private readonly entries = new Map<string, Entry>();
  /** The last batch and its signature: a run of batches of one shape builds no signature string. */
  private lastBatch: Record<string, Tensor> | null = null;
  private lastKey = '';
  private readonly warned = new Set<string>();
  private readonly garbage = new YoungGarbage();
  /** How many runs went each way (tests and diagnostics check that steps really replay). */
  readonly counts: Record<StepRunKind, number> = { captured: 0, replayed: 0, eager: 0 };

  constructor(private readonly options: CompiledStepOptions) {}

  /** Graphs captured so far (one per shape signature). */
  get graphCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (e.graph) n++;
    return n;
  }

  run(
    batch: Record<string, Tensor>,
    fn: (batch: Record<string, Tensor>) => Record<string, Tensor>,
  ): { outputs: Record<string, Tensor>; mode: StepRunKind } {
    const result = this.dispatch(distinctStorage(batch), fn);
    this.counts[result.mode]++;
    return result;
  }

  private dispatch(
    batch: Record<string, Tensor>,
    fn: (batch: Record<string, Tensor>) => Record<string, Tensor>,
  ): { outputs: Record<string, Tensor>; mode: StepRunKind } {
    const key = this.lastBatch && sameSignature(batch, this.lastBatch) ? this.lastKey : shapeSignature(batch);
    this.lastBatch = batch;
    this.lastKey = key;
    const entry = this.entries.get(key);
    if (entry && !entry.graph) return { outputs: fn(batch), mode: 'eager' };
    if (entry?.graph) {
      try {
        return { outputs: this.replay(entry, entry.graph, batch), mode: 'replayed' };
      } catch (err) {
        if (!(err instanceof GraphGuardError)) throw err;
        entry.graph.dispose();
        entry.graph = null;
        if (++entry.recaptures > (this.options.maxRecaptures ?? 2)) {
          this.warnOnce(
            `attn: input '${err.input}' of the compiled step changes and JavaScript reads it, so the graph could depend on it; running batches of ${key} eagerly`,
          );
          return { outputs: fn(batch), mode: 'eager' };
        }
      }
    }
    return this.capture(key, batch, fn, entry?.recaptures ?? 0);
  }

  private capture(
    key: string,
    batch: Record<string, Tensor>,
    fn: (batch: Record<string, Tensor>) => Record<string, Tensor>,
    recaptures: number,
  ): { outputs: Record<string, Tensor>; mode: StepRunKind } {
    const slots = this.options.state();
    const inputs: Record<string, Tensor> = { ...batch };
    for (const s of slots) inputs[s.name] = s.tensor;
    const names = new Set(slots.map((s) => s.name));
    const before = this.options.snapshot
      ? new Map(slots.map((s) => [s.name, new Tensor(s.tensor.storage.slice(), s.tensor.shape)]))
      : null;
    const restore = this.options.snapshot?.();
    let graph: CapturedGraph;
    try {
      graph = capture(
        () => {
          const outputs = fn(batch);
          // The slots again: the step replaced or updated their tensors.
          const state = Object.fromEntries(this.options.state().map((s) => [s.name, s.tensor]));
          return { ...outputs, ...state };
        },
        { inputs, optimization: this.options.optimization },
      );
    } catch (err) {
      if (!(err instanceof CaptureError)) throw err;
      this.entries.set(key, { graph: null, stateNames: names, recaptures, feeds: {}, scalars: {} });
      this.warnOnce(`attn: the step cannot be compiled (${err.reason}); running batches of ${key} eagerly`);
      return { outputs: withoutState(err.outputs, names), mode: 'eager' };
    }
    const entry = { graph, stateNames: names, recaptures, feeds: {}, scalars: {} };
    this.entries.set(key, entry);
    const first = withoutState(graph.firstOutputs, names);
    graph.releaseFirstOutputs();
    if (!before || !restore) return { outputs: first, mode: 'captured' };
    // Undo the recording run and compute the step with the graph, as every later step will be.
    for (const s of this.options.state()) s.set(before.get(s.name)!);
    restore();
    return { outputs: this.replay(entry, graph, batch), mode: 'captured' };
  }

  private replay(entry: Entry, graph: CapturedGraph, batch: Record<string, Tensor>): Record<string, Tensor> {
    const slots = this.options.state();
    const feeds = entry.feeds;
    for (const name in batch) feeds[name] = batch[name]!;
    for (const s of slots) feeds[s.name] = s.tensor;
    // NaN marks a value scalars() left out (kept objects would otherwise feed the last step's).
    for (const name of graph.stepScalars) entry.scalars[name] = Number.NaN;
    const scalars = this.options.scalars(entry.scalars);
    for (const name of graph.stepScalars) {
      const value = scalars[name];
      if (value === undefined || Number.isNaN(value))
        throw new RangeError(`compiled step: no value for the step scalar '${name}'`);
      feeds[name] = value;
    }
    const outputs = graph.run(feeds);
    const accepted = this.options.accept?.(outputs) ?? true;
    for (const s of slots) {
      const value = outputs[s.name];
      if (!value) continue;
      if (accepted) s.set(value);
      // Each state output is a new native buffer; it, or the buffer it replaced, is garbage from now on.
      this.garbage.add(value.storage.byteLength);
    }
    if (accepted) this.options.afterReplay?.();
    return withoutState(outputs, entry.stateNames);
  }

  private warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    console.warn(message);
  }

  dispose(): void {
    for (const e of this.entries.values()) e.graph?.dispose();
    this.entries.clear();
  }
}

/** Graph inputs need storage of their own: a collator may hand the same tensor as two columns (labels = ids). */
function distinctStorage(batch: Record<string, Tensor>): Record<string, Tensor> {
  if (!sharesStorage(batch)) return batch;
  const seen = new Set<unknown>();
  const out: Record<string, Tensor> = {};
  for (const [name, t] of Object.entries(batch)) {
    out[name] = seen.has(t.storage) ? t.clone() : t;
    seen.add(t.storage);
  }
  return out;
}

/** Whether two of the batch's tensors share a buffer (checked without allocating: a batch has a few columns). */
function sharesStorage(batch: Record<string, Tensor>): boolean {
  for (const a in batch) for (const b in batch) if (a < b && batch[a]!.storage === batch[b]!.storage) return true;
  return false;
}

function withoutState(outputs: Record<string, Tensor>, stateNames: ReadonlySet<string>): Record<string, Tensor> {
  const out: Record<string, Tensor> = {};
  for (const name in outputs) if (!stateNames.has(name)) out[name] = outputs[name]!;
  return out;
}
