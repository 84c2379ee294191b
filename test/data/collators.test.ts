import { describe, expect, it } from 'vitest';
import {
  DataCollatorForLanguageModeling,
  DataCollatorForSeq2Seq,
  DataCollatorWithPadding,
} from '../../src/data/collators.js';
import type { Tensor } from '../../src/tensor/index.js';

const rows = (t: Tensor): number[][] => {
  const [b, l] = t.shape as [number, number];
  return Array.from({ length: b }, (_, r) => Array.from(t.data.slice(r * l, (r + 1) * l)));
};

describe('DataCollatorWithPadding', () => {
  const features = [
    { input_ids: [101, 7, 102], attention_mask: [1, 1, 1], token_type_ids: [0, 0, 0], label: 1 },
    { input_ids: [101, 102], attention_mask: [1, 1], token_type_ids: [0, 0], label: 0 },
  ];

  it('pads each field to the longest example, on the right, and renames label to labels', () => {
    const batch = new DataCollatorWithPadding({ padTokenId: 0 }).collate(features);
    expect(Object.keys(batch).sort()).toEqual(['attention_mask', 'input_ids', 'labels', 'token_type_ids']);
    expect(rows(batch.input_ids!)).toEqual([
      [101, 7, 102],
      [101, 102, 0],
    ]);
    expect(rows(batch.attention_mask!)).toEqual([
      [1, 1, 1],
      [1, 1, 0],
    ]);
    expect(batch.input_ids!.dtype).toBe('int32');
    expect(batch.labels!.shape).toEqual([2]);
    expect(Array.from(batch.labels!.data)).toEqual([1, 0]);
  });

  it('pads on the left with another pad id, to a multiple, and makes a missing attention mask', () => {
    const batch = new DataCollatorWithPadding({ padTokenId: 9, paddingSide: 'left', padToMultipleOf: 4 }).collate([
      { input_ids: [5, 6, 7] },
      { input_ids: [8] },
    ]);
    expect(rows(batch.input_ids!)).toEqual([
      [9, 5, 6, 7],
      [9, 9, 9, 8],
    ]);
    expect(rows(batch.attention_mask!)).toEqual([
      [0, 1, 1, 1],
      [0, 0, 0, 1],
    ]);
  });

  it('keeps fractional labels as float32 (regression)', () => {
    const batch = new DataCollatorWithPadding({ padTokenId: 0 }).collate([
      { input_ids: [1], label: 0.5 },
      { input_ids: [2], label: 2 },
    ]);
    expect(batch.labels!.dtype).toBe('float32');
    expect(Array.from(batch.labels!.data)).toEqual([0.5, 2]);
  });

  it('names text fields, missing fields and an empty batch', () => {
    const collator = new DataCollatorWithPadding({ padTokenId: 0 });
    expect(() => collator.collate([{ input_ids: [1], sentence: 'hi' }])).toThrow(
      /'sentence' of example 0 is "hi".*removeColumns/,
    );
    expect(() => collator.collate([{ input_ids: [1], label: 1 }, { input_ids: [2] }])).toThrow(
      "collate: example 1 lacks 'labels', which example 0 has",
    );
    expect(() => collator.collate([])).toThrow(/empty list/);
  });
});

