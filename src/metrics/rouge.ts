import { checkPaired } from './check.js';
import { ngramCounts } from './ngrams.js';
import { porterStem } from './porter.js';

export interface RougeOptions {
  /** Reduce words longer than 3 letters to their Porter stem before matching (rouge_score's use_stemmer). Default false. */
  useStemmer?: boolean;
}

export interface RougeScore {
  precision: number;
  recall: number;
  fmeasure: number;
}

export interface RougeScores {
  rouge1: RougeScore;
  rouge2: RougeScore;
  rougeL: RougeScore;
}

/** Mean F-measures over a corpus, 0–1, as Hugging Face `evaluate`'s rouge reports them. */
export interface RougeSummary {
  rouge1: number;
  rouge2: number;
  rougeL: number;
}

/**
 * ROUGE-1, ROUGE-2 and ROUGE-L of one prediction against one reference, computed as Google's rouge_score package
 * does: lowercase, every run of characters other than a–z and 0–9 separates tokens (so non-Latin text has no
 * tokens), n-gram overlap for ROUGE-N and the longest common subsequence for ROUGE-L.
 */
export function rougeScores(prediction: string, reference: string, options: RougeOptions = {}): RougeScores {
  const predicted = tokenizeForRouge(prediction, options);
  const target = tokenizeForRouge(reference, options);
  return {
    rouge1: ngramOverlap(target, predicted, 1),
    rouge2: ngramOverlap(target, predicted, 2),
    rougeL: longestCommonSubsequence(target, predicted),
  };
}

/** The mean over pairs of each ROUGE F-measure. */
export function rouge(
  predictions: readonly string[],
  references: readonly string[],
  options: RougeOptions = {},
): RougeSummary {
  checkPaired(predictions, references, 'rouge');
  const sums = { rouge1: 0, rouge2: 0, rougeL: 0 };
  predictions.forEach((prediction, i) => {
    const scores = rougeScores(prediction, references[i]!, options);
    sums.rouge1 += scores.rouge1.fmeasure;
    sums.rouge2 += scores.rouge2.fmeasure;
    sums.rougeL += scores.rougeL.fmeasure;
  });
  const n = predictions.length;
  return { rouge1: sums.rouge1 / n, rouge2: sums.rouge2 / n, rougeL: sums.rougeL / n };
}

export function tokenizeForRouge(text: string, options: RougeOptions = {}): string[] {
  const tokens = text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, ' ')
    .split(/\s+/);
  const stemmed = options.useStemmer ? tokens.map((t) => (t.length > 3 ? porterStem(t) : t)) : tokens;
  return stemmed.filter((t) => /^[a-z0-9]+$/.test(t));
}

function ngramOverlap(target: readonly string[], predicted: readonly string[], n: number): RougeScore {
  const targetCounts = ngramCounts(target, n);
  const predictedCounts = ngramCounts(predicted, n);
  let overlap = 0;
  for (const [gram, count] of targetCounts) overlap += Math.min(count, predictedCounts.get(gram) ?? 0);
  const targetTotal = Math.max(0, target.length - n + 1);
  const predictedTotal = Math.max(0, predicted.length - n + 1);
  return score(overlap / Math.max(predictedTotal, 1), overlap / Math.max(targetTotal, 1));
}

function longestCommonSubsequence(target: readonly string[], predicted: readonly string[]): RougeScore {
  if (target.length === 0 || predicted.length === 0) return { precision: 0, recall: 0, fmeasure: 0 };
  // One row of the dynamic-programming table at a time: O(len) memory.
  let previous = new Array<number>(predicted.length + 1).fill(0);
  for (const word of target) {
    const current = new Array<number>(predicted.length + 1).fill(0);
    for (let j = 1; j <= predicted.length; j++) {
      current[j] = word === predicted[j - 1] ? previous[j - 1]! + 1 : Math.max(previous[j]!, current[j - 1]!);
    }
    previous = current;
  }
  const lcs = previous[predicted.length]!;
  return score(lcs / predicted.length, lcs / target.length);
}

function score(precision: number, recall: number): RougeScore {
  return { precision, recall, fmeasure: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0 };
}
