import { describe, expect, it } from 'vitest';
import { ops, Tensor, tensor } from '../../src/tensor/index.js';
import {
  LearnedPositionalEmbedding,
  RotaryEmbedding,
  SinusoidalPositionalEmbedding,
  defaultPositionIds,
  sinusoidalTable,
} from '../../src/nn/index.js';
import { expectClose, seeded } from './helpers.js';

describe('sinusoidal positions', () => {
  it('interleaved layout: PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i+1) = cos(…)', () => {
    const table = sinusoidalTable(50, 6).toArray() as number[][];
    for (const pos of [0, 1, 7, 49]) {
      for (let i = 0; i < 3; i++) {
        const angle = pos / 10000 ** ((2 * i) / 6);
        expect(table[pos]![2 * i]).toBeCloseTo(Math.sin(angle), 6);
        expect(table[pos]![2 * i + 1]).toBeCloseTo(Math.cos(angle), 6);
      }
    }
  });

  it.each([6, 7])("half layout matches HF Marian's _init_weight (dim %i)", (dim) => {
    // MarianSinusoidalPositionalEmbedding: position_enc[pos, j] = pos / 10000^(2·(j // 2) / dim);
    // out[:, :sentinel] = sin(position_enc[:, 0::2]); out[:, sentinel:] = cos(position_enc[:, 1::2]).
    const sentinel = dim % 2 === 0 ? dim / 2 : Math.floor(dim / 2) + 1;
    const table = sinusoidalTable(20, dim, 'half').toArray() as number[][];
    for (let pos = 0; pos < 20; pos++) {
      const enc = Array.from({ length: dim }, (_, j) => pos / 10000 ** ((2 * Math.floor(j / 2)) / dim));
      const expected = [
        ...enc.filter((_, j) => j % 2 === 0).map(Math.sin),
        ...enc.filter((_, j) => j % 2 === 1).map(Math.cos),
      ];
      expect(expected.length).toBe(dim);
      expect(table[pos]!.slice(0, sentinel).length).toBe(sentinel);
      expectClose(table[pos]!, expected, 1e-6);
    }
  });

  it('the module looks rows up by position and keeps the table out of the state dict', () => {
    const pe = new SinusoidalPositionalEmbedding(16, 4, 'half');
    const out = pe.forward(tensor([[3, 0]], { dtype: 'int32' }));
    expect(out.shape).toEqual([1, 2, 4]);
    expectClose(out, [...sinusoidalTable(16, 4, 'half').data.subarray(12, 16), 0, 0, 1, 1], 1e-7);
    expect([...pe.stateDict().keys()]).toEqual([]);
    expect([...new SinusoidalPositionalEmbedding(4, 4, 'half', { persistent: true }).stateDict().keys()]).toEqual([
      'weight',
    ]);
    expect(() => pe.forward(tensor([16], { dtype: 'int32' }))).toThrow(/position 16 is outside \[0, 16\)/);
  });
});

describe('learned positions', () => {
  it('is a trainable table indexed by position', () => {
    const wpe = new LearnedPositionalEmbedding(8, 3);
    expect(wpe.namedParameters().map(([n, p]) => [n, p.shape])).toEqual([['weight', [8, 3]]]);
    const out = wpe.forward(defaultPositionIds(3, 5));
    expect(out.shape).toEqual([3, 3]);
    expectClose(out.data.subarray(0, 3), wpe.weight.data.subarray(15, 18), 0);
    expect(() => wpe.forward(defaultPositionIds(4, 5))).toThrow(
      /LearnedPositionalEmbedding: position 8 is outside \[0, 8\)/,
    );
  });
});

describe('rotary embedding', () => {
  const D = 8;
  const rope = new RotaryEmbedding(D);

  /** One vector (D) rotated to `position`, through applyRotary on a (1, 1, 1, D) tensor. */
  function rotated(v: Tensor, position: number): Tensor {
    const [q] = rope.applyRotary(
      v.reshape([1, 1, 1, D]),
      v.reshape([1, 1, 1, D]),
      tensor([[position]], { dtype: 'int32' }),
    );
    return q.reshape([D]);
  }
  const dot = (a: Tensor, b: Tensor): number => ops.sum(ops.mul(a, b)).item();

  it('is the identity at position 0 and rotates pair (i, i + D/2) by pos·θ_i', () => {
    const v = seeded([D], 1);
    expectClose(rotated(v, 0), v, 1e-7);
    const out = rotated(v, 3);
    for (let i = 0; i < D / 2; i++) {
      const angle = 3 / 10000 ** ((2 * i) / D);
      const [a, b] = [v.data[i]!, v.data[i + D / 2]!];
      expect(out.data[i]).toBeCloseTo(a * Math.cos(angle) - b * Math.sin(angle), 5);
      expect(out.data[i + D / 2]).toBeCloseTo(b * Math.cos(angle) + a * Math.sin(angle), 5);
    }
  });

  it('preserves norms', () => {
    const v = seeded([D], 2);
    for (const pos of [1, 5, 15])
      expect(Math.sqrt(dot(rotated(v, pos), rotated(v, pos)))).toBeCloseTo(Math.sqrt(dot(v, v)), 5);
  });

  it('q·k depends only on the relative position', () => {
    const q = seeded([D], 3);
    const k = seeded([D], 4);
    const at = (m: number, n: number): number => dot(rotated(q, m), rotated(k, n));
    expect(at(5, 2)).toBeCloseTo(at(3, 0), 5);
    expect(at(12, 9)).toBeCloseTo(at(3, 0), 5);
    expect(at(1, 4)).toBeCloseTo(at(0, 3), 5);
    expect(Math.abs(at(5, 2) - at(5, 3))).toBeGreaterThan(1e-3);
  });

  it('rotates (B, H, T, D) queries and (B, Hkv, T, D) keys by per-row positions', () => {
    const q = seeded([2, 4, 3, D], 5);
    const k = seeded([2, 2, 3, D], 6);
    const positions = tensor(
      [
        [0, 1, 2],
        [30, 31, 32],
      ],
      { dtype: 'int32' },
    );
    const [qr, kr] = rope.applyRotary(q, k, positions, 33);
    expect(qr.shape).toEqual([2, 4, 3, D]);
    expect(kr.shape).toEqual([2, 2, 3, D]);
    // Batch row 1, head 3, time 2 was rotated to position 32.
    const vector = (t: Tensor, b: number, h: number, time: number): Tensor =>
      ops.reshape(ops.slice(ops.slice(ops.slice(t, 0, b, b + 1), 1, h, h + 1), 2, time, time + 1), [D]);
    expectClose(vector(qr, 1, 3, 2), rotated(vector(q, 1, 3, 2), 32), 1e-5);
  });

  it('rejects odd dims and non-int positions', () => {
    expect(() => new RotaryEmbedding(5)).toThrow(/even/);
    expect(() => rope.applyRotary(seeded([1, 1, 1, D], 1), seeded([1, 1, 1, D], 1), tensor([[0]]))).toThrow(/int32/);
  });
});
