/**
 * summarization, two ways, chosen by the model folder:
 * - abstractive, with an encoder–decoder checkpoint (BART, T5): generated text, with `minLength` / `maxLength` /
 *   `numBeams` / `noRepeatNgramSize` / `lengthPenalty` … over the checkpoint's task_specific_params.summarization;
 * - extractive (the offline default, a sentence encoder): sentences of the text chosen for being central (near the
 *   mean embedding), early, and unlike the sentences already chosen (maximal marginal relevance), within a length
 *   budget, kept in their original order. A dialogue is read by turns: centrality is measured against whole turns,
 *   a kept question brings the start of its answer, and each kept sentence is attributed to its speaker by name. Nothing is rewritten; each result says
 *   `method: 'extractive'` and which units it kept, with their character spans in the input.
 */
import { Pipeline, PipelineInputError, textBatch } from './base.js';
import { dot, type FeatureExtractionPipeline } from './feature-extraction.js';
import { leansOnEarlierText, splitForSummary, type Span, type SplitText } from './summary-units.js';
import { Text2TextPipeline, type GenerationOptions } from './text2text-generation.js';

export { sentenceSpans, splitSentences } from './summary-units.js';

/** A kept piece of the input: its index among the text's sentences and where it is in the text. */
export interface SummaryUnit extends Span {
  index: number;
  /** Dialogue: who said it. */
  speaker?: string;
}

export interface SummarizationResult {
  summary_text: string;
  method: 'abstractive' | 'extractive';
  /** Extractive: the sentences kept, in text order. */
  units?: SummaryUnit[];
}

export type SummarizationOptions = GenerationOptions & {
  /**
   * Extractive: this many sentences (fewer if `maxLength` says so, or the text has fewer), instead of a length
   * budget; a kept sentence's antecedent then takes the place of the least relevant other.
   */
  numSentences?: number;
  /**
   * Extractive: the summary's length as a share of the text's, in tokens, kept within `minLength`..`maxLength`.
   * Default 0.3 (between 12 and 80 tokens). Abstractive summaries are sized by `minLength` / `maxLength` alone.
   */
  ratio?: number;
};

export interface SummarizationPipeline {
  (text: string, options?: SummarizationOptions): Promise<SummarizationResult[]>;
  (texts: string[], options?: SummarizationOptions): Promise<SummarizationResult[]>;
}

export class SummarizationPipeline extends Text2TextPipeline {
  readonly task: string = 'summarization';

  protected async run(input: unknown, options: SummarizationOptions = {}): Promise<SummarizationResult[]> {
    const { texts } = textBatch(input);
    const { numSentences, ratio, ...generation } = options;
    for (const [name, value] of Object.entries({ numSentences, ratio })) {
      if (value !== undefined)
        throw new PipelineInputError(
          `${name} is for extractive summarization; this model writes its own summary (use maxLength / minLength)`,
        );
    }
    const summaries = await this.generateTexts(texts, this.taskSettings('summarization'), generation);
    return summaries.map((summary_text) => ({ summary_text, method: 'abstractive' }));
  }
}

/** The extractive defaults, chosen on half of DialogSum's dev split and checked on the other half (notes/issue-19.md). */
export const EXTRACTIVE_DEFAULTS = { ratio: 0.3, minLength: 12, maxLength: 80 } as const;
/** Maximal marginal relevance: how much relevance counts against similarity to what is already kept. */
const RELEVANCE_WEIGHT = 0.7;
/** Relevance = centrality + this × (1 − relative position): openings state the topic, in dialogue and in news. */
const POSITION_WEIGHT = 0.3;
/**
 * Sentences embedded per text at most. Longer texts are first narrowed to this many by a cheap word-frequency
 * score, so a megabyte of text costs a bounded number of encoder passes.
 */
export const MAX_CANDIDATES = 200;
/** Sentences shorter than this are chosen only when every sentence is (or to give a kept one its antecedent). */
export const MIN_WORDS = 4;

const EXTRACTIVE_OPTIONS = new Set(['numSentences', 'ratio', 'minLength', 'maxLength']);

/** What the selection needs to know about each candidate sentence. */
export interface Candidates {
  /** Unit-length sentence embeddings. */
  vectors: Float32Array[];
  /**
   * The mean of the embeddings of the text's blocks (turns, or sentences in prose): what "central" is measured
   * against. Not rescaled to unit length: its shorter norm for varied texts keeps position's weight in proportion.
   */
  centre: Float32Array;
  /** Where each sentence's block is in the text, 0 (start) to 1. */
  positions: number[];
  /** Tokens per sentence. */
  lengths: number[];
  /** Whether each sentence would leave a pronoun dangling if a summary opened with it. */
  leansBack: boolean[];
  /** Words per sentence: those under MIN_WORDS ("Yes!", "Great.") say little alone and are not chosen for themselves. */
  words: number[];
  /** Dialogue: for a question that ends its turn, the candidate that opens the reply (another speaker's next turn). */
  replies?: Array<number | undefined>;
}

