import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { CompiledForward, encoderSpec } from '../../src/models/compiled.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { MarianConfig, MarianMTModel } from '../../src/models/index.js';
import {
  applyWeightDtype,
  checkQuantizedRuntime,
  dequantize,
  quantizationConfigOf,
  quantize,
  QuantizationError,
  readQuantizationConfig,
} from '../../src/models/quantization.js';
import { Embedding, Linear } from '../../src/nn/layers.js';
import { Module } from '../../src/nn/module.js';
import { Q4_BLOCK, QuantizedEmbedding, QuantizedLinear } from '../../src/nn/quantized.js';
import { randn } from '../../src/tensor/creation.js';
import { noGrad, withBackend } from '../../src/tensor/engine.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { projectRoot } from '../../src/util/paths.js';
import { goldenCase, ids } from './golden.js';
import { maxMagnitude, maxTensorDiff } from '../helpers/tensors.js';

let tmp: string;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'attn-quant-'));
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('int8 DistilBERT classifier', () => {
  it('stays close to the float model, saves I8 codes + F32 scales, loads back identical, and compiles', async () => {
    const { dir, inputs } = goldenCase('distilbert_seqcls');
    const float = await DistilBertForSequenceClassification.fromPretrained(dir);
    const model = quantize(await DistilBertForSequenceClassification.fromPretrained(dir), { dtype: 'int8' });
    expect(model.distilbert.transformer.layer[0]!.attention.q_lin).toBeInstanceOf(QuantizedLinear);
    expect(model.distilbert.embeddings.word_embeddings).toBeInstanceOf(QuantizedEmbedding);
    const feeds = { inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) };
    const [want, got] = noGrad(() => [float.forward(feeds).logits, model.forward(feeds).logits]);
    // Random tiny weights amplify the 8-bit rounding; accuracy on real data is scripts/eval-quantized.ts' job.
    expect(maxTensorDiff(got, want)).toBeLessThan(0.15 * maxMagnitude(want));

    const out = join(tmp, 'distilbert-int8');
    await model.savePretrained(out);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config.quantization_config.dtype).toBe('int8');
    expect(config.quantization_config.modules['distilbert.transformer.layer.1.ffn.lin2']).toBe('int8');
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    expect(reader.entries.get('distilbert.transformer.layer.0.attention.q_lin.weight')!.dtype).toBe('I8');
    expect(reader.entries.get('distilbert.transformer.layer.0.attention.q_lin.weight_scale')!.dtype).toBe('F32');
    expect(reader.entries.get('distilbert.embeddings.word_embeddings.weight')!.dtype).toBe('I8');
    await reader.close();

    const loaded = await DistilBertForSequenceClassification.fromPretrained(out);
    expect(loaded.distilbert.transformer.layer[1]!.ffn.lin2).toBeInstanceOf(QuantizedLinear);
    const again = noGrad(() => loaded.forward(feeds).logits);
    expect(maxTensorDiff(again, got)).toBe(0);

    const compiled = CompiledForward.compile(
      loaded,
      encoderSpec(loaded.config.vocabSize, (x) => ({ logits: loaded.forward(x).logits })),
    );
    const fromGraph = compiled.run({
      input_ids: feeds.inputIds,
      attention_mask: feeds.attentionMask,
      token_type_ids: feeds.inputIds,
    });
    expect(compiled.spec.nodes.some((n) => n.op === 'DynamicQuantizeMatMul' && n.domain === 'com.microsoft')).toBe(
      true,
    );
    expect(maxTensorDiff(fromGraph.logits!, got)).toBeLessThan(1e-4 * Math.max(1, maxMagnitude(got)));
    compiled.dispose();
  });
});

