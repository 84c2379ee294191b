// Quantized checkpoints loaded with `readWeights: false` (as the text pipelines load): the int8 / q4 codes stay in
// model.safetensors and onnxruntime reads them in their file type (I8, U8), so JS holds no int32 copy of them. The
// reference is the same checkpoint with its codes read into JS (the path used before), compiled with the weights
// 'packed', and op by op.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { copyTokenizerFiles } from '../../src/hub/push.js';
import {
  AutoModelForCausalLM,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
} from '../../src/models/auto/index.js';
import {
  codesReadAsStored,
  CompiledForward,
  encoderSpec,
  type CompileOptions,
  type EncoderFeeds,
} from '../../src/models/compiled.js';
import { decodesCompiled, promptsCompiled } from '../../src/models/compiled_decoding.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { generate } from '../../src/generation/utils.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { quantize, type QuantizeOptions } from '../../src/models/quantization.js';
import { Linear } from '../../src/nn/layers.js';
import { QuantizedEmbedding, QuantizedLinear } from '../../src/nn/quantized.js';
import type { Module } from '../../src/nn/module.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import type { GraphSpec, NodeSpec } from '../../src/backends/onnx/protobuf.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { maxMagnitude, maxTensorDiff } from '../helpers/tensors.js';
import { tinyCausalLM, tinyClassifier, tinySeq2Seq } from '../pipelines/tiny-models.js';
import { goldenCase, ids } from './golden.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'attn-quantized-on-disk-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** The codes tensors of every quantized layer of `model`. */
function codesOf(model: Module): Tensor[] {
  const layers = [...model.namedModules()].map(([, m]) => m);
  return layers
    .filter((m) => m instanceof QuantizedLinear || m instanceof QuantizedEmbedding)
    .map((m) => (m as QuantizedLinear | QuantizedEmbedding).codes);
}

type AutoClass = typeof AutoModelForSequenceClassification | typeof AutoModelForCausalLM | typeof AutoModelForSeq2SeqLM;

async function quantizedCopy(
  from: string,
  options: QuantizeOptions,
  name: string,
  auto: AutoClass = AutoModelForSequenceClassification,
): Promise<string> {
  const out = join(tmp, name);
  const model = await auto.fromPretrained(from, { onWarning: () => {} });
  await quantize(model, options).savePretrained(out);
  await copyTokenizerFiles(from, out);
  return out;
}

describe('a quantized checkpoint left in its file (readWeights: false)', () => {
  const { dir, inputs } = goldenCase('distilbert_seqcls');
  const feeds = (): EncoderFeeds => {
    const inputIds = ids(inputs.input_ids);
    return {
      inputIds,
      attentionMask: ids(inputs.attention_mask),
      tokenTypeIds: new Tensor(new Int32Array(inputIds.size), inputIds.shape),
    };
  };

  function compiledLogits(model: DistilBertForSequenceClassification, options: CompileOptions): Tensor {
    const run = (x: EncoderFeeds) => ({ logits: model.forward(x).logits });
    const compiled = CompiledForward.compile(model, encoderSpec(model.config.vocabSize, run), options);
    try {
      const x = feeds();
      const out = compiled.run({
        input_ids: x.inputIds,
        attention_mask: x.attentionMask,
        token_type_ids: x.tokenTypeIds,
      });
      return out.logits!;
    } finally {
      compiled.dispose();
    }
  }

  // dim 32, hidden_dim 37: q4 takes the layers with 32 inputs (U8 codes) and leaves lin2 and the embeddings int8.
  for (const scheme of ['int8', 'q4'] as const) {
    const title = `${scheme}: JS holds no codes; the graph reading them from the file gives the logits of codes in JS`;
    it(title, async () => {
      const out = await quantizedCopy(dir, { dtype: scheme }, `distilbert-${scheme}`);
      const held = await DistilBertForSequenceClassification.fromPretrained(out);
      const onDisk = await DistilBertForSequenceClassification.fromPretrained(out, { readWeights: false });
      const stored = new Set([...onDisk.weightsOnDisk!.values()].map((e) => e.dtype));
      expect(stored).toContain('I8');
      if (scheme === 'q4') expect(stored).toContain('U8');
      expect(codesOf(onDisk).length).toBeGreaterThan(0);
      expect(codesOf(onDisk).every((codes) => codes.isDisposed)).toBe(true);

      const eager = noGrad(() => held.forward(feeds()).logits);
      const packed = compiledLogits(held, { weights: 'packed' });
      const fromFile = compiledLogits(onDisk, {
        checkpoint: onDisk.weightsOnDisk!,
        readWeights: () => onDisk.readWeightsBack(),
      });
      onDisk.releaseWeightsOnDisk();
      expect(maxTensorDiff(fromFile, packed)).toBeLessThan(1e-6 * maxMagnitude(packed));
      expect(maxTensorDiff(fromFile, eager)).toBeLessThan(1e-5 * maxMagnitude(eager));
      // The codes read back are the file's: op by op gives exactly the logits of the model that read them at load.
      onDisk.readWeightsBack();
      expect(Array.from(noGrad(() => onDisk.forward(feeds()).logits).data)).toEqual(Array.from(eager.data));
    });
  }
});

