// Compiled pipelines whose weights onnxruntime reads from the checkpoint file itself (compiledWeights 'file', the
// default): the JS copies are never read or are released, eager use of such a model names where the weights are,
// and the answers equal the eager model's. And batches of mixed lengths run in groups, each row as if alone.
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { QuantizedLinear } from '../../src/nn/quantized.js';
import { lengthGroups, type TokenizedBatch } from '../../src/pipelines/base.js';
import { pipeline, type TextClassificationPipeline } from '../../src/pipelines/index.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import type { PreTrainedTokenizer } from '../../src/tokenizers/tokenizer.js';
import { tinyClassifier } from './tiny-models.js';

const TEXTS = ['this movie was great', 'i hate it', 'the story was not very good but the music was fun'];

/** The texts as one right-padded batch, (B, T) int32 each. */
function batchOf(tokenizer: PreTrainedTokenizer, texts: string[]): TokenizedBatch {
  const { inputIds: rows } = tokenizer.encode(texts, {});
  const width = Math.max(...rows.map((r) => r.length));
  const padded = (f: (row: number[], j: number) => number) =>
    Tensor.from(
      rows.flatMap((row) => Array.from({ length: width }, (_, j) => f(row, j))),
      [rows.length, width],
      'int32',
    );
  return {
    inputIds: padded((row, j) => row[j] ?? 0),
    attentionMask: padded((row, j) => (j < row.length ? 1 : 0)),
    tokenTypeIds: padded(() => 0),
  };
}

function logitsOf(pipe: TextClassificationPipeline, texts = TEXTS): number[] {
  return Array.from(noGrad(() => pipe.logits(batchOf(pipe.tokenizer, texts))).data);
}

function expectClose(got: number[], want: number[], tolerance: number): void {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!)).toBeLessThan(tolerance);
}

