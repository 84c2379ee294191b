import { describe, it } from 'vitest';
import { CompiledForward, encoderSpec } from '../../src/models/compiled.js';
import { DistilBertForSequenceClassification } from '../../src/models/distilbert/modeling_distilbert.js';
import { expectClose, goldenCase, ids } from './golden.js';

describe('compiled forward passes reproduce the HF goldens', () => {
  it('DistilBERT sequence classification (padded batch)', async () => {
    const { dir, inputs, expected } = goldenCase('distilbert_seqcls');
    const model = await DistilBertForSequenceClassification.fromPretrained(dir);
    const compiled = CompiledForward.compile(model, encoderSpec(model.config.vocabSize, (x) => ({ logits: model.forward(x).logits })));
    const inputIds = ids(inputs.input_ids);
    const out = compiled.run({ input_ids: inputIds, attention_mask: ids(inputs.attention_mask), token_type_ids: inputIds });
    expectClose(out.logits!, expected.logits);
    compiled.dispose();
  });
});
