/**
 * Collects V8's young generation on demand, for code that drops large native buffers at a low JavaScript
 * allocation rate. A compiled training step gets every state output (parameters, optimizer moments) from
 * onnxruntime as a fresh ArrayBuffer each step, and V8 frees such a buffer's memory only when a scavenge finds its
 * wrapper dead. With a few tens of kB of JS per step, scavenges came every ~75 steps (when the young generation
 * fills, or 32 MiB of young external buffers pile up), so up to ~40 MB of dead buffers waited at a time and malloc
 * kept that high-water mark: RSS grew by it over the first few hundred steps (notes/issue-13-training.md).
 *
 * `gc` is V8's `--expose-gc` function; the flag is set at the first call when the process did not start with it,
 * and the function is taken from a fresh context (the flag only adds it to contexts created after it is set), as
 * Jest does for `--logHeapUsage`. Without it (a runtime that refuses the flag) nothing is collected.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

type GcFunction = (options: { type: 'minor' }) => void;

let gc: GcFunction | null | undefined;

function exposedGc(): GcFunction | null {
  const global = (globalThis as { gc?: GcFunction }).gc;
  if (typeof global === 'function') return global;
  try {
    setFlagsFromString('--expose-gc');
    const fromContext = runInNewContext('gc') as unknown;
    return typeof fromContext === 'function' ? (fromContext as GcFunction) : null;
  } catch {
    return null;
  }
}

/** Dead native buffers between collections: below this, V8's own schedule is left alone. */
export const YOUNG_GC_BUDGET_BYTES = 8 * 2 ** 20;

/**
 * Counts `bytes` of native buffers just dropped (or about to be, at the next scavenge) and collects the young
 * generation once `YOUNG_GC_BUDGET_BYTES` have been counted since the last collection. A scavenge of a young
 * generation holding little live data takes well under a millisecond.
 */
export class YoungGarbage {
  private dropped = 0;

  add(bytes: number): void {
    this.dropped += bytes;
    if (this.dropped < YOUNG_GC_BUDGET_BYTES) return;
    this.dropped = 0;
    if (gc === undefined) gc = exposedGc();
    gc?.({ type: 'minor' });
  }
}
