import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BertForSequenceClassification, BertModel } from '../../src/models/bert/modeling_bert.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { ExportError } from '../../src/models/export_onnx.js';
import { GPT2LMHeadModel } from '../../src/models/gpt2/modeling_gpt2.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { goldenCase, maxAbsDiff, type GoldenArray, type Json } from './golden.js';

const out = mkdtempSync(join(tmpdir(), 'attn-export-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

/** Loads `dir` with transformers.js (local files only) and runs it on the golden's int64 inputs. */
async function runTransformersJs(
  dir: string,
  inputs: Json,
  withTypes: boolean,
): Promise<Record<string, { data: Float32Array; dims: number[] }>> {
  const { AutoModel, env, Tensor } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = dirname(dir) + '/';
  const model = await AutoModel.from_pretrained(basename(dir), { dtype: 'fp32' });
  const int64 = (rows: number[][]) =>
    new Tensor('int64', BigInt64Array.from(rows.flat(), BigInt), [rows.length, rows[0]!.length]);
  const feeds: Record<string, unknown> = {
    input_ids: int64(inputs.input_ids),
    attention_mask: int64(inputs.attention_mask),
  };
  if (withTypes)
    feeds.token_type_ids = int64(inputs.token_type_ids ?? inputs.input_ids.map((r: number[]) => r.map(() => 0)));
  const result = (await model(feeds)) as Record<string, { data: Float32Array; dims: number[] }>;
  await model.dispose();
  return result;
}

function closeToGolden(actual: { data: Float32Array; dims: number[] }, golden: GoldenArray): number {
  return maxAbsDiff(new Tensor(Float32Array.from(actual.data), actual.dims), golden);
}

describe('ONNX export loads in transformers.js with the same outputs', () => {
  it('DistilBERT sequence classification: logits within 1e-4 of the HF golden', async () => {
    const { dir, inputs, expected } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    const target = join(out, 'distilbert');
    const file = await model.exportOnnx(target);
    expect(file).toBe(join(target, 'onnx', 'model.onnx'));
    const result = await runTransformersJs(target, inputs, false);
    expect(result.logits!.dims).toEqual(expected.logits.shape);
    expect(closeToGolden(result.logits!, expected.logits)).toBeLessThan(1e-4);
  });

  for (const [name, cls, output, what] of [
    ['bert_seqcls', BertForSequenceClassification, 'logits', 'BERT sequence classification with token types'],
    ['bert', BertModel, 'last_hidden_state', 'a base BERT gives last_hidden_state'],
  ] as const) {
    it(what, async () => {
      const { dir, inputs, expected } = goldenCase(name);
      // Each class loads its own head: the union of the two static methods is not callable as one.
      const model = await (cls as typeof BertModel).fromPretrained(dir);
      const target = join(out, name);
      await model.exportOnnx(target);
      const result = await runTransformersJs(target, inputs, true);
      expect(closeToGolden(result[output]!, expected[output])).toBeLessThan(1e-4);
    });
  }

  it('refuses decoders, naming the class', async () => {
    const { dir } = goldenCase('gpt2');
    const model = await GPT2LMHeadModel.fromPretrained(dir);
    await expect(model.exportOnnx(join(out, 'gpt2'))).rejects.toThrow(ExportError);
    await expect(model.exportOnnx(join(out, 'gpt2'))).rejects.toThrow(/GPT2LMHeadModel is a decoder/);
  });
});
