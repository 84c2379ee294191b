// fp16 weights (dtype 'float16' / a pipeline's 'fp16'): every float weight kept as IEEE half bits, rounded to nearest
// even, computed in float32 — eagerly (ops widen the bits) and in compiled graphs (the bits go in as float16 with a
// Cast inside). The reference for the rounding is the float32 model itself with each weight put through
// floatToHalf/halfToFloat; the reference for "close to float32" is the float32 model's output.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTokenizerFiles } from '../../src/hub/push.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { CompiledForward, encoderSpec, type EncoderFeeds } from '../../src/models/compiled.js';
import { decodesCompiled, promptsCompiled } from '../../src/models/compiled_decoding.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { generate } from '../../src/generation/utils.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { AutoModelForSequenceClassification } from '../../src/models/index.js';
import { CheckpointError } from '../../src/models/modeling_utils.js';
import { dequantize, narrowToFloat16, quantize, QuantizationError } from '../../src/models/quantization.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { floatToHalf, halfToFloat } from '../../src/tensor/half.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { maxMagnitude, maxTensorDiff } from '../helpers/tensors.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';
import { goldenCase, ids } from './golden.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'attn-half-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** Every float weight of `model` replaced by its value rounded to half and widened back (plain float32 storage). */
function roundedThroughHalf<M extends { stateDict(): Map<string, Tensor> }>(model: M): M {
  for (const [, t] of model.stateDict()) {
    if (t.dtype !== 'float32') continue;
    t.replaceStorage(Float32Array.from(t.data, (v) => halfToFloat(floatToHalf(v))));
  }
  return model;
}

/** Every float weight of `model` is kept as F16 bits and holds the value of `reference`'s weight of that name. */
function expectHalfOf(model: { stateDict(): Map<string, Tensor> }, reference: { stateDict(): Map<string, Tensor> }) {
  const want = reference.stateDict();
  for (const [name, t] of model.stateDict()) {
    if (t.dtype !== 'float32') continue;
    expect(t.halfStorage?.format, name).toBe('F16');
    expect(Array.from(t.data), name).toEqual(Array.from(want.get(name)!.data));
  }
}

const SCORE_TEXTS = ['i love this movie', 'the plot was dull and the acting awful', 'a very good film'];

async function scores(dir: string, options: Parameters<typeof pipeline>[2] = {}): Promise<number[]> {
  const classify = await pipeline('text-classification', dir, { ...options, onWarning: () => {} });
  const out = (await classify(SCORE_TEXTS, { topK: null })) as ClassificationLabel[][];
  classify.dispose();
  return out.flatMap((labels) => [...labels].sort((a, b) => a.label.localeCompare(b.label)).map((l) => l.score));
}

function maxDiff(a: number[], b: number[]): number {
  expect(a).toHaveLength(b.length);
  return Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));
}

