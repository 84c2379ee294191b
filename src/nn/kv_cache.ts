import * as ops from '../tensor/ops.js';
import type { Tensor } from '../tensor/tensor.js';

/**
 * The key/value cache of incremental decoding, owned here (below models and generation) because attention writes
 * it and generation only threads it from one step to the next. Shapes: B batch, Hkv key/value heads, Tpast cached
 * positions, D head size.
 */

/** One attention layer's cached keys and values, each (B, Hkv, Tpast, D). */
export interface LayerKV {
  key: Tensor;
  value: Tensor;
}

/** Decoder-only models: one entry per layer. */
export type DecoderCache = LayerKV[];

/** Encoder–decoder models: the decoder's self-attention cache grows; the cross-attention one is computed once. */
export interface Seq2SeqCache {
  self: LayerKV[];
  cross: LayerKV[];
}

/** The past keys/values followed by this step's (each (B, Hkv, T, D)) along time: (B, Hkv, Tpast + T, D). */
export function extendKV(past: LayerKV | null | undefined, key: Tensor, value: Tensor): LayerKV {
  if (!past) return { key, value };
  return { key: ops.concat([past.key, key], 2), value: ops.concat([past.value, value], 2) };
}

/** Positions already cached (Tpast): 0 without a cache. */
export function cachedLength(layers: readonly LayerKV[] | null | undefined): number {
  return layers?.[0]?.key.shape[2] ?? 0;
}

/**
 * An attention layer's keys and values (B, Hkv, Tk, D) for this step. Self-attention (`keyValueStates` null)
 * projects x and extends its cache; cross-attention projects the encoder states on the first step and then reuses
 * its cache, since they do not change while decoding.
 */
export function attentionKeyValues(
  x: Tensor,
  keyValueStates: Tensor | null | undefined,
  past: LayerKV | null | undefined,
  project: (source: Tensor) => LayerKV,
): LayerKV {
  if (keyValueStates && past) return past;
  const fresh = project(keyValueStates ?? x);
  return keyValueStates ? fresh : extendKV(past, fresh.key, fresh.value);
}
