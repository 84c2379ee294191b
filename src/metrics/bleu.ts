import { checkPaired } from './check.js';
import { ngramCounts } from './ngrams.js';

export interface BleuOptions {
  /** 'exp' (sacreBLEU's default, the NIST smoothing of mteval-v13a), 'floor', 'add-k' or 'none'. */
  smoothMethod?: 'exp' | 'floor' | 'add-k' | 'none';
  /** For 'floor' (default 0.1) and 'add-k' (default 1). */
  smoothValue?: number;
  /** '13a' (default; mteval-v13a, as WMT and sacreBLEU) or 'none' for text already tokenized by spaces. */
  tokenize?: '13a' | 'none';
  lowercase?: boolean;
  /** Default 4. */
  maxNgramOrder?: number;
}

export interface BleuScore {
  /** 0–100, as sacreBLEU prints it. */
  score: number;
  /** Modified n-gram precisions, 0–100, for n = 1..maxNgramOrder (smoothed where smoothing applies). */
  precisions: number[];
  /** Brevity penalty. */
  bp: number;
  /** Hypothesis and (closest) reference lengths in tokens, summed over the corpus. */
  sysLen: number;
  refLen: number;
  /** Matched and total hypothesis n-grams per order. */
  counts: number[];
  totals: number[];
}

/**
 * Corpus-level BLEU computed as sacreBLEU's `corpus_bleu` computes it: 13a tokenization, n-gram matches clipped by
 * the largest count in any reference, statistics summed over the corpus, the closest reference length per sentence
 * (the shorter on a tie) for the brevity penalty, and 'exp' smoothing by default.
 *
 * `references` holds, per hypothesis, one reference or a list of references (the Hugging Face `evaluate` layout,
 * not sacreBLEU's list of reference streams).
 */
export function corpusBleu(
  hypotheses: readonly string[],
  references: readonly (string | readonly string[])[],
  options: BleuOptions = {},
): BleuScore {
  checkPaired(hypotheses, references, 'corpusBleu');
  const maxOrder = options.maxNgramOrder ?? 4;
  const prepare = (text: string): string[] => {
    const cased = options.lowercase ? text.toLowerCase() : text;
    const trimmed = cased.trimEnd();
    return (options.tokenize === 'none' ? trimmed : tokenize13a(trimmed)).split(' ').filter((t) => t !== '');
  };
  const counts = new Array<number>(maxOrder).fill(0);
  const totals = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;
  hypotheses.forEach((hypothesis, i) => {
    const refs = typeof references[i] === 'string' ? [references[i] as string] : (references[i] as readonly string[]);
    if (refs.length === 0) throw new RangeError(`corpusBleu: hypothesis ${i} has no reference`);
    const hypTokens = prepare(hypothesis);
    const refTokens = refs.map(prepare);
    sysLen += hypTokens.length;
    refLen += closestLength(
      hypTokens.length,
      refTokens.map((r) => r.length),
    );
    // A hypothesis n-gram matches at most as often as it occurs in the reference that has it most often.
    for (let n = 1; n <= maxOrder; n++) {
      const maxRefCounts = new Map<string, number>();
      for (const ref of refTokens) {
        for (const [gram, count] of ngramCounts(ref, n))
          maxRefCounts.set(gram, Math.max(maxRefCounts.get(gram) ?? 0, count));
      }
      for (const [gram, count] of ngramCounts(hypTokens, n)) {
        totals[n - 1] += count;
        counts[n - 1] += Math.min(count, maxRefCounts.get(gram) ?? 0);
      }
    }
  });
  return bleuFromStatistics(counts, totals, sysLen, refLen, options);
}

/** sacreBLEU's `compute_bleu` on summed statistics. */
function bleuFromStatistics(
  counts: number[],
  totals: number[],
  sysLen: number,
  refLen: number,
  options: BleuOptions,
): BleuScore {
  const method = options.smoothMethod ?? 'exp';
  const smoothValue = options.smoothValue ?? (method === 'floor' ? 0.1 : 1);
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(counts.length).fill(0);
  const result = { score: 0, precisions, bp, sysLen, refLen, counts: [...counts], totals: [...totals] };
  if (counts.every((c) => c === 0)) return result;

  let expDivisor = 1;
  for (let n = 0; n < counts.length; n++) {
    let correct = counts[n]!;
    let total = totals[n]!;
    if (method === 'add-k' && n > 0) {
      correct += smoothValue;
      total += smoothValue;
    }
    if (total === 0) break;
    if (correct > 0) precisions[n] = (100 * correct) / total;
    else if (method === 'exp') {
      expDivisor *= 2;
      precisions[n] = 100 / (expDivisor * total);
    } else if (method === 'floor') precisions[n] = (100 * smoothValue) / total;
  }
  // sacreBLEU takes log(0) as -9999999999, so an unsmoothed zero precision makes the score 0.
  const logSum = precisions.reduce((sum, p) => sum + (p === 0 ? -9999999999 : Math.log(p)), 0);
  result.score = bp * Math.exp(logSum / precisions.length);
  return result;
}

/**
 * The mteval-v13a tokenizer as sacreBLEU implements it: unescape a few HTML entities, split off punctuation and
 * symbols, split periods and commas unless between digits, split a dash after a digit.
 */
export function tokenize13a(line: string): string {
  let text = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  text = text.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  text = ` ${text} `
    .replace(/([{-~[-` -&(-+:-@/])/g, ' $1 ')
    .replace(/([^0-9])([.,])/g, '$1 $2 ')
    .replace(/([.,])([^0-9])/g, ' $1 $2')
    .replace(/([0-9])(-)/g, '$1 $2 ');
  return text.trim().split(/\s+/).join(' ');
}

function closestLength(hypLength: number, refLengths: readonly number[]): number {
  let best = refLengths[0]!;
  for (const length of refLengths) {
    const diff = Math.abs(hypLength - length);
    const bestDiff = Math.abs(hypLength - best);
    if (diff < bestDiff || (diff === bestDiff && length < best)) best = length;
  }
  return best;
}
