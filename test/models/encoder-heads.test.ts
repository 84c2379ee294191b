// Goldens of the encoder heads added for real hub checkpoints: RoBERTa sequence classification (its position-id
// rule, padding id 1), BERT extractive QA (start/end logits and the clamped span loss) and BERT token
// classification (NER-style labels per token, -100 ignored).
import { describe, expect, it } from 'vitest';
import {
  AutoModelForQuestionAnswering,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
} from '../../src/models/auto/index.js';
import { BertForQuestionAnswering, BertForTokenClassification } from '../../src/models/bert/modeling_bert.js';
import {
  DistilBertForQuestionAnswering,
  DistilBertForTokenClassification,
  DistilBertModel,
} from '../../src/models/distilbert/modeling_distilbert.js';
import { RobertaForSequenceClassification, robertaPositionIds } from '../../src/models/roberta/modeling_roberta.js';
import { noGrad } from '../../src/tensor/engine.js';
import { expectClose, goldenCase, ids } from './golden.js';

describe('roberta_seqcls golden', () => {
  const { dir, inputs, expected } = goldenCase('roberta_seqcls');
  const batch = () => ({
    inputIds: ids(inputs.input_ids),
    attentionMask: ids(inputs.attention_mask),
    labels: ids(inputs.labels),
  });

  it('numbers positions from the ids: real tokens from 2, padding at 1', () => {
    expect(Array.from(robertaPositionIds(ids(inputs.input_ids), 1).data)).toEqual(expected.position_ids.flat());
  });

  it('matches logits, loss and hidden states (no token_type_ids, right padding with id 1)', async () => {
    const model = await RobertaForSequenceClassification.fromPretrained(dir);
    expect(model.loadingInfo!.newlyInitialized).toEqual([]);
    const out = noGrad(() => model.forward({ ...batch(), outputHiddenStates: true }));
    expectClose(out.logits, expected.logits);
    expect(Math.abs(out.loss!.item() - expected.loss)).toBeLessThan(1e-4);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
  });

  it('loads through AutoModelForSequenceClassification', async () => {
    expect((await AutoModelForSequenceClassification.fromPretrained(dir)).constructor).toBe(
      RobertaForSequenceClassification,
    );
  });

  it('refuses an input longer than its position table, naming the config field', async () => {
    const model = await RobertaForSequenceClassification.fromPretrained(dir);
    const long = [Array.from({ length: 63 }, () => 5)];
    expect(() => noGrad(() => model.forward({ inputIds: ids(long) }))).toThrow(/max_position_embeddings/);
  });
});

describe('bert_qa golden', () => {
  const { dir, inputs, expected } = goldenCase('bert_qa');

  it('matches start/end logits, the span loss and hidden states', async () => {
    const model = await BertForQuestionAnswering.fromPretrained(dir);
    expect(model.loadingInfo!.newlyInitialized).toEqual([]);
    const out = noGrad(() =>
      model.forward({
        inputIds: ids(inputs.input_ids),
        attentionMask: ids(inputs.attention_mask),
        tokenTypeIds: ids(inputs.token_type_ids),
        startPositions: ids(inputs.start_positions),
        endPositions: ids(inputs.end_positions),
        outputHiddenStates: true,
      }),
    );
    expectClose(out.startLogits, expected.start_logits);
    expectClose(out.endLogits, expected.end_logits);
    expect(Math.abs(out.loss!.item() - expected.loss)).toBeLessThan(1e-4);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
    expect((await AutoModelForQuestionAnswering.fromPretrained(dir)).constructor).toBe(BertForQuestionAnswering);
  });

  it('ignores an answer position past the input (clamped to T), as transformers', async () => {
    const model = await BertForQuestionAnswering.fromPretrained(dir);
    const t = inputs.input_ids[0].length;
    const rows = (r: number[]) => ({
      inputIds: ids(r.map((i) => inputs.input_ids[i])),
      attentionMask: ids(r.map((i) => inputs.attention_mask[i])),
      tokenTypeIds: ids(r.map((i) => inputs.token_type_ids[i])),
    });
    const loss = (r: number[], start: number[], end: number[]) =>
      noGrad(() => model.forward({ ...rows(r), startPositions: ids(start), endPositions: ids(end) }).loss!.item());
    // Row 1's answer lies past the input (start beyond T is clamped to T, T is ignored): only row 0 counts.
    const [s0, e0] = [inputs.start_positions[0], inputs.end_positions[0]];
    expect(loss([0, 1], [s0, t + 5], [e0, t])).toBeCloseTo(loss([0], [s0], [e0]), 5);
  });
});