describe('q4 causal LM', () => {
  it('quantizes 4-bit where the width fits whole blocks, int8 elsewhere, and the tied head shares the table', async () => {
    const model = quantize(await LlamaForCausalLM.fromPretrained(join(projectRoot, 'models/tinystories-llama')), {
      dtype: 'q4',
    });
    const layer = model.model.layers[0]!;
    expect((layer.self_attn.q_proj as unknown as QuantizedLinear).scheme).toBe('q4');
    expect((layer.mlp.down_proj as unknown as QuantizedLinear).scheme).toBe('q4'); // 352 = 11 blocks
    const head = model.lm_head as unknown as QuantizedLinear;
    expect(head.scheme).toBe('int8');
    expect(head.codes).toBe((model.model.embed_tokens as unknown as QuantizedEmbedding).codes);

    const out = join(tmp, 'llama-q4');
    await model.savePretrained(out);
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    expect(reader.entries.get('model.layers.0.self_attn.q_proj.weight')).toMatchObject({
      dtype: 'U8',
      shape: [128, 4, 16],
    });
    expect(reader.entries.has('lm_head.weight')).toBe(false);
    await reader.close();
    const floatBytes = (await stat(join(projectRoot, 'models/tinystories-llama/model.safetensors'))).size;
    const q4Bytes = (await stat(join(out, 'model.safetensors'))).size;
    expect(q4Bytes / floatBytes).toBeLessThan(0.2);

    const loaded = await LlamaForCausalLM.fromPretrained(out);
    const tokens = ids([[1, 50, 300, 7]]);
    const [a, b] = noGrad(() => [
      model.forward({ inputIds: tokens }).logits,
      loaded.forward({ inputIds: tokens }).logits,
    ]);
    expect(maxTensorDiff(a, b)).toBe(0);
  });

  it('falls back to int8 for a width that is not whole blocks, and refuses it when asked by name', async () => {
    const { dir } = goldenCase('llama'); // intermediate_size 37
    const model = quantize(await LlamaForCausalLM.fromPretrained(dir), { dtype: 'q4' });
    expect((model.model.layers[0]!.mlp.down_proj as unknown as QuantizedLinear).scheme).toBe('int8');
    const fresh = await LlamaForCausalLM.fromPretrained(dir);
    expect(() => quantize(fresh, { dtype: 'q4', modules: ['model.layers.0.mlp.down_proj'] })).toThrow(
      /layer 'model.layers.0.mlp.down_proj' has 37 input features, not a multiple of the q4 block size 32/,
    );
  });
});

/** The float32 weight int8 codes stand for, computed here independently: code · scale of its row. */
function int8Weight(codes: Tensor, scales: Tensor): Float32Array {
  const cols = codes.shape[1]!;
  return Float32Array.from(codes.data, (code, i) => code * scales.data[Math.floor(i / cols)]!);
}

/** The same for q4: (nibble − 8) · scale of its 32-wide block, nibbles low first in each byte. */
function q4Weight(codes: Tensor, scales: Tensor): Float32Array {
  const [rows, blocks] = scales.shape as [number, number];
  const cols = blocks * Q4_BLOCK;
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    const byte = codes.data[i >> 1]!;
    const code = i % 2 === 0 ? byte & 15 : byte >> 4;
    w[i] = (code - 8) * scales.data[Math.floor(i / cols) * blocks + Math.floor((i % cols) / Q4_BLOCK)]!;
  }
  return w;
}

describe('int8 Marian (shared, encoder and decoder embeddings tied)', () => {
  it('quantizes the tied table once: one I8 table in the file, and the model loads back identical', async () => {
    const model = new MarianMTModel(
      new MarianConfig({
        vocab_size: 40,
        d_model: 16,
        encoder_layers: 1,
        decoder_layers: 1,
        encoder_attention_heads: 2,
        decoder_attention_heads: 2,
        encoder_ffn_dim: 32,
        decoder_ffn_dim: 32,
        max_position_embeddings: 16,
        pad_token_id: 2,
        eos_token_id: 0,
        decoder_start_token_id: 2,
      }),
    );
    quantize(model, { dtype: 'int8' });
    const out = join(tmp, 'marian-int8');
    await model.savePretrained(out);
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    const tables = [...reader.entries].filter(([, entry]) => entry.dtype === 'I8' && entry.shape[0] === 40);
    await reader.close();
    expect(tables).toHaveLength(1);
    const loaded = await MarianMTModel.fromPretrained(out);
    const inputs = { inputIds: ids([[5, 9, 17, 0]]), decoderInputIds: ids([[2, 7, 30]]) };
    const [a, b] = noGrad(() => [model.forward(inputs).logits, loaded.forward(inputs).logits]);
    expect(maxTensorDiff(a, b)).toBe(0);
  });
});

