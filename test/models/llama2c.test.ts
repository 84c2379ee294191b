import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, expect } from 'vitest';
import { loadLlama2cModel, loadLlama2cTokenizer } from '../../src/models/llama/convert_llama2c.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const KNOWN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high';

describeWithShared('llama2.c stories260K', ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'], () => {
  const modelPath = sharedPath('models/stories260K/stories260K.bin');
  const tokenizerPath = sharedPath('models/stories260K/tok512.bin');

  it('converts to the HF Llama layout and greedy-decodes the known 60-token text from BOS', async () => {
    const model = await loadLlama2cModel(modelPath);
    const tokenizer = await loadLlama2cTokenizer(tokenizerPath, model.config.vocabSize);
    expect(model.config).toMatchObject({ hiddenSize: 64, numHiddenLayers: 5, numAttentionHeads: 8, numKeyValueHeads: 4, vocabSize: 512 });
    const generated: number[] = [];
    noGrad(() => {
      let out = model.forward({ inputIds: Tensor.from([1], [1, 1], 'int32'), useCache: true });
      for (let step = 0; step < 60; step++) {
        const next = ops.argmax(ops.slice(out.logits, 1, -1), -1).data[0]!;
        generated.push(next);
        out = model.forward({ inputIds: Tensor.from([next], [1, 1], 'int32'), pastKeyValues: out.pastKeyValues, useCache: true });
      }
    });
    expect(tokenizer.decode(generated)).toBe(KNOWN);
  });

  it('names the file and what is wrong in a truncated checkpoint', async () => {
    const bytes = readFileSync(modelPath);
    const path = join(mkdtempSync(join(tmpdir(), 'attn-llama2c-')), 'cut.bin');
    writeFileSync(path, bytes.subarray(0, 150_000));
    await expect(loadLlama2cModel(path)).rejects.toThrow(/cut\.bin: truncated: wq needs/);
  });
});
