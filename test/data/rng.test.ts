import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/data/rng.js';

describe('Rng', () => {
  it('is xoshiro128** (reference outputs from state [1, 2, 3, 4])', () => {
    const rng = Rng.fromState([1, 2, 3, 4]);
    expect(Array.from({ length: 6 }, () => rng.nextUint32())).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492,
    ]);
  });

  it('gives the same sequence for the same seed and a different one for another seed', () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const seqA = Array.from({ length: 5 }, () => a.nextUint32());
    expect(Array.from({ length: 5 }, () => b.nextUint32())).toEqual(seqA);
    expect(Array.from({ length: 5 }, () => c.nextUint32())).not.toEqual(seqA);
  });

  it('resumes from a saved state exactly', () => {
    const rng = new Rng(7);
    rng.next();
    const resumed = Rng.fromState(rng.state());
    expect(Array.from({ length: 4 }, () => resumed.next())).toEqual(Array.from({ length: 4 }, () => rng.next()));
  });

  it('draws integers uniformly in range', () => {
    const rng = new Rng(1);
    const counts = new Array(6).fill(0);
    for (let i = 0; i < 60000; i++) counts[rng.nextInt(6)]++;
    // Each bucket expects 10000; 5 standard deviations is about 450.
    for (const count of counts) expect(Math.abs(count - 10000)).toBeLessThan(450);
    const floats = Array.from({ length: 1000 }, () => rng.next());
    expect(Math.min(...floats)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...floats)).toBeLessThan(1);
  });

  it('shuffles into a permutation', () => {
    const items = Array.from({ length: 100 }, (_, i) => i);
    const shuffled = new Rng(3).shuffle([...items]);
    expect(shuffled).not.toEqual(items);
    expect([...shuffled].sort((x, y) => x - y)).toEqual(items);
  });

  it('refuses bad seeds and states', () => {
    expect(() => new Rng(0.5)).toThrow(/seed must be an integer/);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/not all zero/);
  });
});
