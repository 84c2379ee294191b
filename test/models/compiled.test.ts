import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BertForSequenceClassification } from '../../src/models/bert/modeling_bert.js';
import { CompiledForward, encoderSpec } from '../../src/models/compiled.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { expectClose, goldenCase, ids } from './golden.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'attn-compile-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

async function distilbert() {
  const { dir, inputs, expected } = goldenCase('distilbert_seqcls');
  const model = await DistilBertForSequenceClassification.fromPretrained(dir);
  const spec = encoderSpec(model.config.vocabSize, (x) => ({ logits: model.forward(x).logits }));
  const inputIds = ids(inputs.input_ids);
  const feeds = { input_ids: inputIds, attention_mask: ids(inputs.attention_mask), token_type_ids: inputIds };
  return { model, spec, feeds, expected };
}

describe('compiled forward passes', () => {
  it('DistilBERT sequence classification matches the HF golden (padded batch)', async () => {
    const { model, spec, feeds, expected } = await distilbert();
    const compiled = CompiledForward.compile(model, spec);
    expectClose(compiled.run(feeds).logits!, expected.logits);
    compiled.dispose();
  });

  it('BERT sequence classification with token types matches the HF golden', async () => {
    const { dir, inputs, expected } = goldenCase('bert_seqcls');
    const model = await BertForSequenceClassification.fromPretrained(dir);
    const compiled = CompiledForward.compile(
      model,
      encoderSpec(model.config.vocabSize, (x) => ({ logits: model.forward(x).logits })),
    );
    const out = compiled.run({
      input_ids: ids(inputs.input_ids),
      attention_mask: ids(inputs.attention_mask),
      token_type_ids: ids(inputs.token_type_ids),
    });
    expectClose(out.logits!, expected.logits);
    compiled.dispose();
  });

  it('serves other batch sizes and lengths from the same graph, and refuses inputs that disagree, naming them', async () => {
    const { model, spec } = await distilbert();
    const compiled = CompiledForward.compile(model, spec);
    const one = (t: number) => new Tensor(new Int32Array(t).fill(1), [1, t]);
    // A single unpadded row of 9 tokens: the eager pass is the reference.
    const eager = model.forward({ inputIds: one(9), attentionMask: one(9) }).logits;
    expectClose(compiled.run({ input_ids: one(9), attention_mask: one(9), token_type_ids: one(9) }).logits!, {
      shape: [...eager.shape],
      data: [...eager.data],
    });
    expect(() => compiled.run({ input_ids: one(9), attention_mask: one(8), token_type_ids: one(9) })).toThrow(
      /input 'attention_mask' \[1, 8\] gives sequence = 8, but input 'input_ids' \[1, 9\] gave 9/,
    );
    expect(() =>
      compiled.run({ input_ids: new Tensor(new Int32Array(9), [9]), attention_mask: one(9), token_type_ids: one(9) }),
    ).toThrow(/input 'input_ids' is int32 \[9\]; the graph takes int32 \(batch, sequence\)/);
    compiled.dispose();
  });

  it('keeps the general graph in the compile cache, keyed by what it computes', async () => {
    const previous = process.env.ATTN_CACHE_DIR;
    process.env.ATTN_CACHE_DIR = cacheDir;
    try {
      const { model, spec, feeds, expected } = await distilbert();
      CompiledForward.compile(model, spec, { cacheKey: 'test/logits' }).dispose();
      const files = () => readdirSync(join(cacheDir, 'compiled'));
      expect(files()).toHaveLength(1);
      const cached = CompiledForward.compile(model, spec, { cacheKey: 'test/logits' });
      expect(files()).toHaveLength(1);
      expectClose(cached.run(feeds).logits!, expected.logits);
      cached.dispose();
      CompiledForward.compile(model, spec, { cacheKey: 'test/other' }).dispose();
      expect(files()).toHaveLength(2);
    } finally {
      if (previous === undefined) delete process.env.ATTN_CACHE_DIR;
      else process.env.ATTN_CACHE_DIR = previous;
    }
  });
});
