import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { CompiledForward, encoderSpec } from '../../src/models/compiled.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import {
  checkQuantizedRuntime,
  quantize,
  QuantizationError,
  readQuantizationConfig,
} from '../../src/models/quantization.js';
import { QuantizedEmbedding, QuantizedLinear } from '../../src/nn/quantized.js';
import { noGrad } from '../../src/tensor/engine.js';
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

describe('bad input', () => {
  it('names an unsupported layer', async () => {
    const { dir } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    expect(() => quantize(model, { dtype: 'int8', modules: ['distilbert.embeddings.LayerNorm'] })).toThrow(
      /layer 'distilbert.embeddings.LayerNorm' is a LayerNorm; attn quantizes Linear and Embedding layers/,
    );
    expect(() => quantize(model, { dtype: 'int8', modules: ['nope'] })).toThrow(/no layer named 'nope'/);
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