describe('dequantize', () => {
  class TwoLayers extends Module {
    int8 = new Linear(64, 48, { generator: new Generator(5) });
    q4 = new Linear(64, 40, { generator: new Generator(6) });
  }

  it('gives Linear layers computing what the quantized kernels compute, less their activation rounding', () => {
    const model = quantize(new TwoLayers(), { dtype: 'int8', modules: ['int8'] });
    quantize(model, { dtype: 'q4', modules: ['q4'] });
    const [int8, q4] = [model.int8 as unknown as QuantizedLinear, model.q4 as unknown as QuantizedLinear];
    expect(dequantize(model)).toBe(model);
    expect(model.int8).toBeInstanceOf(Linear);
    expect(model.q4).toBeInstanceOf(Linear);
    expect(model.q4.bias).toBe(q4.bias);
    expect(model.int8.weight.data).toEqual(int8Weight(int8.codes, int8.scales));
    expect(model.q4.weight.data).toEqual(q4Weight(q4.codes, q4.scales));
    expect(quantizationConfigOf(model)).toBeNull();
    // Integer activations spanning [-100, 155] lie on the uint8 grid DynamicQuantizeLinear picks (scale 1, zero
    // point 100), so the int8 kernel rounds nothing there either: both layers agree to float rounding.
    const g = new Generator(7);
    const x = Tensor.from(
      Array.from({ length: 3 * 64 }, (_, i) => (i === 0 ? -100 : i === 1 ? 155 : Math.floor(g.random() * 256) - 100)),
      [3, 64],
    );
    noGrad(() => {
      for (const [quantized, float] of [
        [int8, model.int8],
        [q4, model.q4],
      ] as const) {
        const want = withBackend('reference', () => quantized.forward(x)); // (3, out)
        const got = float.forward(x);
        expect(maxTensorDiff(got, want)).toBeLessThan(1e-5 * maxMagnitude(want));
      }
      // Elsewhere the int8 kernel's 8-bit activations are the only difference.
      const y = randn([3, 64], { generator: g });
      const want = withBackend('reference', () => int8.forward(y));
      expect(maxTensorDiff(model.int8.forward(y), want)).toBeLessThan(0.02 * maxMagnitude(want));
    });
  });

  it('int8 DistilBERT: float weights code · scale, saved as a float checkpoint, and trainable', async () => {
    const { dir, inputs } = goldenCase('distilbert_seqcls');
    const feeds = { inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) };
    const model = quantize(await DistilBertForSequenceClassification.fromPretrained(dir), { dtype: 'int8' });
    const quantizedDir = join(tmp, 'distilbert-int8-to-float');
    await model.savePretrained(quantizedDir);
    const quantizedLogits = noGrad(() => withBackend('reference', () => model.forward(feeds).logits));
    const qLin = model.distilbert.transformer.layer[0]!.attention.q_lin as unknown as QuantizedLinear;
    const table = model.distilbert.embeddings.word_embeddings as unknown as QuantizedEmbedding;

    dequantize(model);
    const qLinNow = model.distilbert.transformer.layer[0]!.attention.q_lin;
    expect(qLinNow).toBeInstanceOf(Linear);
    expect(qLinNow.weight.data).toEqual(int8Weight(qLin.codes, qLin.scales));
    expect(model.distilbert.embeddings.word_embeddings).toBeInstanceOf(Embedding);
    expect(model.distilbert.embeddings.word_embeddings.weight.data).toEqual(int8Weight(table.codes, table.scales));
    const logits = noGrad(() => model.forward(feeds).logits);
    // Up to the 8-bit activations of each of the 13 quantized matmuls (random tiny weights amplify them).
    expect(maxTensorDiff(logits, quantizedLogits)).toBeLessThan(0.1 * maxMagnitude(quantizedLogits));

    // Loaded with a quantization_config in its config, which the float checkpoint must not keep.
    const fromQuantized = await DistilBertForSequenceClassification.fromPretrained(quantizedDir, { dtype: 'float32' });
    const out = join(tmp, 'distilbert-dequantized');
    await fromQuantized.savePretrained(out);
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).not.toHaveProperty('quantization_config');
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    expect(reader.entries.get('distilbert.transformer.layer.0.attention.q_lin.weight')!.dtype).toBe('F32');
    expect(reader.entries.get('distilbert.embeddings.word_embeddings.weight')!.dtype).toBe('F32');
    expect([...reader.entries.keys()].filter((k) => k.endsWith('weight_scale'))).toEqual([]);
    await reader.close();
    for (const loaded of [fromQuantized, await DistilBertForSequenceClassification.fromPretrained(out)]) {
      expect(quantizationConfigOf(loaded)).toBeNull();
      const again = noGrad(() => loaded.forward(feeds).logits);
      expect(maxTensorDiff(again, logits)).toBe(0);
    }

    model.train();
    const { loss } = model.forward({ ...feeds, labels: ids(inputs.labels) });
    loss!.backward();
    expect(maxMagnitude(qLinNow.weight.grad!)).toBeGreaterThan(0);
    expect(maxMagnitude(model.distilbert.embeddings.word_embeddings.weight.grad!)).toBeGreaterThan(0);
  });

  it('q4 causal LM: the tied head stays tied to the float table, in memory and through save and load', async () => {
    const { dir } = goldenCase('llama'); // hidden 64: q4 attention and gate/up, int8 down_proj (37 wide)
    const model = quantize(
      await LlamaForCausalLM.fromPretrained(dir, { configOverrides: { tieWordEmbeddings: true } }),
      { dtype: 'q4' },
    );
    const tokens = ids([[1, 50, 300, 7]]);
    const quantizedLogits = noGrad(() => withBackend('reference', () => model.forward({ inputIds: tokens }).logits));
    const qProj = model.model.layers[0]!.self_attn.q_proj as unknown as QuantizedLinear;
    expect(qProj.scheme).toBe('q4');

    dequantize(model);
    expect(model.model.layers[0]!.self_attn.q_proj.weight.data).toEqual(q4Weight(qProj.codes, qProj.scales));
    expect(model.lm_head).toBeInstanceOf(Linear);
    expect(model.lm_head.weight).toBe(model.model.embed_tokens.weight);
    const logits = noGrad(() => model.forward({ inputIds: tokens }).logits);
    // q4 rounds no activations; the int8 down_proj and head do.
    expect(maxTensorDiff(logits, quantizedLogits)).toBeLessThan(0.05 * maxMagnitude(quantizedLogits));

    const out = join(tmp, 'llama-dequantized');
    await model.savePretrained(out);
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).not.toHaveProperty('quantization_config');
    expect(config.tie_word_embeddings).toBe(true);
    const reader = await SafetensorsReader.open(join(out, 'model.safetensors'));
    expect(reader.entries.has('lm_head.weight')).toBe(false);
    expect(reader.entries.get('model.embed_tokens.weight')!.dtype).toBe('F32');
    await reader.close();
    const loaded = await LlamaForCausalLM.fromPretrained(out);
    expect(loaded.lm_head.weight).toBe(loaded.model.embed_tokens.weight);
    const again = noGrad(() => loaded.forward({ inputIds: tokens }).logits);
    expect(maxTensorDiff(again, logits)).toBe(0);
  });

  it("applyWeightDtype: 'fp32' dequantizes, 'q8' quantizes a float model and keeps a quantized one", () => {
    const model = quantize(new TwoLayers(), { dtype: 'q4' });
    const codes = (model.q4 as unknown as QuantizedLinear).codes;
    applyWeightDtype(model, 'q8', 'm');
    expect((model.q4 as unknown as QuantizedLinear).codes).toBe(codes);
    applyWeightDtype(model, 'fp32', 'm');
    expect(model.q4).toBeInstanceOf(Linear);
    applyWeightDtype(model, 'fp32', 'm');
    expect(model.q4).toBeInstanceOf(Linear);
    applyWeightDtype(model, 'q8', 'm');
    expect((model.q4 as unknown as QuantizedLinear).scheme).toBe('int8');
    expect(() => applyWeightDtype(model, 'q2' as never, 'm')).toThrow(/m: dtype 'q2' is not one of fp32, fp16, q8, q4/);
  });
});

