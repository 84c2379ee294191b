// Loading checkpoints into models: half-precision weights kept as half, checks made against the headers before any
// tensor is read, and errors that name the file and what was expected.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_JSON_BYTES } from '../../src/io/files.js';
import { loadSafetensors, saveSafetensors, saveShardedSafetensors } from '../../src/io/safetensors.js';
import { AutoModelForCausalLM } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import type { PreTrainedModel } from '../../src/models/modeling_utils.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { AdamW } from '../../src/optim/adam.js';
import { manualSeed } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { pipeline } from '../../src/pipelines/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';

const LLAMA = {
  model_type: 'llama',
  vocab_size: 40,
  hidden_size: 16,
  intermediate_size: 24,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  max_position_embeddings: 32,
  tie_word_embeddings: false,
};

function parameterBytes(model: PreTrainedModel): number {
  return model.parameters().reduce((n, p) => n + p.size * (p.halfStorage ? 2 : 4), 0);
}

describe('loading checkpoints', () => {
  let dir: string;
  let tensors: Map<string, Tensor>;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
    manualSeed(7);
    const model = AutoModelForCausalLM.fromConfig(configFromJSON(LLAMA, 'tiny llama')) as PreTrainedModel;
    await model.savePretrained(dir);
    tensors = model.checkpointTensors();
    // The weights as fp16 checkpoints ship them.
    await saveSafetensors(join(dir, 'model.safetensors'), tensors, { floatDtype: 'F16', metadata: { format: 'pt' } });
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('keeps F16 weights in half precision and computes what the float32-widened model computes', async () => {
    const half = await LlamaForCausalLM.fromPretrained(dir);
    const wide = await LlamaForCausalLM.fromPretrained(dir, { dtype: 'float32' });
    expect(half.parameters().every((p) => p.halfStorage?.format === 'F16')).toBe(true);
    expect(wide.parameters().every((p) => p.halfStorage === null)).toBe(true);
    expect(parameterBytes(half) * 2).toBe(parameterBytes(wide));
    // The stored bits are the file's: re-saving writes the same bytes.
    const again = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
    await half.savePretrained(again);
    expect(
      Buffer.compare(readFileSync(join(again, 'model.safetensors')), readFileSync(join(dir, 'model.safetensors'))),
    ).toBe(0);
    await rm(again, { recursive: true });

    const ids = new Tensor(Int32Array.of(3, 17, 5, 29, 1), [1, 5]);
    const a = half.forward({ inputIds: ids }).logits.data;
    const b = wide.forward({ inputIds: ids }).logits.data;
    expect(a).toEqual(b);
    // And the values are the rounded weights' (not zeros or the fresh initialisation).
    const embed = half.stateDict().get('model.embed_tokens.weight')!;
    const rounded = (await loadSafetensors(join(dir, 'model.safetensors'), { keepHalf: false })).tensors.get(
      'model.embed_tokens.weight',
    )!;
    expect(embed.data).toEqual(rounded.data);
    expect(Math.abs(embed.data[5]! - tensors.get('model.embed_tokens.weight')!.data[5]!)).toBeLessThan(1e-3);
  });

  it('widens a half weight to float32 when an optimizer takes it, so updates are not lost', async () => {
    const model = await LlamaForCausalLM.fromPretrained(dir);
    const weight = model.stateDict().get('lm_head.weight')!;
    const before = weight.data[0]!;
    const optimizer = new AdamW(model.parameters(), { lr: 0.1 });
    expect(weight.halfStorage).toBeNull();
    model.train();
    const ids = new Tensor(Int32Array.of(3, 17, 5), [1, 3]);
    model.forward({ inputIds: ids, labels: ids }).loss!.backward();
    optimizer.step();
    expect(weight.data[0]).not.toBe(before);
  });

  it('warns naming a checkpoint tensor the model does not use', async () => {
    const extra = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
    writeFileSync(join(extra, 'config.json'), readFileSync(join(dir, 'config.json')));
    await saveSafetensors(
      join(extra, 'model.safetensors'),
      new Map([...tensors, ['model.secret_adapter.weight', Tensor.from([1, 2], [2])]]),
    );
    const warnings: string[] = [];
    await LlamaForCausalLM.fromPretrained(extra, { onWarning: (m) => warnings.push(m) });
    expect(warnings.join('\n')).toMatch(
      /were not used when initializing LlamaForCausalLM: model\.secret_adapter\.weight/,
    );
    await rm(extra, { recursive: true });

    // Pipelines load through their own path, and say it too.
    const classifier = await tinyClassifier(['NEGATIVE', 'POSITIVE']);
    const weights = join(classifier, 'model.safetensors');
    await saveSafetensors(
      weights,
      new Map([...(await loadSafetensors(weights)).tensors, ['bert.pooler.extra', Tensor.from([1], [1])]]),
    );
    const notes: string[] = [];
    const pipe = await pipeline('text-classification', classifier, { onWarning: (m) => notes.push(m) });
    pipe.dispose();
    expect(notes.join('\n')).toContain(
      `${classifier}: the checkpoint holds tensor(s) BertForSequenceClassification does not use: bert.pooler.extra`,
    );
  });

  it('names the shard and what was expected for a wrong dtype, a wrong shape and a missing shard', async () => {
    const sharded = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
    writeFileSync(join(sharded, 'config.json'), readFileSync(join(dir, 'config.json')));
    const bad = new Map(tensors);
    bad.set(
      'model.norm.weight',
      Tensor.from(
        Array.from({ length: 16 }, () => 1),
        [16],
        'int32',
      ),
    );
    await saveShardedSafetensors(sharded, bad, { maxShardBytes: 8000 });
    const index = JSON.parse(readFileSync(join(sharded, 'model.safetensors.index.json'), 'utf8')) as {
      weight_map: Record<string, string>;
    };
    const normShard = index.weight_map['model.norm.weight']!;
    await expect(LlamaForCausalLM.fromPretrained(sharded)).rejects.toThrow(
      `${join(sharded, normShard)}: tensor 'model.norm.weight' is I32 (int32), but LlamaForCausalLM expects float32 [16]`,
    );

    bad.set(
      'model.norm.weight',
      Tensor.from(
        Array.from({ length: 8 }, () => 1),
        [8],
      ),
    );
    await saveShardedSafetensors(sharded, bad, { maxShardBytes: 8000 });
    await expect(LlamaForCausalLM.fromPretrained(sharded)).rejects.toThrow(
      `${join(sharded, normShard)}: tensor 'model.norm.weight' has shape [8], but LlamaForCausalLM expects [16]`,
    );

    await rm(join(sharded, normShard));
    await expect(LlamaForCausalLM.fromPretrained(sharded)).rejects.toThrow(
      new RegExp(
        `model\\.safetensors\\.index\\.json: shard '${normShard}' is missing \\(expected .*${normShard}, holding \\d+ tensor\\(s\\)`,
      ),
    );
    writeFileSync(
      join(sharded, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { 'model.norm.weight': '../model.safetensors' } }),
    );
    await expect(LlamaForCausalLM.fromPretrained(sharded)).rejects.toThrow(
      /weight_map\['model\.norm\.weight'\] is "\.\.\/model\.safetensors"; expected a shard file name in the same folder/,
    );
    await rm(sharded, { recursive: true });
  });

  it('refuses a config.json that is a FIFO or a device at once, and one too large to be a config', async () => {
    const odd = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
    execFileSync('mkfifo', [join(odd, 'config.json')]);
    await expect(LlamaForCausalLM.fromPretrained(odd)).rejects.toThrow(
      `${join(odd, 'config.json')}: cannot read the model configuration (${join(odd, 'config.json')}: the model configuration is a FIFO (named pipe); attn reads only regular files)`,
    );
    await rm(join(odd, 'config.json'));
    symlinkSync('/dev/zero', join(odd, 'config.json'));
    await expect(LlamaForCausalLM.fromPretrained(odd)).rejects.toThrow(
      /the model configuration is a character device \(such as \/dev\/zero\)/,
    );
    await rm(join(odd, 'config.json'));
    writeFileSync(join(odd, 'config.json'), Buffer.alloc(MAX_JSON_BYTES + 1, 0x20));
    await expect(LlamaForCausalLM.fromPretrained(odd)).rejects.toThrow(
      `the model configuration is ${MAX_JSON_BYTES + 1} bytes; attn reads at most ${MAX_JSON_BYTES} bytes of it`,
    );
    await rm(odd, { recursive: true });
  });

  it('refuses a config that implies far more parameters than the weights file holds, before allocating', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { num_hidden_layers: 10_000_000 },
        /config\.json: field 'num_hidden_layers' is 10000000 while the checkpoint holds 2 layer\(s\): this config implies at least 2\.56e\+9 parameters, but .*model\.safetensors holds/,
      ],
      [
        { hidden_size: 1e9 },
        /config\.json: field 'hidden_size' is 1000000000: this config implies at least 2\.00e\+18 parameters/,
      ],
      [
        { vocab_size: 50_000_000 },
        /config\.json: fields 'vocab_size' 50000000 × 'hidden_size' 16 need 8\.00e\+8 values/,
      ],
    ];
    for (const [change, message] of cases) {
      const broken = mkdtempSync(join(tmpdir(), 'attn-checkpoint-'));
      writeFileSync(join(broken, 'config.json'), JSON.stringify({ ...LLAMA, ...change }));
      writeFileSync(join(broken, 'model.safetensors'), readFileSync(join(dir, 'model.safetensors')));
      await expect(LlamaForCausalLM.fromPretrained(broken)).rejects.toThrow(message);
      await rm(broken, { recursive: true });
    }
  });
});