describe('DataCollatorForLanguageModeling', () => {
  const CLS = 1;
  const SEP = 2;
  const MASK = 3;
  const VOCAB = 1000;
  // 64 examples of 2..129 tokens: ids 10.. so that masked, random and kept tokens can be told apart.
  const features = Array.from({ length: 64 }, (_, i) => ({
    input_ids: [CLS, ...Array.from({ length: i * 2 }, (_, t) => 10 + ((t * 7 + i) % 900)), SEP],
  }));
  const make = (seed = 0) =>
    new DataCollatorForLanguageModeling({
      padTokenId: 0,
      maskTokenId: MASK,
      vocabSize: VOCAB,
      specialTokenIds: [CLS, SEP],
      seed,
    });

  it('chooses about 15% of ordinary tokens, 80/10/10, and never a special or padding position', () => {
    const batch = make().collate(features);
    const original = new DataCollatorWithPadding({ padTokenId: 0 }).collate(features).input_ids!;
    const ids = batch.input_ids!.data;
    const labels = batch.labels!.data;
    let eligible = 0;
    let chosen = 0;
    let masked = 0;
    let kept = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = original.data[i]!;
      const special = id === CLS || id === SEP || id === 0;
      if (!special) eligible++;
      if (labels[i] === -100) {
        expect(ids[i]).toBe(id);
        continue;
      }
      expect(special).toBe(false);
      expect(labels[i]).toBe(id);
      chosen++;
      if (ids[i] === MASK) masked++;
      else if (ids[i] === id) kept++;
    }
    // 4032 eligible tokens; binomial standard deviations: chosen ±23, masked share ±0.02.
    expect(eligible).toBe(4032);
    expect(Math.abs(chosen / eligible - 0.15)).toBeLessThan(0.02);
    expect(Math.abs(masked / chosen - 0.8)).toBeLessThan(0.06);
    expect(Math.abs(kept / chosen - 0.1)).toBeLessThan(0.05);
    expect(Math.abs((chosen - masked - kept) / chosen - 0.1)).toBeLessThan(0.05);
  });

  it('respects special_tokens_mask and drops it from the batch', () => {
    const batch = make().collate([{ input_ids: Array(200).fill(50), special_tokens_mask: Array(200).fill(1) }]);
    expect(batch.special_tokens_mask).toBeUndefined();
    expect(Array.from(batch.labels!.data).every((l) => l === -100)).toBe(true);
  });

  it('is seeded, and resumes from a saved state with the same masks', () => {
    const a = make(5);
    const b = make(5);
    expect(Array.from(a.collate(features).labels!.data)).toEqual(Array.from(b.collate(features).labels!.data));
    const saved = a.state();
    const next = Array.from(a.collate(features).input_ids!.data);
    const resumed = make(99);
    resumed.setState(saved);
    expect(Array.from(resumed.collate(features).input_ids!.data)).toEqual(next);
    expect(Array.from(make(6).collate(features).labels!.data)).not.toEqual(
      Array.from(make(5).collate(features).labels!.data),
    );
  });

  it('causal LM (mlm false): labels are the inputs with padding ignored', () => {
    const batch = new DataCollatorForLanguageModeling({ padTokenId: 0, mlm: false }).collate([
      { input_ids: [5, 6, 7] },
      { input_ids: [8] },
    ]);
    expect(rows(batch.labels!)).toEqual([
      [5, 6, 7],
      [8, -100, -100],
    ]);
    expect(rows(batch.input_ids!)).toEqual([
      [5, 6, 7],
      [8, 0, 0],
    ]);
  });

  it('asks for maskTokenId and vocabSize when masking', () => {
    expect(() => new DataCollatorForLanguageModeling({ padTokenId: 0, vocabSize: 5 })).toThrow(/mlm needs maskTokenId/);
    expect(() => new DataCollatorForLanguageModeling({ padTokenId: 0, maskTokenId: 3 })).toThrow(/mlm needs vocabSize/);
  });
});

describe('DataCollatorForSeq2Seq', () => {
  it('pads labels with -100 to the longest target and shifts them into decoder_input_ids', () => {
    const batch = new DataCollatorForSeq2Seq({ padTokenId: 58100, decoderStartTokenId: 58100 }).collate([
      { input_ids: [4, 5, 0], labels: [7, 8, 9, 0] },
      { input_ids: [6, 0], labels: [3, 0] },
    ]);
    expect(rows(batch.input_ids!)).toEqual([
      [4, 5, 0],
      [6, 0, 58100],
    ]);
    expect(rows(batch.labels!)).toEqual([
      [7, 8, 9, 0],
      [3, 0, -100, -100],
    ]);
    expect(rows(batch.decoder_input_ids!)).toEqual([
      [58100, 7, 8, 9],
      [58100, 3, 0, 58100],
    ]);
  });

  it('leaves decoder_input_ids to the model when no start id is given', () => {
    const batch = new DataCollatorForSeq2Seq({ padTokenId: 0 }).collate([{ input_ids: [1], labels: [2, 3] }]);
    expect(batch.decoder_input_ids).toBeUndefined();
  });
});