describe("compiled pipelines read the weights from the checkpoint ('file')", () => {
  it('give the eager logits (1e-5) without JS ever holding the weights; eager use names where they are', async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 3);
    const eager = await pipeline('text-classification', dir, { compiled: false });
    const compiled = await pipeline('text-classification', dir);
    const onDisk = compiled.model.weightsOnDisk!;
    expect(eager.model.weightsOnDisk).toBeNull();
    expect(onDisk.size).toBeGreaterThan(0);
    expect([...onDisk.keys()].every((t) => t.isDisposed)).toBe(true);
    const inputs = batchOf(compiled.tokenizer, TEXTS);
    const forward = () => compiled.model.forward(inputs);
    expect(forward).toThrow(/is tensor '.+' of .+model\.safetensors, left there .*call readWeightsBack\(\)/);

    const want = logitsOf(eager);
    // The first call records the graph (reading the weights back for it), then releases them again.
    expectClose(logitsOf(compiled), want, 1e-5);
    expect([...onDisk.keys()].every((t) => t.isDisposed)).toBe(true);
    expect(forward).toThrow(/readWeightsBack/);

    // A second pipeline finds the graph in the compile cache and never reads the weights at all.
    const cached = await pipeline('text-classification', dir);
    const readBack = vi.spyOn(cached.model, 'readWeightsBack');
    expectClose(logitsOf(cached), want, 1e-5);
    expect(readBack).not.toHaveBeenCalled();
    const [got] = await cached('this movie was great');
    const [label] = await eager('this movie was great');
    expect(got!.label).toBe(label!.label);
    expect(Math.abs(got!.score - label!.score)).toBeLessThan(1e-6);

    // Weights fed from JS ('shared') or copied to onnxruntime ('packed') are read on load and kept.
    for (const compiledWeights of ['shared', 'packed'] as const) {
      const fromJs = await pipeline('text-classification', dir, { compiledWeights });
      expect(fromJs.model.weightsOnDisk).toBeNull();
      expectClose(logitsOf(fromJs), want, 1e-5);
    }

    // Read back, the model runs op by op again.
    compiled.model.readWeightsBack();
    expectClose(Array.from(noGrad(forward).logits.data), want, 1e-5);
  });

  it('casts an F16 checkpoint in the graph, as the eager model widens it', async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 4);
    const half = mkdtempSync(join(tmpdir(), 'attn-f16-'));
    for (const f of ['config.json', 'vocab.txt', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(half, f));
    const { tensors } = await loadSafetensors(join(dir, 'model.safetensors'));
    await saveSafetensors(join(half, 'model.safetensors'), tensors, { floatDtype: 'F16' });
    const eager = await pipeline('text-classification', half, { compiled: false });
    const compiled = await pipeline('text-classification', half);
    expect([...compiled.model.weightsOnDisk!.values()].some((e) => e.dtype === 'F16')).toBe(true);
    expectClose(logitsOf(compiled), logitsOf(eager), 1e-5);
    expect([...compiled.model.weightsOnDisk!.keys()].every((t) => t.isDisposed)).toBe(true);
  });

  it('reads a sharded checkpoint from each shard', async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 7);
    const sharded = mkdtempSync(join(tmpdir(), 'attn-shards-'));
    const eager = await pipeline('text-classification', dir, { compiled: false });
    await eager.model.savePretrained(sharded, { maxShardBytes: 8192 });
    for (const f of ['vocab.txt', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(sharded, f));
    const compiled = await pipeline('text-classification', sharded);
    const files = new Set([...compiled.model.weightsOnDisk!.values()].map((e) => e.file));
    expect(files.size).toBeGreaterThan(1);
    expectClose(logitsOf(compiled), logitsOf(eager), 1e-5);
    expect([...compiled.model.weightsOnDisk!.keys()].every((t) => t.isDisposed)).toBe(true);
  });

  it('q8 on load reads the codes, an int8 checkpoint leaves them in its file; both run compiled', async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 5);
    const q8 = await pipeline('text-classification', dir, { dtype: 'q8' });
    expect(q8.model.weightsOnDisk).toBeNull();
    const want = logitsOf(await pipeline('text-classification', dir, { dtype: 'q8', compiled: false }));
    expectClose(logitsOf(q8), want, 1e-4);

    const saved = mkdtempSync(join(tmpdir(), 'attn-q8-'));
    await q8.model.savePretrained(saved);
    for (const f of ['vocab.txt', 'tokenizer_config.json']) copyFileSync(join(dir, f), join(saved, f));
    const loaded = await pipeline('text-classification', saved);
    expect([...loaded.model.weightsOnDisk!.values()].map((e) => e.dtype)).toContain('I8');
    expect([...loaded.model.namedModules()].some(([, m]) => m instanceof QuantizedLinear)).toBe(true);
    expectClose(logitsOf(loaded), want, 1e-4);
  });
});

describe('text classification runs rows of very different lengths as separate batches', () => {
  it('groups lengths so that padding plus one run per group costs least', () => {
    const lengths = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? 12 : 32));
    const groups = lengthGroups(lengths);
    expect(groups.map((g) => g.map((i) => lengths[i]))).toEqual([Array(8).fill(12), Array(8).fill(32)]);
    expect(lengthGroups([5, 6, 7, 5])).toEqual([[0, 3, 1, 2]]); // close lengths: one run
    expect(lengthGroups([9])).toEqual([[0]]);
  });

  it("gives every text of a mixed batch its own logits (1e-5), compiled and eager, in the batch's order", async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 6);
    const long = 'the story was not very good but the music was fun and the team won the game '.repeat(2).trim();
    const texts = Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? long : i % 3 === 1 ? 'i hate it' : 'great'));
    for (const compiled of [true, false]) {
      const pipe = await pipeline('text-classification', dir, { compiled, batchSize: 16 });
      const batch = logitsOf(pipe, texts);
      const alone = texts.flatMap((text) => logitsOf(pipe, [text]));
      expectClose(batch, alone, 1e-5);
    }
  });
});
