import type { EarlyStopping } from './configuration_utils.js';

/**
 * Beam search bookkeeping, step for step as Hugging Face's BeamSearchScorer / BeamHypotheses (v4.37), so the same
 * logits give the same beams and the same `sequences_scores`: a finished hypothesis scores its summed
 * log-probabilities divided by (generated length) ** lengthPenalty, where the generated length counts the EOS and
 * not the prompt.
 */

interface Hypothesis {
  score: number;
  tokens: number[];
}

class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  private worstScore = 1e9;

  constructor(
    private readonly numBeams: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: EarlyStopping,
    private readonly maxLength: number,
  ) {}

  add(tokens: number[], sumLogprobs: number, generatedLength: number): void {
    const score = sumLogprobs / generatedLength ** this.lengthPenalty;
    if (this.beams.length < this.numBeams || score > this.worstScore) {
      this.beams.push({ score, tokens });
      if (this.beams.length > this.numBeams) {
        const ranked = this.beams.map((b, i) => [b.score, i] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
        this.beams.splice(ranked[0]![1], 1);
        this.worstScore = ranked[1]![0];
      } else {
        this.worstScore = Math.min(score, this.worstScore);
      }
    }
  }

  /** Whether no open beam can still beat the worst kept hypothesis. */
  isDone(bestSumLogprobs: number, curLength: number, promptLength: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    // 'never' with a positive penalty: the best an open beam can reach is at the longest allowed length.
    const length = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxLength : curLength;
    return this.worstScore >= bestSumLogprobs / (length - promptLength) ** this.lengthPenalty;
  }
}

/** One batch item's best candidates of a step, best first: scores include the beam's past, `beams` index 0..numBeams-1. */
export interface StepCandidates {
  scores: number[];
  tokens: number[];
  beams: number[];
}

export interface BeamStep {
  /** Per row (batch × beams): the new cumulative score, the token to append, and the row it extends. */
  scores: Float32Array;
  tokens: Int32Array;
  sourceRows: Int32Array;
}

export interface BeamSearchOptions {
  numBeams: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  numReturnSequences: number;
  maxLength: number;
  /** Tokens before generation started (the decoder start token for encoder–decoder models). */
  promptLength: number;
  eosTokenIds: readonly number[];
  padTokenId: number | null;
}

export class BeamSearchScorer {
  private readonly hyps: BeamHypotheses[];
  private readonly done: boolean[];

  constructor(
    private readonly batchSize: number,
    private readonly options: BeamSearchOptions,
  ) {
    const { numBeams, lengthPenalty, earlyStopping, maxLength } = options;
    this.hyps = Array.from(
      { length: batchSize },
      () => new BeamHypotheses(numBeams, lengthPenalty, earlyStopping, maxLength),
    );
    this.done = new Array<boolean>(batchSize).fill(false);
  }

  get isDone(): boolean {
    return this.done.every(Boolean);
  }

  /** How many candidates per batch item a step must rank: enough that numBeams of them are not EOS. */
  get candidatesPerItem(): number {
    return Math.max(2, 1 + this.options.eosTokenIds.length) * this.options.numBeams;
  }

