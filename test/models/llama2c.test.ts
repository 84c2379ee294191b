import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it, expect } from 'vitest';
import {
  llama2cToPreTrainedTokenizer,
  loadLlama2cModel,
  loadLlama2cTokenizer,
} from '../../src/models/llama/convert_llama2c.js';
import type { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { pipeline } from '../../src/pipelines/index.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const KNOWN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high';

/** `steps` greedy tokens after BOS, through the model's forward pass and KV cache. */
function greedyFromBos(model: LlamaForCausalLM, steps: number): number[] {
  const generated: number[] = [];
  noGrad(() => {
    let out = model.forward({ inputIds: Tensor.from([1], [1, 1], 'int32'), useCache: true });
    for (let step = 0; step < steps; step++) {
      const next = ops.argmax(ops.slice(out.logits, 1, -1), -1).data[0]!;
      generated.push(next);
      out = model.forward({
        inputIds: Tensor.from([next], [1, 1], 'int32'),
        pastKeyValues: out.pastKeyValues,
        useCache: true,
      });
    }
  });
  return generated;
}

describeWithShared(
  'llama2.c stories260K',
  ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'],
  () => {
    const modelPath = sharedPath('models/stories260K/stories260K.bin');
    const tokenizerPath = sharedPath('models/stories260K/tok512.bin');

    it('converts to the HF Llama layout and greedy-decodes the known 60-token text from BOS', async () => {
      const model = await loadLlama2cModel(modelPath);
      const tokenizer = await loadLlama2cTokenizer(tokenizerPath, model.config.vocabSize);
      expect(model.config).toMatchObject({
        hiddenSize: 64,
        numHiddenLayers: 5,
        numAttentionHeads: 8,
        numKeyValueHeads: 4,
        vocabSize: 512,
      });
      const generated = greedyFromBos(model, 60);
      expect(tokenizer.decode(generated)).toBe(KNOWN);
    });

    it('converts its tokenizer to a PreTrainedTokenizer that encodes as the model generated and decodes the same text', async () => {
      const model = await loadLlama2cModel(modelPath);
      const raw = await loadLlama2cTokenizer(tokenizerPath, model.config.vocabSize);
      const tokenizer = llama2cToPreTrainedTokenizer(raw, tokenizerPath);
      const generated = greedyFromBos(model, 20);
      // BOS, then the very ids the model chose for the text: llama2.c's encoding and the converted one agree.
      const text = raw.decode(generated);
      expect(tokenizer.encodeIds(text)).toEqual([1, ...generated]);
      expect(tokenizer.decode(generated, { skipSpecialTokens: true })).toBe(text);
    });

    it('runs as a text-generation pipeline from the .bin file (attn run --model x.bin), continuing the known story', async () => {
      const generator = await pipeline('text-generation', modelPath);
      try {
        const [result] = await generator('Once upon a time', { maxNewTokens: 20 });
        expect(KNOWN.startsWith(result!.generated_text as string)).toBe(true);
        expect((result!.generated_text as string).length).toBeGreaterThan(60);
      } finally {
        generator.dispose();
      }
      await expect(pipeline('fill-mask', modelPath)).rejects.toThrow(
        /llama2\.c checkpoint: it serves text-generation, not fill-mask/,
      );
    });

    it('names the file and what is wrong in a truncated checkpoint', async () => {
      const bytes = readFileSync(modelPath);
      const path = join(mkdtempSync(join(tmpdir(), 'attn-llama2c-')), 'cut.bin');
      writeFileSync(path, bytes.subarray(0, 150_000));
      await expect(loadLlama2cModel(path)).rejects.toThrow(/cut\.bin: truncated: wq needs/);
    });
  },
);
