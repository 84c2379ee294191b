// Semantic sanity of the converted encoder on a fast subset of what scripts/eval-use.ts measures in full
// (SST-2 logistic regression on frozen embeddings; AG News zero-shot by similarity to label descriptions).
import { beforeAll, expect, it } from 'vitest';
import { evaluateAgNewsZeroShot, evaluateSst2, readTsv } from '../../scripts/eval-use.js';
import { UseModel } from '../../src/models/use/modeling_use.js';
import { noGrad } from '../../src/tensor/engine.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';
import { USE_LITE_DIR } from './use-fixtures.js';

/** Every k-th row: a subset spread over the file rather than its first lines. */
function everyKth<T extends { texts: string[]; labels: string[] }>(data: T, count: number): T {
  const k = Math.max(1, Math.floor(data.texts.length / count));
  const keep = (_: string, i: number) => i % k === 0 && i / k < count;
  return { ...data, texts: data.texts.filter(keep), labels: data.labels.filter(keep) };
}

describeWithShared(
  'USE Lite semantic sanity (subset)',
  ['data/sst2/train.tsv', 'data/sst2/dev.tsv', 'data/agnews/dev.tsv'],
  () => {
    let model: UseModel;

    beforeAll(async () => {
      model = await UseModel.fromPretrained(USE_LITE_DIR);
    });

    it('separates SST-2 sentiment with a linear probe on frozen embeddings', () => {
      const train = everyKth(readTsv(sharedPath('data/sst2/train.tsv'), { header: true }), 500);
      const dev = everyKth(readTsv(sharedPath('data/sst2/dev.tsv'), { header: true }), 200);
      expect(evaluateSst2(model, train, dev)).toBeGreaterThanOrEqual(0.72);
    });

    it('classifies AG News zero-shot by similarity to label descriptions', () => {
      const data = everyKth(readTsv(sharedPath('data/agnews/dev.tsv'), { header: false }), 200);
      expect(evaluateAgNewsZeroShot(model, data)).toBeGreaterThanOrEqual(0.55);
    });

    it('ranks a paraphrase above an unrelated sentence', () => {
      const [query, paraphrase, unrelated] = (() => {
        const e = noGrad(() =>
          model.encode([
            'How do I reset my password?',
            'What are the steps to change my login credentials?',
            'The cat sat on the mat.',
          ]),
        );
        return [0, 1, 2].map((i) => e.data.slice(i * 512, (i + 1) * 512));
      })();
      const cosine = (a: ArrayLike<number>, b: ArrayLike<number>) =>
        Array.from(a).reduce((s, v, i) => s + v * b[i]!, 0);
      expect(cosine(query!, paraphrase!)).toBeGreaterThan(cosine(query!, unrelated!) + 0.2);
    });
  },
);
