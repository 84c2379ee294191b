/**
 * Pruning: making a trained model smaller by removing weights.
 *
 *   model.pruneHeads({ 0: [1, 2], 3: [0] })   removes attention heads, as transformers' `prune_heads`: each head's
 *                                             query/key/value rows and output-projection columns go, the layer runs
 *                                             with fewer heads, and config.json records `pruned_heads`, so both
 *                                             transformers and attn rebuild the smaller layers before loading.
 *   magnitudePrune(model, { sparsity: 0.5 })  zeroes the smallest-magnitude weights of every Linear layer (each
 *                                             layer to the same fraction, as torch's l1_unstructured); the shapes
 *                                             stay, so it pays off through compression (or a sparse runtime), and
 *                                             the report says how many weights are zero where.
 */
import { Linear } from '../nn/layers.js';
import type { Module } from '../nn/module.js';
import { Tensor } from '../tensor/tensor.js';
import type { PretrainedConfig } from './configuration_utils.js';

export class PruningError extends Error {}

/** Heads to remove by layer index, as transformers' `heads_to_prune`. */
export type HeadsToPrune = Readonly<Record<number, readonly number[]>>;

/** An attention block that can drop heads (BERT's BertAttention, DistilBERT's MultiHeadSelfAttention). */
export interface HeadPrunable {
  /** Heads removed so far, by their original index. */
  readonly prunedHeads: ReadonlySet<number>;
  pruneHeads(heads: readonly number[]): void;
}

function isHeadPrunable(m: Module): m is Module & HeadPrunable {
  const candidate = m as Partial<HeadPrunable>;
  return typeof candidate.pruneHeads === 'function' && candidate.prunedHeads instanceof Set;
}

/**
 * transformers' `find_pruneable_heads_and_indices`: the requested heads not pruned yet, and the indices of the
 * (heads · headSize) features to keep, counted in the layer as it is now (after earlier pruning).
 */
export function headsToRemove(
  requested: readonly number[],
  headCount: number,
  headSize: number,
  alreadyPruned: ReadonlySet<number>,
): { heads: Set<number>; keep: number[] } {
  const heads = new Set(requested.filter((h) => !alreadyPruned.has(h)));
  const gone = new Set<number>();
  for (const head of heads) gone.add(head - [...alreadyPruned].filter((h) => h < head).length);
  const keep: number[] = [];
  for (let h = 0; h < headCount; h++) if (!gone.has(h)) for (let d = 0; d < headSize; d++) keep.push(h * headSize + d);
  return { heads, keep };
}

/** A Linear with only the output features (rows of the weight, entries of the bias) at `index`. */
export function keepOutputs(layer: Linear, index: readonly number[]): Linear {
  const out = new Linear(layer.inFeatures, index.length, { bias: layer.bias !== null });
  const w = layer.weight.data;
  const k = layer.inFeatures;
  const weight = new Float32Array(index.length * k);
  index.forEach((row, i) => weight.set(w.subarray(row * k, (row + 1) * k), i * k));
  out.weight.assign(new Tensor(weight, [index.length, k]));
  if (layer.bias && out.bias)
    out.bias.assign(
      new Tensor(
        Float32Array.from(index, (i) => layer.bias!.data[i]!),
        [index.length],
      ),
    );
  out.training = layer.training;
  return out;
}

/** A Linear with only the input features (columns of the weight) at `index`; the bias is kept whole. */
export function keepInputs(layer: Linear, index: readonly number[]): Linear {
  const out = new Linear(index.length, layer.outFeatures, { bias: layer.bias !== null });
  const w = layer.weight.data;
  const weight = new Float32Array(layer.outFeatures * index.length);
  for (let r = 0; r < layer.outFeatures; r++)
    index.forEach((col, i) => (weight[r * index.length + i] = w[r * layer.inFeatures + col]!));
  out.weight.assign(new Tensor(weight, [layer.outFeatures, index.length]));
  if (layer.bias && out.bias) out.bias.assign(layer.bias);
  out.training = layer.training;
  return out;
}

/** The attention blocks that can drop heads, in layer order. */
function attentionLayers(model: Module): Array<Module & HeadPrunable> {
  return [...model.namedModules()].map(([, m]) => m).filter((m) => m !== model && isHeadPrunable(m)) as Array<
    Module & HeadPrunable
  >;
}

/** Prunes `heads` in the model's layers without touching the config (loading replays config.json's record). */
export function applyHeadPruning(model: Module, heads: HeadsToPrune): void {
  const layers = attentionLayers(model);
  if (layers.length === 0)
    throw new PruningError(
      `pruneHeads: ${model.constructor.name} has no attention layers that can drop heads (BERT-like encoders do)`,
    );
  for (const [key, list] of Object.entries(heads)) {
    const layer = Number(key);
    const block = layers[layer];
    if (!Number.isInteger(layer) || block === undefined) {
      throw new PruningError(
        `pruneHeads: layer ${key} does not exist; ${model.constructor.name} has layers 0 to ${layers.length - 1}`,
      );
    }
    block.pruneHeads(list);
  }
}