describe('bert_tokcls golden', () => {
  const { dir, inputs, expected } = goldenCase('bert_tokcls');

  it('matches per-token logits, the loss over labelled tokens and hidden states', async () => {
    const model = await BertForTokenClassification.fromPretrained(dir);
    expect(model.config.numLabels).toBe(5);
    const out = noGrad(() =>
      model.forward({
        inputIds: ids(inputs.input_ids),
        attentionMask: ids(inputs.attention_mask),
        tokenTypeIds: ids(inputs.token_type_ids),
        labels: ids(inputs.labels),
        outputHiddenStates: true,
      }),
    );
    expectClose(out.logits, expected.logits);
    expect(Math.abs(out.loss!.item() - expected.loss)).toBeLessThan(1e-4);
    out.hiddenStates!.forEach((h, i) => expectClose(h, expected.hidden_states[i]));
    expect((await AutoModelForTokenClassification.fromPretrained(dir)).constructor).toBe(BertForTokenClassification);
  });
});

describe('DistilBERT QA and token-classification heads (no golden: the head over the golden base model)', () => {
  const { dir, inputs } = goldenCase('distilbert_seqcls');

  it('apply qa_outputs / classifier to the last hidden state of the base model, by hand', async () => {
    const base = await DistilBertModel.fromPretrained(dir);
    const qa = await DistilBertForQuestionAnswering.fromPretrained(dir, { onWarning: () => {} });
    const ner = await DistilBertForTokenClassification.fromPretrained(dir, { onWarning: () => {} });
    expect(qa.loadingInfo!.newlyInitialized).toEqual(['qa_outputs.weight', 'qa_outputs.bias']);
    const batch = { inputIds: ids(inputs.input_ids), attentionMask: ids(inputs.attention_mask) };
    const hidden = noGrad(() => base.forward(batch).lastHiddenState); // (B, T, C)
    const [b, t, c] = hidden.shape as [number, number, number];
    const byHand = (w: Float32Array, bias: Float32Array, out: number) =>
      Array.from({ length: b * t * out }, (_, i) => {
        const [row, k] = [Math.floor(i / out), i % out];
        let sum = bias[k]!;
        for (let j = 0; j < c; j++) sum += hidden.data[row * c + j]! * w[k * c + j]!;
        return sum;
      });
    const spans = noGrad(() => qa.forward(batch));
    const qaByHand = byHand(qa.qa_outputs.weight.data as Float32Array, qa.qa_outputs.bias!.data as Float32Array, 2);
    qaByHand.forEach((v, i) =>
      expect(Math.abs((i % 2 === 0 ? spans.startLogits : spans.endLogits).data[i >> 1]! - v)).toBeLessThan(1e-4),
    );
    const labels = noGrad(() => ner.forward(batch)).logits;
    byHand(ner.classifier.weight.data as Float32Array, ner.classifier.bias!.data as Float32Array, 3).forEach((v, i) =>
      expect(Math.abs(labels.data[i]! - v)).toBeLessThan(1e-4),
    );
    expect((await AutoModelForQuestionAnswering.fromConfig(qa.config)).constructor).toBe(
      DistilBertForQuestionAnswering,
    );
  });
});
