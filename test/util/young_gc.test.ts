import { afterEach, describe, expect, it, vi } from 'vitest';

const global = globalThis as { gc?: unknown };
const started = global.gc;
afterEach(() => {
  global.gc = started;
  vi.resetModules();
});

/** A fresh copy of the module: it keeps the gc function it found first. */
const load = async (): Promise<typeof import('../../src/util/young_gc.js')> => import('../../src/util/young_gc.js');

describe('YoungGarbage', () => {
  it('frees a dropped young object once a budget of bytes is counted, in a process without --expose-gc', async () => {
    expect(global.gc).toBeUndefined();
    const { YOUNG_GC_BUDGET_BYTES, YoungGarbage } = await load();
    let freed = false;
    const registry = new FinalizationRegistry(() => void (freed = true));
    (() => registry.register(new Float32Array(1000), 'dropped'))();
    new YoungGarbage().add(YOUNG_GC_BUDGET_BYTES);
    // Finalization callbacks run in a later task.
    for (let i = 0; i < 20 && !freed; i++) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(freed).toBe(true);
  });

  it('collects once per budget, not before', async () => {
    const gc = vi.fn();
    global.gc = gc;
    const { YOUNG_GC_BUDGET_BYTES, YoungGarbage } = await load();
    const garbage = new YoungGarbage();
    garbage.add(YOUNG_GC_BUDGET_BYTES - 1);
    expect(gc).not.toHaveBeenCalled();
    garbage.add(1);
    expect(gc).toHaveBeenCalledTimes(1);
    expect(gc).toHaveBeenCalledWith({ type: 'minor' });
    garbage.add(YOUNG_GC_BUDGET_BYTES / 2);
    garbage.add(YOUNG_GC_BUDGET_BYTES / 2);
    expect(gc).toHaveBeenCalledTimes(2);
  });
});