  /**
   * Moves EOS candidates among the top numBeams into the finished hypotheses and picks the next numBeams open
   * beams from the rest. `sequences` are the current rows (without the candidate tokens).
   */
  process(sequences: ReadonlyArray<readonly number[]>, candidates: StepCandidates[]): BeamStep {
    const { numBeams, eosTokenIds, padTokenId, promptLength } = this.options;
    const n = this.batchSize * numBeams;
    const step: BeamStep = { scores: new Float32Array(n), tokens: new Int32Array(n), sourceRows: new Int32Array(n) };
    const curLength = sequences[0]!.length + 1;
    for (let b = 0; b < this.batchSize; b++) {
      if (this.done[b]) {
        if (padTokenId === null)
          throw new Error('generate: beam search needs padTokenId (or eosTokenId) to pad finished batch items');
        step.tokens.fill(padTokenId, b * numBeams, (b + 1) * numBeams);
        continue; // scores 0, rows 0 as HF
      }
      const c = candidates[b]!;
      let filled = 0;
      for (let rank = 0; rank < c.tokens.length && filled < numBeams; rank++) {
        const row = b * numBeams + c.beams[rank]!;
        if (eosTokenIds.includes(c.tokens[rank]!)) {
          if (rank >= numBeams) continue; // an EOS outside the top numBeams does not finish anything
          this.hyps[b]!.add([...sequences[row]!], c.scores[rank]!, curLength - promptLength);
        } else {
          const slot = b * numBeams + filled++;
          step.scores[slot] = c.scores[rank]!;
          step.tokens[slot] = c.tokens[rank]!;
          step.sourceRows[slot] = row;
        }
      }
      if (filled < numBeams)
        throw new Error(`generate: beam search found only ${filled} of ${numBeams} open beams for batch item ${b}`);
      this.done[b] = this.hyps[b]!.isDone(Math.max(...c.scores), curLength, promptLength);
    }
    return step;
  }

  /** Adds the open beams, keeps the best numReturnSequences per item; pads shorter rows, closing them with EOS. */
  finalize(
    sequences: ReadonlyArray<readonly number[]>,
    beamScores: Float32Array,
  ): { sequences: number[][]; scores: number[] } {
    const { numBeams, numReturnSequences, maxLength, promptLength, eosTokenIds, padTokenId } = this.options;
    for (let b = 0; b < this.batchSize; b++) {
      if (this.done[b]) continue;
      for (let k = 0; k < numBeams; k++) {
        const row = b * numBeams + k;
        this.hyps[b]!.add([...sequences[row]!], beamScores[row]!, sequences[row]!.length - promptLength);
      }
    }
    const best: Hypothesis[] = [];
    for (const h of this.hyps) {
      // Stable sort ascending then pop, as HF: among equal scores the later-added hypothesis wins.
      const ranked = [...h.beams].sort((a, b) => a.score - b.score);
      for (let j = 0; j < numReturnSequences; j++) best.push(ranked.pop()!);
    }
    const longest = Math.max(...best.map((h) => h.tokens.length));
    const width = Math.min(longest + 1, maxLength);
    const ragged = best.some((h) => h.tokens.length !== longest);
    if (ragged && padTokenId === null)
      throw new Error('generate: beam results of different lengths need padTokenId to be padded');
    const out = best.map((h) => {
      const row = h.tokens.slice(0, width);
      if (row.length < width && eosTokenIds.length > 0) row.push(eosTokenIds[0]!);
      while (row.length < width) row.push(padTokenId ?? 0);
      return row;
    });
    return { sequences: out, scores: best.map((h) => h.score) };
  }
}

/**
 * The `k` best (score, token, beam) of one batch item's rows (numBeams × V scores), best first; earlier entries win
 * ties. A bounded insertion list: each step scans the scores once.
 */
export function topCandidates(
  scores: Float32Array,
  firstRow: number,
  numBeams: number,
  vocabSize: number,
  k: number,
): StepCandidates {
  const out: StepCandidates = { scores: [], tokens: [], beams: [] };
  const base = firstRow * vocabSize;
  for (let i = 0, n = numBeams * vocabSize; i < n; i++) {
    const s = scores[base + i]!;
    const size = out.scores.length;
    if (size === k && !(s > out.scores[size - 1]!)) continue;
    let at = size;
    while (at > 0 && out.scores[at - 1]! < s) at--;
    out.scores.splice(at, 0, s);
    out.tokens.splice(at, 0, i % vocabSize);
    out.beams.splice(at, 0, Math.floor(i / vocabSize));
    if (out.scores.length > k) {
      out.scores.pop();
      out.tokens.pop();
      out.beams.pop();
    }
  }
  return out;
}
