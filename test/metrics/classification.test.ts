import { describe, expect, it } from 'vitest';
import { accuracy, confusionMatrix, precisionRecallF1 } from '../../src/metrics/index.js';

// Worked by hand (rows of the confusion matrix are references, columns predictions):
//   true 0: [1, 0, 1]   true 1: [0, 1, 1]   true 2: [0, 1, 1]
const references = [0, 1, 2, 2, 1, 0];
const predictions = [0, 1, 1, 2, 2, 2];

describe('classification metrics', () => {
  it('accuracy', () => {
    expect(accuracy(predictions, references)).toBe(0.5);
    expect(accuracy(['a', 'b'], ['a', 'b'])).toBe(1);
  });

  it('confusion matrix, rows true and columns predicted', () => {
    expect(confusionMatrix(predictions, references)).toEqual({
      labels: [0, 1, 2],
      matrix: [
        [1, 0, 1],
        [0, 1, 1],
        [0, 1, 1],
      ],
    });
    expect(confusionMatrix(['neg', 'pos'], ['pos', 'pos'], { labels: ['pos', 'neg'] }).matrix).toEqual([
      [1, 1],
      [0, 0],
    ]);
  });

  it('precision, recall and F1 per class and macro (scikit-learn values)', () => {
    const report = precisionRecallF1(predictions, references);
    const [c0, c1, c2] = report.perClass;
    expect(c0).toEqual({ label: 0, precision: 1, recall: 0.5, f1: 2 / 3, support: 2 });
    expect(c1).toEqual({ label: 1, precision: 0.5, recall: 0.5, f1: 0.5, support: 2 });
    expect(c2!.precision).toBeCloseTo(1 / 3, 12);
    expect(c2!.f1).toBeCloseTo(0.4, 12);
    // sklearn.metrics.f1_score(references, predictions, average='macro') = 0.5222…
    expect(report.macro.f1).toBeCloseTo((2 / 3 + 0.5 + 0.4) / 3, 12);
    expect(report.macro.precision).toBeCloseTo((1 + 0.5 + 1 / 3) / 3, 12);
    expect(report.macro.recall).toBeCloseTo(0.5, 12);
  });

  it('weights by support, and scores 0 where a class is never predicted', () => {
    const report = precisionRecallF1([1, 1, 1, 1], [0, 1, 1, 1]);
    expect(report.perClass[0]).toEqual({ label: 0, precision: 0, recall: 0, f1: 0, support: 1 });
    expect(report.perClass[1]!.f1).toBeCloseTo(6 / 7, 12);
    expect(report.weighted.f1).toBeCloseTo((3 * 6) / 7 / 4, 12);
    expect(report.macro.f1).toBeCloseTo(3 / 7, 12);
  });

  it('refuses unpaired or empty inputs', () => {
    expect(() => accuracy([1], [1, 2])).toThrow('accuracy: 1 predictions for 2 references');
    expect(() => precisionRecallF1([], [])).toThrow(/no predictions to score/);
  });
});
