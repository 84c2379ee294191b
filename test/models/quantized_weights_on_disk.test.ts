// Quantized checkpoints loaded with `readWeights: false` (as the text pipelines load): the int8 / q4 codes stay in
// model.safetensors and onnxruntime reads them in their file type (I8, U8), so JS holds no int32 copy of them. The
// reference is the same checkpoint with its codes read into JS (the path used before), compiled with the weights
// 'packed', and op by op.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyTokenizerFiles } from '../../src/hub/push.js';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import {
  codesReadAsStored,
  CompiledForward,
  encoderSpec,
  type CompileOptions,
  type EncoderFeeds,
} from '../../src/models/compiled.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { quantize, type QuantizeOptions } from '../../src/models/quantization.js';
import { Linear } from '../../src/nn/layers.js';
import { QuantizedEmbedding, QuantizedLinear } from '../../src/nn/quantized.js';
import type { Module } from '../../src/nn/module.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import type { GraphSpec, NodeSpec } from '../../src/backends/onnx/protobuf.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { maxMagnitude, maxTensorDiff } from '../helpers/tensors.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';
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

async function quantizedCopy(from: string, options: QuantizeOptions, name: string): Promise<string> {
  const out = join(tmp, name);
  const model = await AutoModelForSequenceClassification.fromPretrained(from, { onWarning: () => {} });
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