describe('bad input', () => {
  it('names an unsupported layer', async () => {
    const { dir } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    expect(() => quantize(model, { dtype: 'int8', modules: ['distilbert.embeddings.LayerNorm'] })).toThrow(
      /layer 'distilbert.embeddings.LayerNorm' is a LayerNorm; attn quantizes Linear, Conv1D and Embedding layers/,
    );
    expect(() => quantize(model, { dtype: 'int8', modules: ['nope'] })).toThrow(/no layer named 'nope'/);
  });

  it('says a model is already quantized rather than that it has no layers to quantize', async () => {
    const { dir } = goldenCase('distilbert_seqcls');
    const model = quantize(await DistilBertForSequenceClassification.fromPretrained(dir), { dtype: 'int8' });
    expect(() => quantize(model, { dtype: 'int8' })).toThrow(
      /DistilBertForSequenceClassification is already quantized \(int8, \d+ layers\); to quantize it again, load it dequantized first/,
    );
  });

  it('names the kernel a runtime lacks, and a bad quantization_config field', async () => {
    expect(() =>
      checkQuantizedRuntime('q4', 'some/config.json', 'Could not find an implementation for MatMulNBits(1)'),
    ).toThrow(
      /some\/config.json: this checkpoint is quantized \(q4\) and needs onnxruntime's com.microsoft.MatMulNBits kernel/,
    );
    const { DistilBertConfig } = await import('../../src/models/distilbert/configuration_distilbert.js');
    const config = new DistilBertConfig(
      { quantization_config: { quant_method: 'attn', dtype: 'int3', modules: {} } },
      'x/config.json',
    );
    expect(() => readQuantizationConfig(config)).toThrow(QuantizationError);
    expect(() => readQuantizationConfig(config)).toThrow(
      /x\/config.json: quantization_config.dtype is "int3"; expected "int8" or "q4"/,
    );
  });
});