export interface LengthBudget {
  /** Stop adding sentences once this many tokens are kept. */
  target: number;
  minLength: number;
  maxLength: number;
  /** Keep exactly this many sentences instead (within maxLength). */
  count?: number;
}

/**
 * Indices (into the candidates, ascending) of the sentences to keep: greedy maximal marginal relevance within the
 * budget, then, while the first kept sentence leans on an earlier one ("She found a flat…"), that earlier sentence
 * is brought in (making room by dropping the least relevant others) or, when it cannot fit, the leaning sentence
 * is dropped. Empty only when no sentence fits in `maxLength`.
 */
export function selectSentences(candidates: Candidates, budget: LengthBudget): number[] {
  const { vectors, centre, positions, lengths, leansBack, words } = candidates;
  const relevance = vectors.map((v, i) => dot(v, centre) + POSITION_WEIGHT * (1 - positions[i]!));
  const minWords = Math.min(MIN_WORDS, Math.max(...words));
  const kept = new Set<number>();
  let used = 0;
  const limit = budget.count !== undefined ? budget.maxLength : budget.target;
  const pick = (fits: (i: number) => boolean): boolean => {
    let best = -1;
    let bestScore = -Infinity;
    for (let i = 0; i < vectors.length; i++) {
      if (kept.has(i) || words[i]! < minWords || !fits(i)) continue;
      let redundancy = 0;
      for (const j of kept) redundancy = Math.max(redundancy, dot(vectors[i]!, vectors[j]!));
      const score = RELEVANCE_WEIGHT * relevance[i]! - (1 - RELEVANCE_WEIGHT) * redundancy;
      if (score > bestScore) [best, bestScore] = [i, score];
    }
    if (best >= 0) {
      kept.add(best);
      used += lengths[best]!;
    }
    return best >= 0;
  };
  // The first sentence may overshoot the target (not maxLength): a long opening sentence is still a summary.
  while (budget.count !== undefined ? kept.size < budget.count : used < budget.target) {
    if (!pick((i) => used + lengths[i]! <= (kept.size === 0 ? budget.maxLength : limit))) break;
  }
  while (used < budget.minLength && budget.count === undefined && pick((i) => used + lengths[i]! <= budget.maxLength));
  // A question is kept with the start of its answer, room permitting ("Are we still on tonight?" "Yes! …"), unless
  // the caller asked for a number of sentences.
  for (const i of budget.count === undefined ? [...kept].sort((a, b) => a - b) : []) {
    const reply = candidates.replies?.[i];
    if (reply !== undefined && !kept.has(reply) && used + lengths[reply]! <= budget.maxLength) {
      kept.add(reply);
      used += lengths[reply]!;
    }
  }

  // Antecedents: bring in the sentence before a leading one that leans back (in a long text's candidates, the
  // nearest earlier candidate), or give the leaning one up when that cannot fit; if nothing is left, take the best
  // sentence that leans on nothing.
  const anchored = new Set<number>();
  const givenUp = new Set<number>();
  for (;;) {
    if (kept.size === 0) {
      if (!pick((i) => !givenUp.has(i) && (i === 0 || !leansBack[i]) && lengths[i]! <= budget.maxLength)) break;
      continue;
    }
    const lead = Math.min(...kept);
    if (lead === 0 || !leansBack[lead]) break;
    const before = lead - 1;
    const droppable = [...kept]
      .filter((i) => i !== lead && !anchored.has(i))
      .sort((a, b) => relevance[a]! - relevance[b]!);
    const dropped: number[] = [];
    const fits = () =>
      used - sum(dropped.map((i) => lengths[i]!)) + lengths[before]! <= budget.maxLength &&
      (budget.count === undefined || kept.size - dropped.length < budget.count);
    while (!fits() && droppable.length > 0) dropped.push(droppable.shift()!);
    if (!givenUp.has(before) && fits()) {
      for (const i of dropped) kept.delete(i);
      kept.add(before);
      used += lengths[before]! - sum(dropped.map((i) => lengths[i]!));
      anchored.add(lead);
    } else {
      kept.delete(lead);
      used -= lengths[lead]!;
      givenUp.add(lead);
    }
  }
  return [...kept].sort((a, b) => a - b);
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export interface ExtractiveSummarizationPipeline {
  (text: string, options?: SummarizationOptions): Promise<SummarizationResult[]>;
  (texts: string[], options?: SummarizationOptions): Promise<SummarizationResult[]>;
}

export class ExtractiveSummarizationPipeline extends Pipeline {
  readonly task: string = 'summarization';

  constructor(private readonly encoder: FeatureExtractionPipeline) {
    super(encoder.model, encoder.tokenizer, { batchSize: encoder.batchSize });
  }

  protected async run(input: unknown, options: SummarizationOptions = {}): Promise<SummarizationResult[]> {
    const { texts } = textBatch(input);
    const settings = extractiveSettings(options);
    const splits = texts.map(splitForSummary);
    const candidates = splits.map((split) => this.candidates(split));
    // Every sentence and turn of every text is embedded in one batched pass (each distinct text once).
    const distinct = [
      ...new Set(
        splits.flatMap((split, k) => [
          ...candidates[k]!.map((i) => split.units[i]!.text),
          ...this.contexts(split, candidates[k]!),
        ]),
      ),
    ];
    const vectors = await this.encoder.embed(distinct.map((text) => this.fitEncoder(text)));
    const vectorOf = new Map(distinct.map((text, i) => [text, vectors[i]!]));
    return splits.map((split, k) => this.summarize(split, candidates[k]!, vectorOf, settings));
  }

  private summarize(
    split: SplitText,
    chosen: number[],
    vectorOf: Map<string, Float32Array>,
    settings: ExtractiveSettings,
  ): SummarizationResult {
    const units = chosen.map((i) => split.units[i]!);
    // In a dialogue the summary also spells out who speaks ("Person1: …"), which the budget pays for.
    const tokens = (text: string) => this.tokenizer.encodeIds(text, { addSpecialTokens: false }).length;
    const lengths = units.map(
      (u) => tokens(u.text) + (split.dialogue ? tokens(`${split.blocks[u.block]!.speaker}:`) : 0),
    );
    const contexts = this.contexts(split, chosen).map((text) => vectorOf.get(text)!);
    const centre = contexts.reduce(
      (sum, v) => sum.map((x, j) => x + v[j]! / contexts.length),
      new Float32Array(contexts[0]!.length),
    );
    const total = sum(lengths);
    const budget: LengthBudget = {
      target: Math.min(settings.maxLength, Math.max(settings.minLength, Math.round(total * settings.ratio))),
      minLength: settings.minLength,
      maxLength: settings.maxLength,
      count: settings.numSentences,
    };
    const kept = selectSentences(
      {
        vectors: units.map((u) => vectorOf.get(u.text)!),
        centre,
        positions: units.map((u) => u.block / Math.max(split.blocks.length - 1, 1)),
        lengths,
        leansBack: units.map((u) => leansOnEarlierText(u.text)),
        words: units.map((u) => u.text.match(/[\p{L}\p{N}]+/gu)?.length ?? 0),
        replies: split.dialogue ? units.map((_, k) => replyTo(split, chosen, k)) : undefined,
      },
      budget,
    );
    if (kept.length === 0) return this.shortened(split, chosen, lengths, settings.maxLength);
    return render(
      split,
      kept.map((i) => chosen[i]!),
    );
  }

  /** No sentence fits in maxLength: the text's first sentence, cut at a word boundary, marked with "…". */
  private shortened(split: SplitText, chosen: number[], lengths: number[], maxLength: number): SummarizationResult {
    const unit = split.units[chosen[0]!]!;
    const words = [...unit.text.matchAll(/\S+/g)];
    const keepWords = Math.max(1, Math.floor((words.length * maxLength) / lengths[0]!) - 1);
    const last = words[Math.min(keepWords, words.length) - 1]!;
    const end = unit.start + last.index + last[0].length;
    const cut = { ...unit, end, text: unit.text.slice(0, end - unit.start) + '…' };
    const { summary_text, units } = render({ ...split, units: [cut] }, [0]);
    return { summary_text, method: 'extractive', units: units!.map((u) => ({ ...u, index: chosen[0]! })) };
  }

  /**
   * Indices of the sentences worth embedding: all of them, or for a long text the MAX_CANDIDATES with the most
   * frequent words (a cheap stand-in for centrality), always with the opening sentences.
   */
  private candidates(split: SplitText): number[] {
    const all = split.units.map((_, i) => i);
    if (all.length <= MAX_CANDIDATES) return all;
    const wordsOf = split.units.map((u) => [...new Set(u.text.toLowerCase().match(/\p{L}{4,}/gu) ?? [])]);
    const frequency = new Map<string, number>();
    for (const words of wordsOf) for (const w of words) frequency.set(w, (frequency.get(w) ?? 0) + 1);
    const score = wordsOf.map((words, i) =>
      i < 3 ? Infinity : words.reduce((s, w) => s + Math.log(frequency.get(w)!), 0) / Math.sqrt(words.length + 1),
    );
    return all
      .sort((a, b) => score[b]! - score[a]! || a - b)
      .slice(0, MAX_CANDIDATES)
      .sort((a, b) => a - b);
  }

  /** The texts whose mean embedding is the text's centre: the turns holding candidates, or in prose the candidates. */
  private contexts(split: SplitText, candidates: number[]): string[] {
    if (!split.dialogue) return candidates.map((i) => split.units[i]!.text);
    return [...new Set(candidates.map((i) => split.units[i]!.block))].map((b) => split.blocks[b]!.text);
  }

  /**
   * A text cut to what the encoder reads (its position limit), so long turns are embedded by their beginning,
   * silently. Characters are cut first (8 per token is more than any tokenizer's average) so a huge turn is never
   * tokenized whole.
   */
  private fitEncoder(text: string): string {
    const room = this.encoder.maxTokens - 8; // special tokens, and slack for re-tokenizing the decoded text
    const head = text.slice(0, room * 8);
    const ids = this.tokenizer.encodeIds(head, { addSpecialTokens: false });
    return ids.length <= room ? head : this.tokenizer.decode(ids.slice(0, room), { skipSpecialTokens: true });
  }
}

/**
 * For candidate `k` of a dialogue: when it is a question that ends its turn, the candidate opening the next turn if
 * another speaker takes it (the answer); else undefined.
 */
function replyTo(split: SplitText, chosen: number[], k: number): number | undefined {
  const index = chosen[k]!;
  const [unit, next] = [split.units[index]!, split.units[index + 1]];
  if (!/[?？]["'”’)\]]*$/.test(unit.text) || next === undefined || next.block === unit.block) return undefined;
  if (split.blocks[next.block]!.speaker === split.blocks[unit.block]!.speaker || chosen[k + 1] !== index + 1)
    return undefined;
  return k + 1;
}

interface ExtractiveSettings {
  ratio: number;
  minLength: number;
  maxLength: number;
  numSentences?: number;
}

/** The caller's options checked and completed with the defaults; abstractive-only options are refused by name. */
function extractiveSettings(options: SummarizationOptions): ExtractiveSettings {
  for (const [name, value] of Object.entries(options)) {
    if (value !== undefined && !EXTRACTIVE_OPTIONS.has(name)) {
      throw new PipelineInputError(
        `${name} does not apply to extractive summarization (a sentence encoder picks sentences; nothing is generated); it takes ${[...EXTRACTIVE_OPTIONS].join(', ')}`,
      );
    }
  }
  const { numSentences, ratio = EXTRACTIVE_DEFAULTS.ratio } = options;
  for (const [name, value] of Object.entries({
    numSentences,
    minLength: options.minLength,
    maxLength: options.maxLength,
  })) {
    if (value !== undefined && (!Number.isInteger(value) || value < 1))
      throw new PipelineInputError(`${name} must be a whole number >= 1, got ${value}`);
  }
  if (typeof ratio !== 'number' || !(ratio > 0 && ratio <= 1))
    throw new PipelineInputError(`ratio must be a number in (0, 1], got ${ratio}`);
  const maxLength =
    options.maxLength ??
    (numSentences !== undefined ? Infinity : Math.max(EXTRACTIVE_DEFAULTS.maxLength, options.minLength ?? 0));
  const minLength = options.minLength ?? Math.min(EXTRACTIVE_DEFAULTS.minLength, maxLength);
  if (minLength > maxLength)
    throw new PipelineInputError(`minLength (${minLength}) must not exceed maxLength (${maxLength})`);
  return { ratio, minLength, maxLength, numSentences };
}

/**
 * The kept sentences in text order; in a dialogue, each run of sentences from one turn is introduced by its speaker's
 * name ("Person1: …  Person2: …"), so no raw tags reach the summary.
 */
function render(split: SplitText, indices: number[]): SummarizationResult {
  const parts: string[] = [];
  let block = -1;
  for (const i of indices) {
    const unit = split.units[i]!;
    const speaker = split.dialogue && unit.block !== block ? `${split.blocks[unit.block]!.speaker}: ` : '';
    parts.push(speaker + unit.text);
    block = unit.block;
  }
  const units = indices.map((i) => {
    const { start, end, block: b } = split.units[i]!;
    return split.dialogue ? { index: i, start, end, speaker: split.blocks[b]!.speaker! } : { index: i, start, end };
  });
  return { summary_text: parts.join(' '), method: 'extractive', units };
}