describe("fromPretrained(dir, { dtype: 'float16' })", () => {
  const { dir, inputs } = goldenCase('distilbert_seqcls');
  const feeds = () => ({ inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) });

  it('keeps every float weight as F16 bits, the float32 values rounded to nearest even', async () => {
    const f32 = await DistilBertForSequenceClassification.fromPretrained(dir);
    const f16 = await DistilBertForSequenceClassification.fromPretrained(dir, { dtype: 'float16' });
    expectHalfOf(f16, roundedThroughHalf(f32));
  });

  it('gives logits within 1% of the float32 model, and exactly those of its weights rounded to half', async () => {
    const f32 = await DistilBertForSequenceClassification.fromPretrained(dir);
    const f16 = await DistilBertForSequenceClassification.fromPretrained(dir, { dtype: 'float16' });
    const [want, got] = noGrad(() => [f32.forward(feeds()).logits, f16.forward(feeds()).logits]);
    // Each weight moves by at most 2^-11 (0.05%) of itself; two layers of matmuls, LayerNorms and softmaxes add such
    // errors up (measured: 0.19% of the largest logit on this golden), so 1% leaves a 5x margin while an fp16 bug
    // (a weight read as bits, a wrong exponent) moves logits by far more.
    expect(maxTensorDiff(got, want)).toBeLessThan(0.01 * maxMagnitude(want));
    expect(maxTensorDiff(got, want)).toBeGreaterThan(0); // the rounding is really there
    const rounded = noGrad(() => roundedThroughHalf(f32).forward(feeds()).logits);
    expect(maxTensorDiff(got, rounded)).toBeLessThan(1e-6 * maxMagnitude(want));
  });

  it('compiles with the half bits fed as float16 and cast inside the graph (shared and packed)', async () => {
    const f16 = await DistilBertForSequenceClassification.fromPretrained(dir, { dtype: 'float16' });
    const run = (x: EncoderFeeds) => ({ logits: f16.forward(x).logits });
    const eager = noGrad(() => f16.forward(feeds()).logits);
    const x = feeds();
    for (const weights of ['shared', 'packed'] as const) {
      const compiled = CompiledForward.compile(f16, encoderSpec(f16.config.vocabSize, run), { weights });
      try {
        const halves = compiled.weightInits.filter((w) => w.half === 'float16');
        expect(halves.length, weights).toBeGreaterThan(0);
        expect(halves.every((w) => w.data instanceof Uint16Array && w.name.endsWith('#half'))).toBe(true);
        expect(compiled.weightInits.every((w) => !(w.data instanceof Float32Array))).toBe(true);
        const tokenTypes = new Tensor(new Int32Array(x.inputIds.size), x.inputIds.shape);
        const got = compiled.run({
          input_ids: x.inputIds,
          attention_mask: x.attentionMask,
          token_type_ids: tokenTypes,
        });
        expect(maxTensorDiff(got.logits!, eager), weights).toBeLessThan(1e-5 * maxMagnitude(eager));
      } finally {
        compiled.dispose();
      }
    }
  });

  it('dequantizes a quantized checkpoint, then rounds the weights its codes stand for', async () => {
    const out = join(tmp, 'distilbert-int8');
    await quantize(await DistilBertForSequenceClassification.fromPretrained(dir), { dtype: 'int8' }).savePretrained(
      out,
    );
    const want = roundedThroughHalf(dequantize(await DistilBertForSequenceClassification.fromPretrained(out)));
    const f16 = await DistilBertForSequenceClassification.fromPretrained(out, { dtype: 'float16' });
    expectHalfOf(f16, want);
  });

  it('names a weight beyond float16 range, and a dtype it does not know', async () => {
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    const bias = model.stateDict().get('classifier.bias')!;
    bias.replaceStorage(Float32Array.from(bias.data, () => 1e5));
    expect(() => narrowToFloat16(model, 'here')).toThrow(QuantizationError);
    expect(() => narrowToFloat16(model, 'here')).toThrow(
      /here: weight 'classifier.bias' holds 100000, beyond float16's range \(±65504\)/,
    );
    await expect(DistilBertForSequenceClassification.fromPretrained(dir, { dtype: 'half' as never })).rejects.toThrow(
      CheckpointError,
    );
    await expect(DistilBertForSequenceClassification.fromPretrained(dir, { dtype: 'half' as never })).rejects.toThrow(
      /dtype 'half' is not one of auto, float32, float16/,
    );
  });
});

describe('half weights tied between two layers', () => {
  it('compile once (GPT-2 head = token table): compiled prompt and steps decode as op by op', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(goldenCase('gpt2').dir, { dtype: 'float16' });
    expect(model.stateDict().get('lm_head.weight')!.halfStorage).not.toBeNull();
    const options = { maxNewTokens: 12, eosTokenId: null };
    const eager = generate(model, [[5, 6, 7, 8]], { ...options, compiled: false });
    expect(generate(model, [[5, 6, 7, 8]], options).sequences).toEqual(eager.sequences);
    expect([promptsCompiled(model), decodesCompiled(model)]).toEqual([true, true]);
  });
});

