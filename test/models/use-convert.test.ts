// The TF.js → attn importer: the committed models/use-lite is exactly what it produces, and graphs that are not
// the architecture it knows are refused with the weight named.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TFJS_USE_DIR } from '../../scripts/use-tfjs-reference.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import {
  importTfjsUse,
  mapGraphWeights,
  readGraphWeights,
  TfjsImportError,
  vocabToTokenizerJson,
} from '../../src/models/use/convert_tfjs.js';
import { USE_LITE_DIR } from './use-fixtures.js';

type GraphWeights = Awaited<ReturnType<typeof readGraphWeights>>;
const FILE = 'model.json';

describe('importing USE Lite from its TF.js graph model', () => {
  let weights: GraphWeights;
  const scratch = mkdtempSync(join(tmpdir(), 'attn-use-'));

  beforeAll(async () => {
    weights = await readGraphWeights(TFJS_USE_DIR);
  });
  afterAll(() => rmSync(scratch, { recursive: true, force: true }));

  it('reproduces the committed models/use-lite bit for bit', async () => {
    const { model, tokenizer } = await importTfjsUse(TFJS_USE_DIR);
    const committed = (await loadSafetensors(join(USE_LITE_DIR, 'model.safetensors'))).tensors;
    const imported = model.checkpointTensors();
    expect([...committed.keys()].sort()).toEqual([...imported.keys()].sort());
    for (const [name, t] of imported)
      expect(Buffer.from(committed.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer)), name).toBe(true);
    expect(JSON.parse(readFileSync(join(USE_LITE_DIR, 'config.json'), 'utf8'))).toEqual({
      ...model.config.toJSON(),
      architectures: ['UseModel'],
    });
    expect(JSON.parse(readFileSync(join(USE_LITE_DIR, 'tokenizer.json'), 'utf8'))).toEqual(tokenizer.json);
  });

  it('reads the hyperparameters from the graph', () => {
    const { config, tensors } = mapGraphWeights(weights, FILE);
    expect(config.toJSON()).toMatchObject({
      vocab_size: 8002,
      embedding_size: 256,
      hidden_size: 512,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      intermediate_size: 1536,
      layer_norm_eps: 1e-6,
      max_position_embeddings: 128,
    });
    // Kernels are stored (in, out) by TF and (out, in) by attn.
    expect(tensors.get('encoder.layer.0.attention.qkv.weight')!.shape).toEqual([768, 256]);
    expect(tensors.get('encoder.layer.0.residual_projection.weight')!.shape).toEqual([512, 256]);
    expect(tensors.has('encoder.layer.1.residual_projection.weight')).toBe(false);
    const kernel = [...weights].find(([n]) => n.endsWith('tanh_layer_0/weights'))![1];
    expect(tensors.get('pooler.dense.weight')!.data[3 * 512 + 7]).toBe(kernel.values[7 * 512 + 3]);
  });

  const without = (suffix: string): GraphWeights => new Map([...weights].filter(([n]) => !n.endsWith(suffix)));
  const withChanged = (suffix: string, values: Float32Array): GraphWeights =>
    new Map([...weights].map(([n, w]) => [n, n.endsWith(suffix) ? { shape: w.shape, values } : w]));

  it('names a weight the mapping needs and cannot find', () => {
    expect(() =>
      mapGraphWeights(without('Layer_1/TransformerLayer/FFN/conv2/bias/ConcatPartitions/concat'), FILE),
    ).toThrow(
      /model\.json: expected one weight named …\/Encode\/Layer_1\/TransformerLayer\/FFN\/conv2\/bias\/ConcatPartitions\/concat, found none/,
    );
  });

  it('refuses float weights it has no place for', () => {
    const extra = new Map(weights).set('module/Encoder_en/extra_layer/weights', {
      shape: [4],
      values: new Float32Array(4),
    });
    expect(() => mapGraphWeights(extra, FILE)).toThrow(
      /1 float weight\(s\) have no place in UseModel: module\/Encoder_en\/extra_layer\/weights/,
    );
  });

  it('refuses a timing signal or attention scale other than the ones it recomputes', () => {
    const timescales = new Float32Array(128).fill(0.5);
    expect(() => mapGraphWeights(withChanged('AddTimingSignal/TimingSignal/ExpandDims_1', timescales), FILE)).toThrow(
      /timing-signal inverse timescale 0 is 0\.5; min_timescale 1 and max_timescale 1e4 give 1/,
    );
    expect(() =>
      mapGraphWeights(withChanged('Layer_0/TransformerLayer/MultiheadAttention/mul/y', Float32Array.of(1)), FILE),
    ).toThrow(/layer 0 scales queries by 1; attn assumes 1\/sqrt\(head size 64\)/);
  });

  it('refuses quantized exports and manifests that do not match their shards', async () => {
    const manifest = (weights: object[]) =>
      JSON.stringify({ modelTopology: {}, weightsManifest: [{ paths: ['shard'], weights }] });
    writeFileSync(join(scratch, 'shard'), new Uint8Array(8));
    writeFileSync(
      join(scratch, 'model.json'),
      manifest([{ name: 'w', shape: [2], dtype: 'uint8', quantization: { dtype: 'uint8', scale: 1, min: 0 } }]),
    );
    await expect(readGraphWeights(scratch)).rejects.toThrow(
      /weight 'w' is quantized; only float32\/int32 exports can be imported/,
    );
    writeFileSync(join(scratch, 'model.json'), manifest([{ name: 'w', shape: [3], dtype: 'float32' }]));
    await expect(readGraphWeights(scratch)).rejects.toThrow(/weight 'w' ends at byte 12, past the 8 bytes of shard/);
    writeFileSync(join(scratch, 'model.json'), manifest([{ name: 'w', shape: [1], dtype: 'float32' }]));
    await expect(readGraphWeights(scratch)).rejects.toThrow(/the manifest accounts for 4 bytes, the shards hold 8/);
    writeFileSync(join(scratch, 'model.json'), '{"format": "layers-model"}');
    await expect(readGraphWeights(scratch)).rejects.toThrow(TfjsImportError);
  });

  it('converts vocab.json into a Unigram tokenizer.json, refusing malformed entries', () => {
    const json = vocabToTokenizerJson(
      [
        ['\uFFFD', 0],
        ['<s>', 0],
        ['</s>', 0],
        ['a', 0],
        ['b', 0],
        ['c', 0],
        ['\u2581x', -2],
        [':', null],
      ],
      'vocab.json',
    );
    expect(json.model).toMatchObject({ type: 'Unigram', unk_id: 0, byte_fallback: false });
    expect(json.model['vocab']).toEqual([
      ['\uFFFD', 0],
      ['<s>', -1000],
      ['</s>', -1000],
      ['a', -1000],
      ['b', -1000],
      ['c', -1000],
      ['\u2581x', -2],
      [':', 0],
    ]);
    expect(() => vocabToTokenizerJson({ pieces: [] }, 'vocab.json')).toThrow(
      /vocab\.json: expected a list of \[piece, score\] pairs/,
    );
    const bad = [...Array(6).fill(['p', 0]), ['ok', -1], ['bad', 'score']];
    expect(() => vocabToTokenizerJson(bad, 'vocab.json')).toThrow(
      /vocab\.json: entry 7 is \["bad","score"\]; expected \[piece, score\]/,
    );
  });
});
