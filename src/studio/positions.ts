/**
 * A model's positional encodings as a table (positions × dimensions), for the Attention page. The config says
 * which scheme the architecture uses; fixed schemes are recomputed with the functions the models themselves use,
 * learned tables are read from the loaded weights.
 */
import { LlamaConfig } from '../models/llama/configuration_llama.js';
import { MarianConfig } from '../models/marian/configuration_marian.js';
import type { PretrainedConfig } from '../models/configuration_utils.js';
import type { Module } from '../nn/module.js';
import { sinusoidalTable } from '../nn/positional.js';
import { RotaryEmbedding } from '../nn/rotary.js';
import { T5Config } from '../models/t5/configuration_t5.js';
import { UseConfig } from '../models/use/configuration_use.js';
import { timingSignal } from '../models/use/modeling_use.js';
import { Tensor } from '../tensor/tensor.js';
import { ModelLoadError } from '../pipelines/load.js';

export type PositionKind = 'sinusoidal' | 'learned' | 'rotary' | 'relative';

export interface PositionTable {
  kind: PositionKind;
  /** One sentence on what the table shows. */
  description: string;
  /** (positions, dimensions / columnStride), each value rounded to 4 decimals; empty for 'relative'. */
  values: number[][];
  /** The model's full width. */
  totalDimensions: number;
  /** Wide tables are sent one dimension in `columnStride`, so that every part (sines and cosines) shows. */
  columnStride: number;
}

/** Columns sent at most: a page shows the pattern across frequencies well with 128. */
const MAX_COLUMNS = 128;

/** State-dict names of learned position tables (BERT and DistilBERT, GPT-2, BART's encoder). */
const LEARNED_TABLE = /(?:^|\.)(?:position_embeddings|wpe|encoder\.embed_positions)\.weight$/;

function rows(table: Tensor, count: number): { values: number[][]; totalDimensions: number; columnStride: number } {
  const [n, d] = table.shape as [number, number];
  const columnStride = Math.ceil(d / MAX_COLUMNS);
  const values = Array.from({ length: Math.min(count, n) }, (_, p) =>
    Array.from(
      { length: Math.ceil(d / columnStride) },
      (_, c) => Math.round(table.data[p * d + c * columnStride]! * 1e4) / 1e4,
    ),
  );
  return { values, totalDimensions: d, columnStride };
}

/**
 * The first `count` positions of `config`'s positional encoding; `loadModel` is called only for learned tables.
 * Rotary embeddings are shown as the cosines they multiply queries and keys by (one column per frequency).
 */
export async function positionTable(
  config: PretrainedConfig,
  loadModel: () => Promise<Module>,
  count: number,
): Promise<PositionTable> {
  if (config instanceof LlamaConfig) {
    // The model's own rotary, rope_scaling included (a linear or llama3 scaling changes the angles shown).
    const rotary = new RotaryEmbedding(config.headDim, { theta: config.ropeTheta, scaling: config.rope });
    const positionIds = Tensor.from(
      Array.from({ length: count }, (_, i) => i),
      [count],
      'int32',
    );
    const { cos } = rotary.angles(positionIds, count); // (1, 1, count, headDim): the two halves repeat each other
    const half = config.headDim / 2;
    const firstHalf = new Tensor(
      Float32Array.from(
        { length: count * half },
        (_, i) => cos.data[Math.floor(i / half) * config.headDim + (i % half)]!,
      ),
      [count, half],
    );
    return {
      kind: 'rotary',
      description: `rotary (RoPE, base ${config.ropeTheta}): cos(position · θᵢ) for the ${half} frequencies of a ${config.headDim}-wide head; queries and keys are rotated by these angles`,
      ...rows(firstHalf, count),
    };
  }
  if (config instanceof UseConfig) {
    const table = timingSignal(
      Math.min(count, config.maxPositionEmbeddings),
      config.embeddingSize,
      config.minTimescale,
      config.maxTimescale,
    );
    return {
      kind: 'sinusoidal',
      description: `sinusoidal timing signal (sines, then cosines) of width ${config.embeddingSize}, added to the token embeddings`,
      ...rows(table, count),
    };
  }
  if (config instanceof MarianConfig) {
    const table = sinusoidalTable(Math.min(count, config.maxPositionEmbeddings), config.dModel, 'half');
    return {
      kind: 'sinusoidal',
      description: `sinusoidal (sines, then cosines) of width ${config.dModel}, added to the token embeddings`,
      ...rows(table, count),
    };
  }
  if (config instanceof T5Config) {
    return {
      kind: 'relative',
      description:
        'relative: T5 learns a bias per head for bucketed query–key distances inside attention; it has no table of positions',
      values: [],
      totalDimensions: 0,
      columnStride: 1,
    };
  }
  const model = await loadModel();
  const learned = [...model.stateDict()].find(([name]) => LEARNED_TABLE.test(name));
  if (learned === undefined) {
    throw new ModelLoadError(
      `no positional encoding found for model_type '${config.modelType}': no config-defined scheme and no learned table named like ${LEARNED_TABLE}`,
    );
  }
  const [name, table] = learned;
  return {
    kind: 'learned',
    description: `learned table '${name}' (${table.shape.join(' × ')}), added to the token embeddings`,
    ...rows(table, count),
  };
}
