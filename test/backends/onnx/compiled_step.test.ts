import { afterEach, describe, expect, it, vi } from 'vitest';
import { CompiledStep, type StateSlot } from '../../../src/backends/onnx/compiled_step.js';
import { randn, tensor } from '../../../src/tensor/creation.js';
import { keep, tidy } from '../../../src/tensor/engine.js';
import type { Tensor } from '../../../src/tensor/tensor.js';

/** A CompiledStep with one piece of state, `acc`. */
function accumulator(): { step: CompiledStep; acc: () => Tensor } {
  let acc = keep(tensor([0]));
  const slot = (): StateSlot => ({ name: 'acc', tensor: acc, set: (v) => void (acc = keep(v)) });
  return { step: new CompiledStep({ state: () => [slot()], scalars: () => ({}) }), acc: () => acc };
}

/** The step: acc ← acc + sum(x), returning the new total. */
const addSum =
  (acc: () => Tensor, set: (t: Tensor) => void) =>
  (batch: Record<string, Tensor>): Record<string, Tensor> => {
    const next = acc().add(batch.x!.sum());
    set(keep(next));
    return { total: next };
  };

afterEach(() => vi.restoreAllMocks());

describe('CompiledStep', () => {
  it('captures once per shape, replays after, and writes the state back', () => {
    let acc = keep(tensor([0]));
    const step = new CompiledStep({
      state: () => [{ name: 'acc', tensor: acc, set: (v) => void (acc = keep(v)) }],
      scalars: () => ({}),
    });
    const fn = addSum(
      () => acc,
      (t) => (acc = t),
    );
    const totals: number[] = [];
    for (const shape of [[2, 3], [2, 3], [4], [2, 3], [4]]) {
      totals.push(
        tidy(() =>
          step
            .run({ x: tensor(new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(1)).reshape(shape) }, fn)
            .outputs.total!.item(),
        ),
      );
    }
    expect(totals).toEqual([6, 12, 16, 22, 26]);
    expect(step.graphCount).toBe(2);
    expect(step.counts).toEqual({ captured: 2, replayed: 3, eager: 0 });
    step.dispose();
  });

  it('takes two batch columns that are one tensor', () => {
    const { step } = accumulator();
    const x = tensor([1, 2]);
    const fn = (batch: Record<string, Tensor>): Record<string, Tensor> => ({ y: batch.a!.mul(batch.b!) });
    for (let i = 0; i < 2; i++)
      expect(Array.from(tidy(() => step.run({ a: x, b: x }, fn).outputs.y!.data))).toEqual([1, 4]);
    expect(step.counts).toEqual({ captured: 1, replayed: 1, eager: 0 });
  });

  it('runs eagerly, with a warning that says why, when the step reads computed values', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { step, acc } = accumulator();
    const fn = (batch: Record<string, Tensor>): Record<string, Tensor> => ({ y: batch.x!.mul(batch.x!.sum().item()) });
    for (let i = 0; i < 3; i++) tidy(() => step.run({ x: randn([3]) }, fn));
    expect(step.counts).toEqual({ captured: 0, replayed: 0, eager: 3 });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(
      /cannot be compiled \(JavaScript read the values of a reduceSum result/,
    );
    expect(acc().item()).toBe(0);
  });

  it('recaptures when an input JS reads changes, then gives up on that shape with a warning', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const { step } = accumulator();
    // JS reads x's values: the graph holds only for the values recorded.
    const fn = (batch: Record<string, Tensor>): Record<string, Tensor> => ({ y: batch.x!.mul(batch.x!.data[0]!) });
    const outputs = [1, 2, 3, 4, 5].map((v) => tidy(() => step.run({ x: tensor([v, 1]) }, fn).outputs.y!.data[0]));
    expect(outputs).toEqual([1, 4, 9, 16, 25]);
    expect(step.counts.eager).toBeGreaterThan(0);
    expect(String(warn.mock.calls[0]![0])).toMatch(/input 'x' of the compiled step changes and JavaScript reads it/);
  });
});
