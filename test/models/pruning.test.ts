import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BertForSequenceClassification } from '../../src/models/bert/modeling_bert.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { headsToRemove, magnitudePrune, PruningError, sparsityReport } from '../../src/models/pruning.js';
import type { Linear } from '../../src/nn/layers.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { goldenCase, ids } from './golden.js';
import { maxTensorDiff } from '../helpers/tensors.js';

/** Zeroes the value rows (and bias) of `heads`: those heads then add nothing, which is what pruning them means. */
function silenceHeads(value: Linear, heads: number[], headSize: number): void {
  const w = Float32Array.from(value.weight.data);
  const b = Float32Array.from(value.bias!.data);
  for (const h of heads) {
    for (let d = 0; d < headSize; d++) {
      const row = h * headSize + d;
      w.fill(0, row * value.inFeatures, (row + 1) * value.inFeatures);
      b[row] = 0;
    }
  }
  value.weight.assign(new Tensor(w, value.weight.shape));
  value.bias!.assign(new Tensor(b, value.bias!.shape));
}

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'attn-prune-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('headsToRemove (transformers find_pruneable_heads_and_indices)', () => {
  it('skips heads already pruned and counts the rest in the layer as it is now', () => {
    // 4 heads of size 2, head 1 pruned before: the layer holds original heads 0, 2, 3 at positions 0, 1, 2.
    const { heads, keep } = headsToRemove([1, 3], 3, 2, new Set([1]));
    expect([...heads]).toEqual([3]);
    expect(keep).toEqual([0, 1, 2, 3]); // original head 3 sat at position 2: features 4 and 5 go
  });
});

describe('pruneHeads', () => {
  it('DistilBERT: equals silencing those heads, saves pruned_heads and smaller weights, loads back', async () => {
    const { dir, inputs } = goldenCase('distilbert_seqcls'); // 2 layers, 4 heads of 8
    const feeds = { inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) };
    const silenced = await DistilBertForSequenceClassification.fromPretrained(dir);
    silenceHeads(silenced.distilbert.transformer.layer[0]!.attention.v_lin, [1, 3], 8);
    silenceHeads(silenced.distilbert.transformer.layer[1]!.attention.v_lin, [0], 8);
    const pruned = await DistilBertForSequenceClassification.fromPretrained(dir);
    const before = pruned.numParameters();
    pruned.pruneHeads({ 0: [1, 3], 1: [0] });
    expect(pruned.distilbert.transformer.layer[0]!.attention.q_lin.weight.shape).toEqual([16, 32]);
    expect(pruned.distilbert.transformer.layer[0]!.attention.out_lin.weight.shape).toEqual([32, 16]);
    expect(pruned.numParameters()).toBe(before - 3 * (4 * 8 * 32 + 3 * 8));
    const [want, got] = noGrad(() => [silenced.forward(feeds).logits, pruned.forward(feeds).logits]);
    expect(maxTensorDiff(got, want)).toBeLessThan(1e-5);

    pruned.pruneHeads({ 0: [1, 2] }); // 1 is already gone: only 2 goes
    expect(pruned.config.prunedHeads).toEqual({ 0: [1, 2, 3], 1: [0] });
    const out = join(tmp, 'distilbert-pruned');
    await pruned.savePretrained(out);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.pruned_heads).toEqual({ 0: [1, 2, 3], 1: [0] });
    const loaded = await DistilBertForSequenceClassification.fromPretrained(out);
    expect(loaded.distilbert.transformer.layer[0]!.attention.v_lin.weight.shape).toEqual([8, 32]);
    const [a, b] = noGrad(() => [pruned.forward(feeds).logits, loaded.forward(feeds).logits]);
    expect(maxTensorDiff(a, b)).toBe(0);
  });

  it('BERT: equals silencing those heads', async () => {
    const { dir, inputs } = goldenCase('bert_seqcls');
    const feeds = { inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) };
    const silenced = await BertForSequenceClassification.fromPretrained(dir);
    const heads = silenced.config.numAttentionHeads;
    const headSize = silenced.config.hiddenSize / heads;
    silenceHeads(silenced.bert.encoder.layer[1]!.attention.self.value, [0, heads - 1], headSize);
    const pruned = await BertForSequenceClassification.fromPretrained(dir);
    pruned.pruneHeads({ 1: [0, heads - 1] });
    expect(pruned.bert.encoder.layer[1]!.attention.self.query.outFeatures).toBe((heads - 2) * headSize);
    const [want, got] = noGrad(() => [silenced.forward(feeds).logits, pruned.forward(feeds).logits]);
    expect(maxTensorDiff(got, want)).toBeLessThan(1e-5);
  });

  it('names a bad layer or head, and refuses to remove every head of a layer', async () => {
    const { dir } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    expect(() => model.pruneHeads({ 5: [0] })).toThrow(
      /layer 5 does not exist; DistilBertForSequenceClassification has layers 0 to 1/,
    );
    expect(() => model.pruneHeads({ 0: [4] })).toThrow(/head 4 does not exist; the layer had heads 0 to 3/);
    expect(() => model.pruneHeads({ 0: [0, 1, 2, 3] })).toThrow(PruningError);
  });
});

describe('magnitudePrune', () => {
  it('zeroes the smallest weights of each Linear layer (heads skipped) and reports the sparsity', async () => {
    const { dir } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    const lin1 = model.distilbert.transformer.layer[0]!.ffn.lin1;
    const magnitudes = Array.from(lin1.weight.data, Math.abs).sort((a, b) => a - b);
    const report = magnitudePrune(model, { sparsity: 0.5 });
    const row = report.layers.find((l) => l.name === 'distilbert.transformer.layer.0.ffn.lin1')!;
    expect(row).toEqual({
      name: 'distilbert.transformer.layer.0.ffn.lin1',
      weights: 37 * 32,
      zeros: 592,
      sparsity: 0.5,
    });
    const threshold = magnitudes[591]!;
    for (const v of lin1.weight.data) expect(v === 0 || Math.abs(v) >= threshold).toBe(true);
    expect(report.layers.find((l) => l.name === 'classifier')!.zeros).toBe(0);
    expect(report.sparsity).toBeGreaterThan(0.45);
    expect(sparsityReport(model)).toEqual(report);
    expect(() => magnitudePrune(model, { sparsity: 1 })).toThrow(/sparsity must be in \[0, 1\), got 1/);
  });
});
