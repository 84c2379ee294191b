/**
 * Logits processors and warpers, as Hugging Face's: each edits one step's scores in place. Scores are a flat
 * (N, V) Float32Array, one row per sequence being decoded (batch × beams); `sequences` holds each row's tokens so
 * far (the whole prompt for decoder-only models, the decoder tokens for encoder–decoder ones).
 */
export interface StepContext {
  readonly sequences: ReadonlyArray<readonly number[]>;
  readonly vocabSize: number;
}

export type LogitsProcessor = (scores: Float32Array, ctx: StepContext) => void;

/** Runs processors in order. */
export function composeProcessors(processors: LogitsProcessor[]): LogitsProcessor {
  return (scores, ctx) => {
    for (const p of processors) p(scores, ctx);
  };
}

function forEachRow(scores: Float32Array, vocabSize: number, fn: (row: Float32Array, index: number) => void): void {
  for (let r = 0, n = scores.length / vocabSize; r < n; r++) fn(scores.subarray(r * vocabSize, (r + 1) * vocabSize), r);
}

/** Lets only `tokenId` through: the others become -inf and it becomes 0 (a log-probability of 1). */
function forceToken(row: Float32Array, tokenIds: readonly number[]): void {
  row.fill(-Infinity);
  for (const id of tokenIds) row[id] = 0;
}

/** CTRL's penalty on every token already in the row: positive scores divided by `penalty`, negative ones multiplied. */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  return (scores, { sequences, vocabSize }) =>
    forEachRow(scores, vocabSize, (row, r) => {
      for (const id of new Set(sequences[r])) {
        const s = row[id]!;
        row[id] = s < 0 ? s * penalty : s / penalty;
      }
    });
}

/** Bans every token that would complete an n-gram already in the row (HF's NoRepeatNGramLogitsProcessor). */
export function noRepeatNgram(n: number): LogitsProcessor {
  return (scores, { sequences, vocabSize }) =>
    forEachRow(scores, vocabSize, (row, r) => {
      const seq = sequences[r]!;
      if (seq.length + 1 < n) return;
      const prefix = seq.slice(seq.length - n + 1).join(',');
      for (let i = 0; i + n <= seq.length; i++) {
        if (seq.slice(i, i + n - 1).join(',') === prefix) row[seq[i + n - 1]!] = -Infinity;
      }
    });
}

/**
 * Bans the last token of each bad sequence whose other tokens end the row (single tokens always); sequences that
 * are just an EOS id are dropped, as HF does.
 */
export function badWords(badWordsIds: readonly (readonly number[])[], eosTokenIds: readonly number[]): LogitsProcessor {
  const lists = badWordsIds.filter((seq) => !(seq.length === 1 && eosTokenIds.includes(seq[0]!)));
  return (scores, { sequences, vocabSize }) =>
    forEachRow(scores, vocabSize, (row, r) => {
      const seq = sequences[r]!;
      for (const bad of lists) {
        const prefix = bad.slice(0, -1);
        const start = seq.length - prefix.length;
        if (start >= 0 && prefix.every((id, i) => seq[start + i] === id)) row[bad[bad.length - 1]!] = -Infinity;
      }
    });
}

/** EOS is banned until rows are `minLength` long (prompt included, as HF counts). */
export function minLength(min: number, eosTokenIds: readonly number[]): LogitsProcessor {
  return (scores, { sequences, vocabSize }) => {
    if ((sequences[0]?.length ?? 0) >= min) return;
    forEachRow(scores, vocabSize, (row) => {
      for (const id of eosTokenIds) row[id] = -Infinity;
    });
  };
}

/** EOS is banned until `minNew` tokens follow a prompt of `promptLength`. */
export function minNewTokens(promptLength: number, minNew: number, eosTokenIds: readonly number[]): LogitsProcessor {
  return minLength(promptLength + minNew, eosTokenIds);
}

/** The first generated token (at length 1) is `bosTokenId` (BART-large's forced_bos_token_id). */
export function forcedBos(bosTokenId: number): LogitsProcessor {
  return (scores, { sequences, vocabSize }) => {
    if (sequences[0]?.length === 1) forEachRow(scores, vocabSize, (row) => forceToken(row, [bosTokenId]));
  };
}

/** The last token before `maxLength` is EOS. */
export function forcedEos(maxLength: number, eosTokenIds: readonly number[]): LogitsProcessor {
  return (scores, { sequences, vocabSize }) => {
    if (sequences[0]?.length === maxLength - 1) forEachRow(scores, vocabSize, (row) => forceToken(row, eosTokenIds));
  };
}

/** Tokens that may never be generated (Marian's pad id). */
export function suppressTokens(tokenIds: readonly number[]): LogitsProcessor {
  return (scores, { vocabSize }) =>
    forEachRow(scores, vocabSize, (row) => {
      for (const id of tokenIds) row[id] = -Infinity;
    });
}

// ---- warpers (sampling only) ----

export function temperature(t: number): LogitsProcessor {
  return (scores) => {
    if (t === 1) return;
    for (let i = 0; i < scores.length; i++) scores[i] = scores[i]! / t;
  };
}

/** Keeps the k best scores of each row (and any tied with the k-th, as HF's `scores < kth` test); k = 0 keeps all. */
export function topK(k: number, minTokensToKeep = 1): LogitsProcessor {
  return (scores, { vocabSize }) => {
    const keep = Math.min(Math.max(k, minTokensToKeep), vocabSize);
    if (k === 0 || keep >= vocabSize) return;
    forEachRow(scores, vocabSize, (row) => {
      const kth = Float32Array.from(row).sort()[vocabSize - keep]!;
      for (let i = 0; i < vocabSize; i++) if (row[i]! < kth) row[i] = -Infinity;
    });
  };
}

/** Nucleus: keeps the smallest set of best tokens whose probabilities sum to more than `p`. */
export function topP(p: number, minTokensToKeep = 1): LogitsProcessor {
  return (scores, { vocabSize }) => {
    if (p >= 1) return;
    forEachRow(scores, vocabSize, (row) => {
      const order = Array.from({ length: vocabSize }, (_, i) => i).sort((a, b) => row[a]! - row[b]!); // ascending
      const probs = softmaxOf(row);
      // HF removes the ascending prefix whose cumulative probability is <= 1 - p, keeping at least minTokensToKeep.
      let cumulative = 0;
      for (let j = 0; j < vocabSize - minTokensToKeep; j++) {
        cumulative += probs[order[j]!]!;
        if (cumulative > 1 - p) break;
        row[order[j]!] = -Infinity;
      }
    });
  };
}

/** Probabilities of a row of scores (-inf → 0). */
export function softmaxOf(row: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of row) if (v > max) max = v;
  const out = new Float64Array(row.length);
  let total = 0;
  for (let i = 0; i < row.length; i++) {
    const e = Math.exp(row[i]! - max);
    out[i] = e;
    total += e;
  }
  for (let i = 0; i < out.length; i++) out[i] = out[i]! / total;
  return out;
}

/** log_softmax of each row in place (beam search scores log-probabilities). */
export function logSoftmaxRows(scores: Float32Array, vocabSize: number): void {
  forEachRow(scores, vocabSize, (row) => {
    // Indexed loops: this runs over every row of every step (iterating a typed array is slower).
    let max = -Infinity;
    for (let i = 0; i < row.length; i++) if (row[i]! > max) max = row[i]!;
    let total = 0;
    for (let i = 0; i < row.length; i++) total += Math.exp(row[i]! - max);
    const shift = max + Math.log(total);
    for (let i = 0; i < row.length; i++) row[i] = row[i]! - shift;
  });
}
