/**
 * A small seeded generator for data work (shuffles, splits, masking), so that a seed gives the same order on every
 * machine and Node version. xoshiro128** with a splitmix32-expanded seed: fast, 128 bits of state, and the state is
 * four uint32 values that a checkpoint can save and restore (`state()` / `Rng.fromState`).
 */
export class Rng {
  private readonly s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isInteger(seed)) throw new TypeError(`Rng: seed must be an integer, got ${seed}`);
    this.s = new Uint32Array(4);
    // splitmix32 spreads a small seed (0, 1, 42) over the whole state; xoshiro must never start all-zero.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  static fromState(state: readonly number[]): Rng {
    if (state.length !== 4 || state.every((v) => v === 0)) {
      throw new RangeError(`Rng.fromState: expected 4 uint32 values, not all zero; got [${state.join(', ')}]`);
    }
    const rng = new Rng(0);
    rng.s.set(state);
    return rng;
  }

  /** The generator's state, to save in a checkpoint. */
  state(): number[] {
    return Array.from(this.s);
  }

  /** A uniform uint32. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** A uniform float in [0, 1) with 32 bits of randomness. */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** A uniform integer in [0, n), unbiased (rejection of the short last bucket). */
  nextInt(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 4294967296) {
      throw new RangeError(`Rng.nextInt: n must be an integer in [1, 2^32], got ${n}`);
    }
    const limit = 4294967296 - (4294967296 % n);
    let x: number;
    do x = this.nextUint32();
    while (x >= limit);
    return x % n;
  }

  /** Shuffles `items` in place (Fisher–Yates) and returns it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(items: T): T {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
