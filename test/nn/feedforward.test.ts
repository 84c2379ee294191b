import { describe, expect, it } from 'vitest';
import { Generator } from '../../src/tensor/index.js';
import { FeedForward, GatedFeedForward, createFeedForward, type Linear } from '../../src/nn/index.js';
import { expectClose, seeded } from './helpers.js';

/** x Wᵀ + b for each row of a flat (N, in) array. */
function applyLinear(layer: Linear, rows: number[][]): number[][] {
  const [out, inp] = layer.weight.shape as [number, number];
  return rows.map((r) =>
    Array.from({ length: out }, (_, o) =>
      r.reduce((s, v, i) => s + v * layer.weight.data[o * inp + i]!, layer.bias ? layer.bias.data[o]! : 0),
    ),
  );
}

function erf(x: number): number {
  // Maclaurin series: exact to float precision for the small arguments here (closed-form approximations are not).
  let sum = 0;
  let term = x;
  for (let n = 0; n < 60; n++) {
    sum += term / (2 * n + 1);
    term *= (-x * x) / (n + 1);
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

const x = seeded([2, 3, 4], 7);
const rows = Array.from({ length: 6 }, (_, i) => Array.from(x.data.subarray(i * 4, i * 4 + 4)));
const gen = (): Generator => new Generator(3);

describe('feed-forward blocks', () => {
  it.each([
    ['relu', (v: number) => Math.max(v, 0)],
    ['gelu', (v: number) => 0.5 * v * (1 + erf(v / Math.SQRT2))],
    ['gelu_new', (v: number) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))],
  ])('%s: fc2(act(fc1(x)))', (name, act) => {
    const ff = new FeedForward(4, 6, { activation: name, std: 0.7, generator: gen() });
    const out = ff.forward(x);
    expect(out.shape).toEqual([2, 3, 4]);
    const expected = applyLinear(
      ff.fc2,
      applyLinear(ff.fc1, rows).map((r) => r.map(act)),
    );
    expectClose(out, expected.flat(), 1e-5);
  });

  it('swiglu: down(silu(gate(x)) · up(x)), without biases by default', () => {
    const ff = createFeedForward(4, 6, { activation: 'swiglu', std: 0.7, generator: gen() });
    expect(ff).toBeInstanceOf(GatedFeedForward);
    const g = ff as GatedFeedForward;
    expect(g.namedParameters().map(([n]) => n)).toEqual(['gate_proj.weight', 'up_proj.weight', 'down_proj.weight']);
    const silu = (v: number): number => v / (1 + Math.exp(-v));
    const gate = applyLinear(g.gate_proj, rows);
    const up = applyLinear(g.up_proj, rows);
    const hidden = gate.map((r, i) => r.map((v, j) => silu(v) * up[i]![j]!));
    expectClose(g.forward(x), applyLinear(g.down_proj, hidden).flat(), 1e-5);
  });

  it('dropout applies only while training', () => {
    const ff = new FeedForward(4, 6, { dropout: 0.5, generator: gen() });
    const evalOut = ff.eval().forward(x);
    expectClose(ff.forward(x), evalOut, 0);
    const trainOut = ff.train().forward(x);
    expect(Array.from(trainOut.data).some((v, i) => Math.abs(v - evalOut.data[i]!) > 1e-6)).toBe(true);
  });

  it('names an unknown activation', () => {
    expect(() => new FeedForward(4, 6, { activation: 'mish' })).toThrow(/unknown activation 'mish'/);
  });
});
