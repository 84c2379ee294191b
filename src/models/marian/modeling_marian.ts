/**
 * MarianMT: BART's post-LN encoder–decoder (modeling_bart.ts) with fixed sinusoidal positions (not saved in
 * checkpoints), no `layernorm_embedding`, and a pad token that generation may never produce.
 */
import { Module } from '../../nn/module.js';
import * as F from '../../nn/functional.js';
import { Tensor } from '../../tensor/tensor.js';
import { BartForConditionalGeneration, BartModel, type PositionalEmbedding, type StackVariant } from '../bart/modeling_bart.js';
import { registerModel } from '../auto/registry.js';
import { MarianConfig } from './configuration_marian.js';

/**
 * (numPositions, dim) table, sin of pos / 10000^(2·(j//2)/dim) in the first half of the channels and cos in the
 * second (not interleaved), computed in float64 as transformers does with numpy.
 */
export class MarianSinusoidalPositionalEmbedding extends Module implements PositionalEmbedding {
  constructor(numPositions: number, dim: number) {
    super();
    const table = new Float32Array(numPositions * dim);
    const half = Math.ceil(dim / 2);
    for (let pos = 0; pos < numPositions; pos++) {
      for (let j = 0; j < dim; j++) {
        const angle = pos / Math.pow(10000, (2 * Math.floor(j / 2)) / dim);
        // Even j feed the sin half, odd j the cos half.
        if (j % 2 === 0) table[pos * dim + j / 2] = Math.sin(angle);
        else table[pos * dim + half + (j - 1) / 2] = Math.cos(angle);
      }
    }
    this.registerBuffer('weight', new Tensor(table, [numPositions, dim]), false);
  }

  forward(positions: Tensor): Tensor {
    return F.embedding(positions, this.buffer('weight'));
  }
}

const MARIAN_STACK: StackVariant = {
  positions: (c) => new MarianSinusoidalPositionalEmbedding(c.maxPositionEmbeddings, c.dModel),
  layernormEmbedding: false,
};

export class MarianModel extends BartModel {
  static override readonly configClass = MarianConfig;

  constructor(config: MarianConfig) {
    super(config, MARIAN_STACK);
  }
}

export class MarianMTModel extends BartForConditionalGeneration {
  static override readonly configClass = MarianConfig;

  constructor(config: MarianConfig) {
    super(config, MARIAN_STACK);
  }

  /** Marian never generates its pad token (it doubles as the decoder start), as transformers' adjust_logits_during_generation. */
  adjustLogitsDuringGeneration(logits: Float32Array, vocabSize: number): void {
    const pad = this.config.padTokenId;
    if (pad === null) return;
    for (let row = 0; row < logits.length; row += vocabSize) logits[row + pad] = -Infinity;
  }
}

registerModel('marian', { config: MarianConfig, base: MarianModel, seq2seqLM: MarianMTModel });
