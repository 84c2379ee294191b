import { checkPaired } from './check.js';

/** A class label as models and datasets give them: an id or a name. */
export type Label = number | string;

export interface LabelOptions<L extends Label> {
  /** The classes to report, in this order. Default: every label seen in references or predictions, sorted. */
  labels?: readonly L[];
}

export interface PrecisionRecallF1 {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassScores<L extends Label> extends PrecisionRecallF1 {
  label: L;
  /** How many references have this label. */
  support: number;
}

export interface ClassificationReport<L extends Label> {
  /** The unweighted mean over classes (scikit-learn's average='macro'). */
  macro: PrecisionRecallF1;
  /** The mean over classes weighted by support (average='weighted'). */
  weighted: PrecisionRecallF1;
  perClass: ClassScores<L>[];
}

export interface ConfusionMatrix<L extends Label> {
  labels: L[];
  /** matrix[i][j]: how many references of labels[i] were predicted as labels[j] (rows true, columns predicted). */
  matrix: number[][];
}

/** The share of predictions equal to their reference. */
export function accuracy<L extends Label>(predictions: ArrayLike<L>, references: ArrayLike<L>): number {
  checkPaired(predictions, references, 'accuracy');
  let correct = 0;
  for (let i = 0; i < references.length; i++) if (predictions[i] === references[i]) correct++;
  return correct / references.length;
}

export function confusionMatrix<L extends Label>(
  predictions: ArrayLike<L>,
  references: ArrayLike<L>,
  options: LabelOptions<L> = {},
): ConfusionMatrix<L> {
  checkPaired(predictions, references, 'confusionMatrix');
  const labels = options.labels ? [...options.labels] : seenLabels(predictions, references);
  const index = new Map(labels.map((label, i) => [label, i]));
  const matrix = labels.map(() => new Array<number>(labels.length).fill(0));
  for (let i = 0; i < references.length; i++) {
    const row = index.get(references[i]!);
    const column = index.get(predictions[i]!);
    // Pairs outside the chosen labels are left out, as scikit-learn does.
    if (row !== undefined && column !== undefined) matrix[row]![column]!++;
  }
  return { labels, matrix };
}

/**
 * Precision, recall and F1 per class, with their macro and weighted means. A class never predicted (or never
 * present) scores 0 where its ratio would divide by zero, as scikit-learn's zero_division=0.
 */
export function precisionRecallF1<L extends Label>(
  predictions: ArrayLike<L>,
  references: ArrayLike<L>,
  options: LabelOptions<L> = {},
): ClassificationReport<L> {
  const { labels, matrix } = confusionMatrix(predictions, references, options);
  const perClass = labels.map((label, k) => {
    const truePositives = matrix[k]![k]!;
    const predicted = matrix.reduce((sum, row) => sum + row[k]!, 0);
    // Support counts every reference of the class, also those predicted outside `labels`.
    let support = 0;
    for (let i = 0; i < references.length; i++) if (references[i] === label) support++;
    const precision = ratio(truePositives, predicted);
    const recall = ratio(truePositives, support);
    return { label, precision, recall, f1: ratio(2 * precision * recall, precision + recall), support };
  });
  const totalSupport = perClass.reduce((sum, c) => sum + c.support, 0);
  const mean = (weightOf: (c: ClassScores<L>) => number, total: number): PrecisionRecallF1 => ({
    precision: perClass.reduce((sum, c) => sum + weightOf(c) * c.precision, 0) / total,
    recall: perClass.reduce((sum, c) => sum + weightOf(c) * c.recall, 0) / total,
    f1: perClass.reduce((sum, c) => sum + weightOf(c) * c.f1, 0) / total,
  });
  return {
    macro: mean(() => 1, perClass.length),
    weighted: totalSupport === 0 ? { precision: 0, recall: 0, f1: 0 } : mean((c) => c.support, totalSupport),
    perClass,
  };
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

function seenLabels<L extends Label>(predictions: ArrayLike<L>, references: ArrayLike<L>): L[] {
  const seen = new Set<L>([...Array.from(references), ...Array.from(predictions)]);
  // Numbers by value, names by code point (as Python's sorted), so the order is the same on every machine.
  return [...seen].sort((a, b) => {
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a) < String(b) ? -1 : String(a) > String(b) ? 1 : 0;
  });
}