describe('codesReadAsStored', () => {
  const cast = (input: string, output: string, to: number): NodeSpec => ({
    op: 'Cast',
    inputs: [input],
    outputs: [output],
    attrs: { to },
  });
  const graph = (nodes: NodeSpec[]): GraphSpec => ({
    nodes,
    inputs: [],
    outputs: [{ name: 'y', type: 'float32' }],
    initializers: [],
  });
  const file = (name: string, type: 'int8' | 'uint8' | 'float16') => ({
    name,
    dims: [2, 2],
    type,
    location: 'model.safetensors',
    offset: 0,
    length: 4,
  });

  it('feeds int8 / uint8 bytes straight to the casts back and to gathers of rows cast to float', () => {
    const spec = graph([
      cast('w#stored', 'w', 6),
      cast('w', 'codes', 3),
      cast('e#stored', 'e', 6),
      { op: 'Gather', inputs: ['e', 'ids'], outputs: ['rows'], attrs: { axis: 0 } },
      cast('rows', 'y', 1),
      cast('q#stored', 'q', 6),
      cast('q', 'packed', 2),
    ]);
    const files = [file('w#stored', 'int8'), file('e#stored', 'int8'), file('q#stored', 'uint8')];
    expect(codesReadAsStored(spec, files).nodes).toEqual([
      { op: 'Identity', inputs: ['w#stored'], outputs: ['codes'] },
      { op: 'Gather', inputs: ['e#stored', 'ids'], outputs: ['rows'], attrs: { axis: 0 } },
      cast('rows', 'y', 1),
      { op: 'Identity', inputs: ['q#stored'], outputs: ['packed'] },
    ]);
  });

  it('keeps the widening Cast of a weight read as int32 elsewhere, or stored in another type', () => {
    const spec = graph([
      cast('w#stored', 'w', 6),
      cast('w', 'codes', 3),
      { op: 'Add', inputs: ['w', 'w'], outputs: ['sum'] },
      cast('h#stored', 'h', 1),
      cast('h', 'y', 10),
    ]);
    expect(codesReadAsStored(spec, [file('w#stored', 'int8'), file('h#stored', 'float16')])).toEqual(spec);
  });
});

describe('pipeline() on a quantized checkpoint', () => {
  const TEXTS = ['i love this movie', 'the plot was dull and the acting awful', 'a very good film'];

  async function scores(dir: string, options: Parameters<typeof pipeline>[2] = {}) {
    const classify = await pipeline('text-classification', dir, { ...options, onWarning: () => {} });
    const out = (await classify(TEXTS, { topK: null })) as ClassificationLabel[][];
    const model = classify.model;
    classify.dispose();
    const values = out.flatMap((labels) =>
      [...labels].sort((a, b) => a.label.localeCompare(b.label)).map((l) => l.score),
    );
    return { values, model };
  }

  it('leaves the int8 codes in the file and scores as with codes held in JS; fp32 still dequantizes', async () => {
    const float = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 23);
    const dir = await quantizedCopy(float, { dtype: 'int8' }, 'bert-int8');
    const fromFile = await scores(dir);
    expect([...fromFile.model.weightsOnDisk!.values()].map((e) => e.dtype)).toContain('I8');
    const packed = await scores(dir, { compiledWeights: 'packed' });
    expect(packed.model.weightsOnDisk).toBeNull();
    const eager = await scores(dir, { compiled: false });
    for (let i = 0; i < packed.values.length; i++) {
      expect(fromFile.values[i]).toBeCloseTo(packed.values[i]!, 6);
      expect(fromFile.values[i]).toBeCloseTo(eager.values[i]!, 5);
    }
    // Dequantizing on load needs the codes: they are read, the layers are float, and the scores stay close.
    const fp32 = await scores(dir, { dtype: 'fp32' });
    expect([...fp32.model.namedModules()].some(([, m]) => m instanceof QuantizedLinear)).toBe(false);
    expect([...fp32.model.namedModules()].some(([, m]) => m instanceof Linear)).toBe(true);
    for (let i = 0; i < packed.values.length; i++) {
      expect(Math.abs(fp32.values[i]! - packed.values[i]!)).toBeLessThan(0.02);
    }
  });
});

/** The checkpoint dtypes of the weights `model` left in its file. */
function storedTypes(model: { weightsOnDisk: ReadonlyMap<Tensor, { dtype: string }> | null }): Set<string> {
  return new Set([...(model.weightsOnDisk ?? new Map()).values()].map((e) => e.dtype));
}