/**
 * Removes attention heads by layer (see the file comment) and records them in `config.prunedHeads`, which
 * `savePretrained` writes as `pruned_heads`.
 */
export function pruneHeads(model: Module & { config: PretrainedConfig }, heads: HeadsToPrune): void {
  applyHeadPruning(model, heads);
  const record = { ...model.config.prunedHeads };
  for (const [layer, list] of Object.entries(heads)) {
    record[Number(layer)] = [...new Set([...(record[Number(layer)] ?? []), ...list])].sort((a, b) => a - b);
  }
  model.config.prunedHeads = record;
}

/** Called by an attention block's `pruneHeads`: refuses a head index out of range or removing every head. */
export function checkHeads(heads: readonly number[], originalHeads: number, remaining: number, removing: number): void {
  const bad = heads.find((h) => !Number.isInteger(h) || h < 0 || h >= originalHeads);
  if (bad !== undefined)
    throw new PruningError(`pruneHeads: head ${bad} does not exist; the layer had heads 0 to ${originalHeads - 1}`);
  if (removing >= remaining)
    throw new PruningError(`pruneHeads: pruning heads ${heads.join(', ')} would leave the layer no head`);
}

export interface LayerSparsity {
  name: string;
  weights: number;
  zeros: number;
  sparsity: number;
}

export interface SparsityReport {
  layers: LayerSparsity[];
  /** Over every Linear weight. */
  weights: number;
  zeros: number;
  sparsity: number;
}

function linearLayers(model: Module): Array<[string, Linear]> {
  return [...model.namedModules()].filter((entry): entry is [string, Linear] => entry[1] instanceof Linear);
}

/** How many weights of each Linear layer are exactly zero. */
export function sparsityReport(model: Module): SparsityReport {
  const seen = new Set<Tensor>();
  const layers: LayerSparsity[] = [];
  for (const [name, layer] of linearLayers(model)) {
    if (seen.has(layer.weight)) continue; // a tied head counts once
    seen.add(layer.weight);
    const w = layer.weight.data;
    let zeros = 0;
    for (let i = 0; i < w.length; i++) if (w[i] === 0) zeros++;
    layers.push({ name, weights: w.length, zeros, sparsity: zeros / w.length });
  }
  const weights = layers.reduce((n, l) => n + l.weights, 0);
  const zeros = layers.reduce((n, l) => n + l.zeros, 0);
  return { layers, weights, zeros, sparsity: weights > 0 ? zeros / weights : 0 };
}

export interface MagnitudePruneOptions {
  /** The fraction of each layer's weights to zero, in [0, 1). */
  sparsity: number;
  /** Layers to prune by name; default every Linear layer except those whose name matches `skip`. */
  modules?: readonly string[];
  /** Default /classifier|lm_head|pooler|qa_outputs/: heads are small and sensitive. */
  skip?: RegExp;
}

/**
 * Zeroes the `sparsity` fraction of smallest-magnitude weights in each chosen Linear layer (ties broken by
 * position), in place, and returns the model's sparsity report.
 */
export function magnitudePrune(model: Module, options: MagnitudePruneOptions): SparsityReport {
  const { sparsity } = options;
  if (!(sparsity >= 0 && sparsity < 1))
    throw new PruningError(`magnitudePrune: sparsity must be in [0, 1), got ${sparsity}`);
  const all = new Map(linearLayers(model));
  const skip = options.skip ?? /classifier|lm_head|pooler|qa_outputs/;
  const names = options.modules ?? [...all.keys()].filter((n) => !skip.test(n));
  for (const name of names) {
    const layer = all.get(name);
    if (!layer) throw new PruningError(`magnitudePrune: '${name}' is not a Linear layer of ${model.constructor.name}`);
    const w = Float32Array.from(layer.weight.data);
    const order = Array.from(w.keys()).sort((a, b) => Math.abs(w[a]!) - Math.abs(w[b]!) || a - b);
    const count = Math.floor(sparsity * w.length);
    for (let i = 0; i < count; i++) w[order[i]!] = 0;
    layer.weight.assign(new Tensor(w, layer.weight.shape));
  }
  return sparsityReport(model);
}

/**
 * The shared part of an attention block's `pruneHeads`: drops the heads' rows from the query/key/value
 * projections and their columns from the output projection, records them in `prunedHeads`, and returns the new
 * layers and head count (null when every requested head is already gone).
 */
export function pruneAttentionHeads(
  requested: readonly number[],
  prunedHeads: Set<number>,
  layout: { heads: number; projections: readonly Linear[]; output: Linear },
): { heads: number; projections: Linear[]; output: Linear } | null {
  const headSize = layout.projections[0]!.outFeatures / layout.heads;
  const { heads, keep } = headsToRemove(requested, layout.heads, headSize, prunedHeads);
  checkHeads(requested, layout.heads + prunedHeads.size, layout.heads, heads.size);
  if (heads.size === 0) return null;
  for (const h of heads) prunedHeads.add(h);
  return {
    heads: layout.heads - heads.size,
    projections: layout.projections.map((p) => keepOutputs(p, keep)),
    output: keepInputs(layout.output, keep),
  };
}
