import type { Generator } from '../tensor/random.js';
import { randn } from '../tensor/creation.js';
import { Tensor } from '../tensor/tensor.js';
import * as F from './functional.js';
import { Module, Parameter } from './module.js';

/**
 * Position information for transformers: fixed sinusoids and a learned table (rotary embeddings: nn/rotary.ts). Each takes
 * int32 position ids (any shape, usually (B, T)) so cached decoding passes the absolute positions of new tokens.
 */

/**
 * 'interleaved': sin and cos alternate in columns (2i, 2i+1), as in "Attention Is All You Need".
 * 'half': all sines, then all cosines (Hugging Face's Marian/BART sinusoidal embedding).
 */
export type SinusoidLayout = 'interleaved' | 'half';

/** The angle of frequency i at a position: pos / 10000^(2i/dim) by default ("Attention Is All You Need"). */
export type SinusoidAngle = (position: number, frequency: number) => number;

/**
 * (numPositions, dim) table of sin/cos(angle(pos, i)) for frequencies i < ceil(dim / 2). For odd dims the extra
 * column is a sine, as Marian does. The default angle is computed in float64, as transformers' numpy code does; a
 * model whose graph computes angles in float32 (USE) passes its own.
 */
export function sinusoidalTable(
  numPositions: number,
  dim: number,
  layout: SinusoidLayout = 'interleaved',
  angle: SinusoidAngle = (pos, i) => pos / Math.pow(10000, (2 * i) / dim),
): Tensor {
  const table = new Float32Array(numPositions * dim);
  const sines = Math.ceil(dim / 2);
  for (let pos = 0; pos < numPositions; pos++) {
    const row = pos * dim;
    for (let i = 0; i < sines; i++) {
      const a = angle(pos, i);
      const [sinColumn, cosColumn] = layout === 'interleaved' ? [2 * i, 2 * i + 1] : [i, sines + i];
      table[row + sinColumn] = Math.sin(a);
      if (cosColumn < dim) table[row + cosColumn] = Math.cos(a);
    }
  }
  return new Tensor(table, [numPositions, dim]);
}

function checkPositions(positionIds: Tensor, limit: number, owner: string): void {
  if (positionIds.dtype !== 'int32')
    throw new TypeError(`${owner}: position ids must be int32, got ${positionIds.dtype}`);
  const ids = positionIds.data;
  for (let i = 0; i < ids.length; i++) {
    if (ids[i]! < 0 || ids[i]! >= limit)
      throw new RangeError(`${owner}: position ${ids[i]} is outside [0, ${limit}) (maxPositions)`);
  }
}

/** Default positions pastLength … pastLength+T-1, as a (T) vector that broadcasts over the batch. */
export function defaultPositionIds(length: number, pastLength = 0): Tensor {
  const ids = new Int32Array(length);
  for (let i = 0; i < length; i++) ids[i] = pastLength + i;
  return new Tensor(ids, [length]);
}

/** Fixed sinusoids looked up by position: (...positionIds.shape, dim). The table is a non-trainable buffer. */
export class SinusoidalPositionalEmbedding extends Module {
  constructor(
    readonly maxPositions: number,
    readonly dim: number,
    readonly layout: SinusoidLayout = 'interleaved',
    options: { persistent?: boolean } = {},
  ) {
    super();
    // HF Marian saves the table as `embed_positions.weight`; others recompute it, so it is not saved by default.
    this.registerBuffer('weight', sinusoidalTable(maxPositions, dim, layout), options.persistent ?? false);
  }

  forward(positionIds: Tensor): Tensor {
    checkPositions(positionIds, this.maxPositions, 'SinusoidalPositionalEmbedding');
    return F.embedding(positionIds, this.buffer('weight'));
  }
}

/** A trained table (maxPositions, dim), as GPT-2's `wpe` and BERT's `position_embeddings`. */
export class LearnedPositionalEmbedding extends Module {
  weight: Parameter;

  constructor(
    readonly maxPositions: number,
    readonly dim: number,
    options: { std?: number; generator?: Generator } = {},
  ) {
    super();
    this.weight = new Parameter(randn([maxPositions, dim], { std: options.std ?? 0.02, generator: options.generator }));
  }

  forward(positionIds: Tensor): Tensor {
    checkPositions(positionIds, this.maxPositions, 'LearnedPositionalEmbedding');
    return F.embedding(positionIds, this.weight);
  }
}