describe('generation from a quantized checkpoint left in its file', () => {
  // llama: hidden 64, intermediate 37, so q4 takes every projection but down_proj (37 inputs, int8).
  for (const scheme of ['int8', 'q4'] as const) {
    it(`llama ${scheme}: prompt and decode steps read the codes from the file; greedy ids as with codes in JS`, async () => {
      const { dir } = goldenCase('llama');
      const out = await quantizedCopy(dir, { dtype: scheme }, `llama-${scheme}`, AutoModelForCausalLM);
      const held = await LlamaForCausalLM.fromPretrained(out);
      const onDisk = await LlamaForCausalLM.fromPretrained(out, { readWeights: false });
      expect(storedTypes(onDisk)).toContain('I8');
      if (scheme === 'q4') expect(storedTypes(onDisk)).toContain('U8');
      // A left-padded batch: the masks and positions of both graphs are covered.
      const prompt = [
        [1, 375, 505, 15, 465],
        [0, 0, 1, 77, 301],
      ];
      const options = {
        maxNewTokens: 16,
        attentionMask: [
          [1, 1, 1, 1, 1],
          [0, 0, 1, 1, 1],
        ],
        eosTokenId: null,
        padTokenId: 0,
      };
      const expected = noGrad(() => generate(held, prompt, options)).sequences;
      expect(noGrad(() => generate(onDisk, prompt, options)).sequences).toEqual(expected);
      expect([promptsCompiled(onDisk), decodesCompiled(onDisk)]).toEqual([true, true]);
      expect(codesOf(onDisk).every((codes) => codes.isDisposed)).toBe(true);
      // Op by op, on the codes read back, the same ids again.
      onDisk.readWeightsBack();
      expect(noGrad(() => generate(onDisk, prompt, { ...options, compiled: false })).sequences).toEqual(expected);
    });
  }

  // T5's relative position buckets are constants of the lengths that the compiled graph cannot rebuild: its passes run
  // op by op on the codes read back (said once each), with the same ids.
  for (const [name, compiles] of [
    ['marian', true],
    ['bart', true],
    ['t5', false],
  ] as const) {
    it(`${name} int8: encoder and decoder graphs read the codes from the file (${compiles}); ids as op by op`, async () => {
      const { dir, inputs } = goldenCase(name);
      const out = await quantizedCopy(dir, { dtype: 'int8' }, `${name}-int8`, AutoModelForSeq2SeqLM);
      const held = await AutoModelForSeq2SeqLM.fromPretrained(out);
      const onDisk = await AutoModelForSeq2SeqLM.fromPretrained(out, { readWeights: false });
      expect(storedTypes(onDisk)).toContain('I8');
      const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
      try {
        for (const numBeams of [1, 3]) {
          const options = { attentionMask: inputs.attention_mask, maxNewTokens: 12, numBeams };
          const expected = noGrad(() => generate(held, inputs.input_ids, options)).sequences;
          expect(noGrad(() => generate(onDisk, inputs.input_ids, options)).sequences).toEqual(expected);
        }
        expect(warn).toHaveBeenCalledTimes(compiles ? 0 : 3);
      } finally {
        warn.mockRestore();
      }
      expect(decodesCompiled(onDisk)).toBe(compiles);
      expect(codesOf(onDisk).every((codes) => codes.isDisposed)).toBe(compiles);
    });
  }
});

describe('generation pipelines on a quantized checkpoint', () => {
  it('text-generation leaves the int8 codes in the file and writes what codes in JS write', async () => {
    const lm = await quantizedCopy(await tinyCausalLM(), { dtype: 'int8' }, 'gpt2-int8', AutoModelForCausalLM);
    const prompts = ['the cat sat', 'once upon a time there was'];
    const generateFrom = async (options: Parameters<typeof pipeline>[2]) => {
      const writer = await pipeline('text-generation', lm, { ...options, onWarning: () => {} });
      const out = await writer(prompts, { maxNewTokens: 12 });
      writer.dispose();
      return { texts: out.map((r) => r[0]!.generated_text), types: storedTypes(writer.model) };
    };
    const fromFile = await generateFrom({});
    expect(fromFile.types).toContain('I8');
    const packed = await generateFrom({ compiledWeights: 'packed' });
    expect(packed.types.size).toBe(0);
    expect(fromFile.texts).toEqual(packed.texts);
  });

  it('translation leaves its int8 codes in the file and writes what codes in JS write', async () => {
    const mt = await quantizedCopy(await tinySeq2Seq(), { dtype: 'int8' }, 'tiny-marian-int8', AutoModelForSeq2SeqLM);
    const sentences = ['the cat sat on the mat', 'a dog'];
    const translate = async (options: Parameters<typeof pipeline>[2]) => {
      const translator = await pipeline('translation', mt, { ...options, onWarning: () => {} });
      const out = await translator(sentences, { maxNewTokens: 10 });
      translator.dispose();
      return { texts: out.map((r) => r.translation_text), types: storedTypes(translator.model) };
    };
    const translated = await translate({});
    expect(translated.types).toContain('I8');
    // Codes read into JS: op by op, the path before.
    const opByOp = await translate({ compiledWeights: 'packed' });
    expect(opByOp.types.size).toBe(0);
    expect(translated.texts).toEqual(opByOp.texts);
    expect(translated.texts.every((text) => text.length > 0)).toBe(true);
  });
});
