import { readFileSync } from 'node:fs';

import { describe, it, expect } from 'vitest';
import '../../src/models/auto/index.js';
import { PretrainedConfig, configFromJSON } from '../../src/models/configuration_utils.js';
import { BertConfig } from '../../src/models/bert/configuration_bert.js';
import { goldenPath } from './golden.js';

describe('PretrainedConfig', () => {
  it('reads snake_case fields as camelCase and writes back exactly what transformers wrote', async () => {
    for (const name of ['bert', 'bert_seqcls', 'distilbert_seqcls', 'llama', 'gpt2']) {
      const path = goldenPath(name, 'model', 'config.json');
      const config = await PretrainedConfig.fromFile(path);
      expect(config.toJSON(), name).toEqual(JSON.parse(readFileSync(path, 'utf8')));
    }
    const seqcls = (await PretrainedConfig.fromFile(goldenPath('bert_seqcls', 'model', 'config.json'))) as BertConfig;
    expect(seqcls).toBeInstanceOf(BertConfig);
    expect(seqcls.hiddenSize).toBe(32);
    expect(seqcls.numLabels).toBe(3);
    expect(seqcls.id2label).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2' });
  });

  it('writes changed and new labels, and keeps unknown fields', () => {
    const config = new BertConfig({ model_type: 'bert', hidden_size: 16, some_future_field: [1, 2] });
    config.numLabels = 4;
    config.hiddenDropoutProb = 0;
    const json = config.toJSON();
    expect(json['hidden_size']).toBe(16);
    expect(json['some_future_field']).toEqual([1, 2]);
    expect(json['hidden_dropout_prob']).toBe(0);
    expect(json['id2label']).toEqual({ 0: 'LABEL_0', 1: 'LABEL_1', 2: 'LABEL_2', 3: 'LABEL_3' });
    expect(json).not.toHaveProperty('num_labels');
    expect(json).not.toHaveProperty('vocab_size'); // untouched defaults stay out, as transformers' diff dict
    expect(new BertConfig({ model_type: 'bert', num_labels: 5 }).numLabels).toBe(5);
  });

  it('names the file and field of a bad value, and the known types for an unknown model_type', () => {
    expect(() => new BertConfig({ model_type: 'bert', hidden_size: -3 }, 'x/config.json')).toThrow(
      /x\/config\.json: field 'hidden_size' is -3; expected a whole number >= 1/,
    );
    expect(() => new BertConfig({ model_type: 'gpt2' }, 'x/config.json')).toThrow(
      /x\/config\.json: model_type is 'gpt2', but BertConfig reads 'bert'/,
    );
    expect(() => configFromJSON({ model_type: 'mamba9' }, 'y/config.json')).toThrow(
      /y\/config\.json: unknown model_type 'mamba9'; attn knows bart, bert, distilbert, gpt2, llama, marian, mistral, qwen2, roberta, t5/,
    );
  });
});