describe("pipeline(task, model, { dtype: 'fp16' })", () => {
  it('runs the compiled graph on the rounded weights, not on the float32 ones in the file', async () => {
    const dir = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 21);
    const classify = await pipeline('text-classification', dir, { dtype: 'fp16' });
    // The float weights were read and rounded: none is left for onnxruntime to read from the F32 file.
    for (const [name, t] of classify.model.stateDict()) {
      if (t.dtype === 'float32') expect(t.halfStorage?.format, name).toBe('F16');
    }
    expect([...(classify.model.weightsOnDisk?.values() ?? [])].map((e) => e.dtype)).not.toContain('F32');
    classify.dispose();
    const fp32 = await scores(dir);
    const fp16 = await scores(dir, { dtype: 'fp16' });
    const eager = await scores(dir, { dtype: 'fp16', compiled: false });
    expect(maxDiff(fp16, eager)).toBeLessThan(1e-6); // compiled = op by op on the same half weights
    expect(maxDiff(fp16, fp32)).toBeGreaterThan(1e-7); // ... which are not the file's float32 ones
    expect(maxDiff(fp16, fp32)).toBeLessThan(1e-2);
  });

  it('refuses a dtype it does not know before loading, naming the accepted ones', async () => {
    await expect(pipeline('text-classification', join(tmp, 'absent'), { dtype: 'int8' as never })).rejects.toThrow(
      /pipeline\('text-classification'\): dtype 'int8' is not one of fp32, fp16, q8, q4/,
    );
  });
});

describe('F16 checkpoints', () => {
  it('save F16 bit for bit at half the size, load back as they were, and run as the fp16 pipeline', async () => {
    const source = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 22);
    const half = join(tmp, 'classifier-f16');
    const model = await AutoModelForSequenceClassification.fromPretrained(source, { dtype: 'float16' });
    await model.savePretrained(half);
    await copyTokenizerFiles(source, half);
    // Each float tensor takes half its float32 bytes (the file as a whole also holds a header and int buffers).
    const [f32File, f16File] = await Promise.all(
      [source, half].map((d) => SafetensorsReader.open(join(d, 'model.safetensors'))),
    );
    try {
      for (const [name, e] of f16File.entries) {
        const was = f32File.entries.get(name)!;
        if (was.dtype !== 'F32') continue;
        expect(e.dtype, name).toBe('F16');
        expect(2 * (e.end - e.begin), name).toBe(was.end - was.begin);
      }
    } finally {
      await Promise.all([f32File.close(), f16File.close()]);
    }
    // Default dtype 'auto' keeps the file's F16 bits as they are.
    const loaded = await AutoModelForSequenceClassification.fromPretrained(half);
    const saved = model.stateDict();
    for (const [name, t] of loaded.stateDict()) {
      if (t.dtype !== 'float32') continue;
      expect(t.halfStorage?.format, name).toBe('F16');
      expect(Array.from(t.halfStorage!.bits), name).toEqual(Array.from(saved.get(name)!.halfStorage!.bits));
    }
    // A pipeline on the F16 folder leaves its weights in the file (onnxruntime reads the F16 bytes and casts), with
    // or without dtype 'fp16', and scores as the fp16 pipeline on the float32 folder.
    const onDisk = await pipeline('text-classification', half, { dtype: 'fp16' });
    expect([...(onDisk.model.weightsOnDisk?.values() ?? [])].map((e) => e.dtype)).toContain('F16');
    onDisk.dispose();
    const rounded = await scores(source, { dtype: 'fp16' });
    expect(maxDiff(await scores(half), rounded)).toBeLessThan(1e-6);
    expect(maxDiff(await scores(half, { dtype: 'fp16' }), rounded)).toBeLessThan(1e-6);
    // dtype 'fp32' widens them once as it reads them (op by op, every weight is read): the same values in float32.
    const widened = await pipeline('text-classification', half, { dtype: 'fp32', compiled: false });
    for (const [name, t] of widened.model.stateDict()) expect(t.halfStorage, name).toBeNull();
    widened.dispose();
    expect(maxDiff(await scores(half, { dtype: 'fp32', compiled: false }), rounded)).toBeLessThan(1e-6);
  });
});
