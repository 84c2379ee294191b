// The merge loop shared by the BPE and WordPiece trainers (transformers' WordPiece trainer is BPE training with a
// "##" continuation prefix, too). Words are arrays of symbol ids; each step merges the most frequent adjacent pair.
// Pair counts are updated incrementally from the words that hold the merged pair, and a max-heap with lazy
// invalidation finds the next pair, so a step costs what it changes, not a pass over the corpus.

export interface MergeTrainingInput {
  /** Initial symbols of each distinct word. */
  words: string[][];
  /** How often each word occurs. */
  counts: number[];
  /** Symbols that must be in the vocabulary even when unseen (e.g. all 256 byte characters), first in order. */
  initialAlphabet?: string[];
  /** Stop when the vocabulary (alphabet + merged symbols, not counting reserved ids) reaches this size. */
  maxSymbols: number;
  /** Pairs seen fewer times than this are never merged. */
  minFrequency: number;
  /** The symbol a merge of `left` and `right` produces. */
  join: (left: string, right: string) => string;
  /** Called after each merge with how many merges the vocabulary size allows at most (for progress). */
  onMerge?: (mostMerges: number) => void;
}

export interface MergeTrainingResult {
  /** Alphabet then merged symbols, in id order. */
  symbols: string[];
  merges: [string, string][];
}

/** Pair keys pack two symbol ids into one number: ids stay below 2^26, so the key stays below 2^52. */
const PAIR_SHIFT = 2 ** 26;
const pairKey = (a: number, b: number) => a * PAIR_SHIFT + b;

/** A max-heap of (count, pair) ordered by count, then by the smaller pair key (deterministic ties). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];

  get size(): number {
    return this.counts.length;
  }

  private above(i: number, j: number): boolean {
    return this.counts[i]! > this.counts[j]! || (this.counts[i] === this.counts[j] && this.keys[i]! < this.keys[j]!);
  }

  private swap(i: number, j: number): void {
    [this.counts[i], this.counts[j]] = [this.counts[j]!, this.counts[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }

  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.above(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  pop(): { count: number; key: number } {
    const top = { count: this.counts[0]!, key: this.keys[0]! };
    const lastCount = this.counts.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastCount;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < this.counts.length && this.above(l, best)) best = l;
        if (r < this.counts.length && this.above(r, best)) best = r;
        if (best === i) break;
        this.swap(i, best);
        i = best;
      }
    }
    return top;
  }
}

export function trainMerges(input: MergeTrainingInput): MergeTrainingResult {
  const symbols: string[] = [];
  const idOf = new Map<string, number>();
  const intern = (s: string): number => {
    let id = idOf.get(s);
    if (id === undefined) {
      id = symbols.length;
      symbols.push(s);
      idOf.set(s, id);
    }
    return id;
  };
  for (const s of input.initialAlphabet ?? []) intern(s);
  // Unseen initial symbols first, then the corpus alphabet in sorted order: ids do not depend on word order.
  const seen = new Set<string>();
  for (const w of input.words) for (const s of w) seen.add(s);
  for (const s of [...seen].sort()) intern(s);
  const words = input.words.map((w) => w.map((s) => idOf.get(s)!));
  const { counts } = input;

  const pairCounts = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPair = (key: number, word: number, delta: number) => {
    pairCounts.set(key, (pairCounts.get(key) ?? 0) + delta);
    if (delta > 0) {
      let set = pairWords.get(key);
      if (!set) pairWords.set(key, (set = new Set()));
      set.add(word);
    }
  };
  words.forEach((w, i) => {
    for (let j = 0; j + 1 < w.length; j++) addPair(pairKey(w[j]!, w[j + 1]!), i, counts[i]!);
  });
  const heap = new PairHeap();
  for (const [key, count] of pairCounts) heap.push(count, key);

  const merges: [string, string][] = [];
  const mostMerges = Math.max(0, input.maxSymbols - symbols.length);
  const changed = new Set<number>();
  while (symbols.length < input.maxSymbols && heap.size > 0) {
    const { count, key } = heap.pop();
    const current = pairCounts.get(key) ?? 0;
    if (current !== count) {
      // Stale entry: the pair's count fell since it was pushed; requeue it at its true count.
      if (current > 0) heap.push(current, key);
      continue;
    }
    if (count < input.minFrequency || count <= 0) break;
    const a = Math.floor(key / PAIR_SHIFT);
    const b = key % PAIR_SHIFT;
    const merged = intern(input.join(symbols[a]!, symbols[b]!));
    merges.push([symbols[a]!, symbols[b]!]);
    changed.clear();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi]!;
      const n = counts[wi]!;
      for (let j = 0; j + 1 < w.length; j++) {
        if (w[j] !== a || w[j + 1] !== b) continue;
        if (j > 0) {
          addPair(pairKey(w[j - 1]!, a), wi, -n);
          addPair(pairKey(w[j - 1]!, merged), wi, n);
          changed.add(pairKey(w[j - 1]!, merged));
        }
        if (j + 2 < w.length) {
          addPair(pairKey(b, w[j + 2]!), wi, -n);
          addPair(pairKey(merged, w[j + 2]!), wi, n);
          changed.add(pairKey(merged, w[j + 2]!));
        }
        addPair(key, wi, -n);
        w.splice(j, 2, merged);
      }
    }
    pairWords.delete(key);
    for (const k of changed) {
      const c = pairCounts.get(k)!;
      if (c > 0) heap.push(c, k);
    }
    input.onMerge?.(mostMerges);
  }
  return { symbols, merges };
}
