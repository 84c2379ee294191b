/**
 * MarianMT: BART's post-LN encoder–decoder (modeling_bart.ts) with fixed sinusoidal positions (not saved in
 * checkpoints), no `layernorm_embedding`, and a pad token that generation may never produce.
 *
 * Shapes as in modeling_bart.ts: B batch, S source tokens, T target tokens, C d_model, V vocabulary.
 */
import { SinusoidalPositionalEmbedding } from '../../nn/positional.js';
import {
  BartForConditionalGeneration,
  BartModel,
  type PositionalEmbedding,
  type StackVariant,
} from '../bart/modeling_bart.js';
import { registerModel } from '../auto/registry.js';
import { MarianConfig } from './configuration_marian.js';

/**
 * Fixed sinusoids, sin in the first half of the channels and cos in the second (not interleaved), in float64 as
 * transformers computes them with numpy; a buffer, not saved in checkpoints.
 */
export class MarianSinusoidalPositionalEmbedding extends SinusoidalPositionalEmbedding implements PositionalEmbedding {
  constructor(numPositions: number, dim: number) {
    super(numPositions, dim, 'half');
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
