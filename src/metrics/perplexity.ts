/**
 * Perplexity from the mean per-token cross-entropy (natural log), as a language model's evaluation loss reports it.
 * The mean must be over tokens, not over batches of different sizes, to match the usual definition.
 */
export function perplexity(meanLoss: number): number {
  if (!Number.isFinite(meanLoss) || meanLoss < 0) {
    throw new RangeError(`perplexity: the mean loss must be a finite number >= 0 (nats per token), got ${meanLoss}`);
  }
  return Math.exp(meanLoss);
}
