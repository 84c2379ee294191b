import { mkdtempSync, readFileSync, writeFileSync, cpSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import {
  AutoConfig,
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSequenceClassification,
} from '../../src/models/auto/index.js';
import { BertForSequenceClassification, BertModel } from '../../src/models/bert/modeling_bert.js';
import { BertConfig } from '../../src/models/bert/configuration_bert.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { noGrad } from '../../src/tensor/engine.js';
import { goldenPath, ids } from './golden.js';

const golden = (name: string) => goldenPath(name, 'model');
const scratch = () => mkdtempSync(join(tmpdir(), 'attn-models-'));

function copyModel(name: string): string {
  const dir = scratch();
  cpSync(golden(name), dir, { recursive: true });
  return dir;
}

describe('Auto classes and fromPretrained / savePretrained', () => {
  it('dispatches on model_type to the class for the task', async () => {
    expect((await AutoConfig.fromPretrained(golden('llama'))).modelType).toBe('llama');
    expect(await AutoModelForCausalLM.fromPretrained(golden('gpt2'))).toBeInstanceOf(GPT2LMHeadModel);
    expect(await AutoModelForCausalLM.fromPretrained(golden('llama'))).toBeInstanceOf(LlamaForCausalLM);
    expect((await AutoModelForMaskedLM.fromPretrained(golden('bert_mlm'))).constructor.name).toBe('BertForMaskedLM');
    const warnings: string[] = [];
    // A masked-LM checkpoint has no pooler: the base model initialises it fresh and says so.
    const base = await AutoModel.fromPretrained(golden('bert_mlm'), { onWarning: (m) => warnings.push(m) });
    expect(base).toBeInstanceOf(BertModel);
    expect(base.loadingInfo!.newlyInitialized).toEqual(['pooler.dense.weight', 'pooler.dense.bias']);
    expect(base.loadingInfo!.unexpectedKeys.every((k) => k.startsWith('cls.'))).toBe(true);
    await expect(AutoModelForCausalLM.fromPretrained(golden('bert'))).rejects.toThrow(
      /model_type 'bert' has no a causal LM head|has no a causal/,
    );
  });

  it('initialises a fresh classifier head from a base checkpoint and lists it', async () => {
    const warnings: string[] = [];
    const model = (await AutoModelForSequenceClassification.fromPretrained(golden('bert'), {
      id2label: { 0: 'negative', 1: 'positive' },
      onWarning: (m) => warnings.push(m),
    })) as BertForSequenceClassification;
    expect(model).toBeInstanceOf(BertForSequenceClassification);
    expect(model.config.numLabels).toBe(2);
    expect(model.config.label2id).toEqual({ negative: 0, positive: 1 });
    expect(model.loadingInfo!.newlyInitialized.sort()).toEqual(['classifier.bias', 'classifier.weight']);
    expect(warnings.join('\n')).toMatch(/newly initialized: classifier\.weight, classifier\.bias/);
    // The base checkpoint's weights landed under the `bert.` prefix.
    const reference = await BertModel.fromPretrained(golden('bert'));
    expect(model.bert.encoder.layer[1]!.output.dense.weight.data).toEqual(
      reference.encoder.layer[1]!.output.dense.weight.data,
    );
    const logits = noGrad(() => model.forward({ inputIds: ids([[2, 5, 3]]) }).logits);
    expect(logits.shape).toEqual([1, 2]);
  });

  it('saves byte-identical safetensors and the same config.json that transformers wrote (tied weight once)', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(golden('gpt2'));
    const dir = scratch();
    await model.savePretrained(dir);
    expect(
      Buffer.compare(
        readFileSync(join(dir, 'model.safetensors')),
        readFileSync(join(golden('gpt2'), 'model.safetensors')),
      ),
    ).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(
      JSON.parse(readFileSync(join(golden('gpt2'), 'config.json'), 'utf8')),
    );
    expect(existsSync(join(dir, 'generation_config.json'))).toBe(true);
  });

  it('round-trips a changed config and a sharded checkpoint bit-identically', async () => {
    const model = await LlamaForCausalLM.fromPretrained(golden('llama'), { configOverrides: { ropeTheta: 500000 } });
    const dir = scratch();
    await model.savePretrained(dir, { maxShardBytes: 100_000 });
    expect(existsSync(join(dir, 'model.safetensors.index.json'))).toBe(true);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(new Set(Object.values(index.weight_map)).size).toBeGreaterThan(2);
    expect(existsSync(join(dir, index.weight_map['lm_head.weight']))).toBe(true);
    const saved = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    expect(saved.rope_theta).toBe(500000);
    expect(saved.pretraining_tp).toBe(1); // a field attn does not read survives
    const back = await LlamaForCausalLM.fromPretrained(dir);
    expect(back.config.ropeTheta).toBe(500000);
    for (const [name, t] of model.stateDict()) expect(back.stateDict().get(name)!.data, name).toEqual(t.data);
  });

  it('names the unknown model_type, the missing tensor and the wrong shape', async () => {
    const unknown = copyModel('gpt2');
    const config = JSON.parse(readFileSync(join(unknown, 'config.json'), 'utf8'));
    writeFileSync(join(unknown, 'config.json'), JSON.stringify({ ...config, model_type: 'gpt9' }));
    await expect(AutoModelForCausalLM.fromPretrained(unknown)).rejects.toThrow(
      /config\.json: unknown model_type 'gpt9'; attn knows .*bert.*gpt2.*llama/,
    );

    const missing = copyModel('gpt2');
    const { tensors, metadata } = await loadSafetensors(join(missing, 'model.safetensors'));
    tensors.delete('transformer.h.1.mlp.c_fc.weight');
    await saveSafetensors(join(missing, 'model.safetensors'), tensors, { metadata });
    await expect(GPT2LMHeadModel.fromPretrained(missing)).rejects.toThrow(
      /model\.safetensors: the checkpoint lacks 1 tensor\(s\) that GPT2LMHeadModel needs: transformer\.h\.1\.mlp\.c_fc\.weight/,
    );

    const wrongShape = copyModel('gpt2');
    writeFileSync(join(wrongShape, 'config.json'), JSON.stringify({ ...config, n_inner: 40 }));
    await expect(GPT2LMHeadModel.fromPretrained(wrongShape)).rejects.toThrow(
      /model\.safetensors: tensor 'transformer\.h\.0\.mlp\.c_fc\.weight' has shape \[32, 37\], but GPT2LMHeadModel expects \[32, 40\]/,
    );

    const badField = copyModel('gpt2');
    writeFileSync(join(badField, 'config.json'), JSON.stringify({ ...config, n_layer: 'two' }));
    await expect(GPT2LMHeadModel.fromPretrained(badField)).rejects.toThrow(
      /config\.json: field 'n_layer' is "two"; expected a whole number >= 1/,
    );
  });

  it('refuses a prompt longer than the context window', async () => {
    const model = await GPT2LMHeadModel.fromPretrained(golden('gpt2'));
    const long = ids([Array.from({ length: 65 }, (_, i) => i)]);
    expect(() => model.forward({ inputIds: long })).toThrow(
      /65 positions .* exceed the context window of 64 \(config n_positions\)/,
    );
  });
});

describe('savePretrained of a model built from a config', () => {
  it('writes model_type, so AutoModel loads the folder back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'attn-model-type-'));
    const config = new BertConfig({
      vocab_size: 30,
      hidden_size: 8,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 16,
      max_position_embeddings: 16,
    });
    await new BertModel(config).savePretrained(dir);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).model_type).toBe('bert');
    expect((await AutoModel.fromPretrained(dir)).constructor.name).toBe('BertModel');
  });
});
