import { accuracy, precisionRecallF1 } from '../metrics/index.js';
import type { EvalPrediction } from './trainer.js';

function argmax(row: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i]! > row[best]!) best = i;
  return best;
}

/** A ready computeMetrics for sequence classification: accuracy and macro F1 of the argmax class. */
export function classificationMetrics({ predictions, labelIds }: EvalPrediction): Record<string, number> {
  const predicted = predictions.map(argmax);
  const labels = labelIds.map((row) => row[0]!);
  return { accuracy: accuracy(predicted, labels), f1: precisionRecallF1(predicted, labels).macro.f1 };
}
