import { constants, PerformanceObserver } from 'node:perf_hooks';
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
  it('runs a V8 minor collection once a budget of bytes is counted, in a process without --expose-gc', async () => {
    expect(global.gc).toBeUndefined();
    const { YOUNG_GC_BUDGET_BYTES, YoungGarbage } = await load();
    // Whether one particular dead object is freed depends on V8's heuristics (flaky as a test); that a scavenge ran
    // does not: onnxruntime's dropped output buffers are freed by exactly such a collection.
    const minor: number[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries())
        if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MINOR)
          minor.push(1);
    });
    observer.observe({ entryTypes: ['gc'] });
    try {
      new YoungGarbage().add(YOUNG_GC_BUDGET_BYTES);
      for (let i = 0; i < 50 && minor.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(minor.length).toBeGreaterThan(0);
    } finally {
      observer.disconnect();
    }
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
