/**
 * token-classification / ner: a label per token, grouped into entities, as transformers' TokenClassificationPipeline
 * (4.37). Scores are a softmax over the labels per token. `aggregationStrategy`:
 * - 'none': every token `{ entity, score, index, word, start, end }` (word = the vocabulary token, `##ing`);
 * - 'simple': adjacent tokens whose labels share a tag (B-PER then I-PER; a second B- starts a new entity) become
 *   `{ entity_group, score (mean), word, start, end }`;
 * - 'first' / 'average' / 'max': first the tokens of each word are merged into one labelled word (the first token's
 *   label, the label of the averaged scores, or the label of the most confident token), then grouped as 'simple'.
 *   Words are the tokenizer's (WordPiece `##` continuations); for other tokenizers a token continues a word when no
 *   space precedes it, transformers' fallback.
 * Entities labelled with `ignoreLabels` (default ['O']) are left out.
 */
import type { TokenClassificationModel } from '../models/modeling_outputs.js';
import { argsortDescending, inference, Pipeline, PipelineInputError, softmax, textBatch } from './base.js';
import { alignTokens, paddedInputs, SequenceTemplate, type AlignedToken } from './offsets.js';

export type AggregationStrategy = 'none' | 'simple' | 'first' | 'average' | 'max';
const STRATEGIES: readonly AggregationStrategy[] = ['none', 'simple', 'first', 'average', 'max'];

export interface TokenClassificationOptions {
  /** Default 'none' (one result per token), as transformers. */
  aggregationStrategy?: AggregationStrategy;
  /** Labels that are not entities; default ['O']. */
  ignoreLabels?: string[];
}

/** A token ('none'). */
export interface TokenEntity {
  entity: string;
  score: number;
  /** Position of the token in the model input (special tokens counted, as transformers). */
  index: number;
  word: string;
  start: number;
  end: number;
}

/** An entity of one or more tokens or words (every strategy but 'none'). */
export interface GroupedEntity {
  entity_group: string;
  score: number;
  word: string;
  start: number;
  end: number;
}

export type TokenClassificationResult = TokenEntity[] | GroupedEntity[];

/** A token of the text with its label probabilities. */
interface ScoredToken extends AlignedToken {
  index: number;
  scores: number[];
  isSubword: boolean;
}

/** A labelled token or word before grouping. */
interface Labelled {
  entity: string;
  score: number;
  ids: number[];
  start: number;
  end: number;
}

export interface TokenClassificationPipeline {
  (text: string, options?: TokenClassificationOptions): Promise<TokenClassificationResult>;
  (texts: string[], options?: TokenClassificationOptions): Promise<TokenClassificationResult[]>;
}

export class TokenClassificationPipeline extends Pipeline<TokenClassificationModel> {
  readonly task: string = 'token-classification';

  protected async run(
    input: unknown,
    options: TokenClassificationOptions = {},
  ): Promise<TokenClassificationResult | TokenClassificationResult[]> {
    this.checkUsable();
    const { texts, single } = textBatch(input);
    const strategy = options.aggregationStrategy ?? 'none';
    if (!STRATEGIES.includes(strategy))
      throw new PipelineInputError(
        `aggregationStrategy must be one of ${STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`,
      );
    const ignore = new Set(options.ignoreLabels ?? ['O']);
    const scored = await this.inBatches(texts, (batch) => this.scoreTokens(batch));
    const results = scored.map((tokens, i): TokenClassificationResult => {
      if (strategy === 'none') {
        return tokens
          .map((t) => ({ ...this.label(t.scores), index: t.index, word: t.token, start: t.start, end: t.end }))
          .filter((e) => !ignore.has(e.entity));
      }
      const units =
        strategy === 'simple'
          ? tokens.map((t) => ({ ...this.label(t.scores), ids: [t.id], start: t.start, end: t.end }))
          : this.words(tokens, strategy);
      return this.group(units, texts[i]!).filter((e) => !ignore.has(e.entity_group));
    });
    return single ? results[0]! : results;
  }

  /** Each text's tokens (cut to the model's length, with a warning) with their label probabilities. */
  private scoreTokens(texts: string[]): ScoredToken[][] {
    const prepared = texts.map((text, i) => {
      let tokens = alignTokens(this.tokenizer, text);
      const template = SequenceTemplate.of(
        this.tokenizer,
        null,
        text,
        tokens.map((t) => t.id),
      );
      const room = this.maxTokens - template.overhead;
      if (tokens.length > room) {
        this.warn(
          `attn ${this.task}: input ${i} is ${tokens.length} tokens long; the model takes ${room} besides its special tokens, so only the first ${room} were labelled`,
        );
        tokens = tokens.slice(0, room);
      }
      return { tokens, template, row: template.frame(tokens.map((t) => t.id)) };
    });
    const padId = this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
    const logits = inference(() => {
      const inputs = paddedInputs(
        prepared.map((p) => p.row),
        padId,
      );
      const out = this.runEncoder('logits', inputs, (x) => ({ logits: this.model.forward(x).logits }));
      return { data: Float32Array.from(out.logits!.data), shape: out.logits!.shape as number[] }; // (B, T, numLabels)
    });
    const [, width, numLabels] = logits.shape as [number, number, number];
    return prepared.map(({ tokens, template }, b) =>
      tokens.map((token, i) => {
        const index = template.offset + i;
        // An unknown token is shown as the text it stands for, and starts a word (transformers).
        if (token.id === this.tokenizer.unkTokenId)
          token = { ...token, token: texts[b]!.slice(token.start, token.end) };
        const at = (b * width + index) * numLabels;
        return {
          ...token,
          index,
          scores: softmax(logits.data.subarray(at, at + numLabels)),
          isSubword: this.isSubword(token, texts[b]!),
        };
      }),
    );
  }

  /** transformers: the tokenizer's continuation marker where it has one, else "no space before the token". */
  private isSubword(token: AlignedToken, text: string): boolean {
    if (token.id === this.tokenizer.unkTokenId) return false;
    const hasPrefix = (this.tokenizer.json.model as { continuing_subword_prefix?: string | null })
      .continuing_subword_prefix;
    if (hasPrefix) return token.continuesWord;
    return token.start > 0 && !text.slice(token.start - 1, token.start + 1).includes(' ');
  }

  private label(scores: number[]): { entity: string; score: number } {
    const best = argsortDescending(scores)[0]!;
    return { entity: this.model.config.id2label[best] ?? `LABEL_${best}`, score: scores[best]! };
  }

  /** The tokens of each word merged into one labelled unit ('first', 'average', 'max'). */
  private words(tokens: ScoredToken[], strategy: Exclude<AggregationStrategy, 'none' | 'simple'>): Labelled[] {
    const words: ScoredToken[][] = [];
    for (const token of tokens) {
      if (token.isSubword && words.length > 0) words[words.length - 1]!.push(token);
      else words.push([token]);
    }
    return words.map((group) => {
      let label: { entity: string; score: number };
      if (strategy === 'first') label = this.label(group[0]!.scores);
      else if (strategy === 'max')
        label = this.label(group.reduce((a, b) => (Math.max(...b.scores) > Math.max(...a.scores) ? b : a)).scores);
      else
        label = this.label(
          group[0]!.scores.map((_, k) => group.reduce((sum, t) => sum + t.scores[k]!, 0) / group.length),
        );
      return { ...label, ids: group.map((t) => t.id), start: group[0]!.start, end: group[group.length - 1]!.end };
    });
  }

  /** Adjacent units with the same tag merged (transformers' group_entities: B- starts a new entity). */
  private group(units: Labelled[], text: string): GroupedEntity[] {
    const groups: Labelled[][] = [];
    for (const unit of units) {
      const last = groups[groups.length - 1];
      const [bi, tag] = splitTag(unit.entity);
      if (last !== undefined && splitTag(last[last.length - 1]!.entity)[1] === tag && bi !== 'B') last.push(unit);
      else groups.push([unit]);
    }
    return groups.map((group) => ({
      entity_group: entityName(group[0]!.entity),
      score: group.reduce((sum, u) => sum + u.score, 0) / group.length,
      word:
        this.tokenizer.decode(group.flatMap((u) => u.ids)).trim() ||
        text.slice(group[0]!.start, group[group.length - 1]!.end),
      start: group[0]!.start,
      end: group[group.length - 1]!.end,
    }));
  }
}

/** The entity a label names: 'B-PER' → 'PER' (transformers splits at the first '-'). */
function entityName(label: string): string {
  const dash = label.indexOf('-');
  return dash < 0 ? label : label.slice(dash + 1);
}

/** 'B-PER' → ['B', 'PER']; 'I-PER' → ['I', 'PER']; a label without a prefix continues ('I'). */
function splitTag(label: string): ['B' | 'I', string] {
  if (label.startsWith('B-')) return ['B', label.slice(2)];
  if (label.startsWith('I-')) return ['I', label.slice(2)];
  return ['I', label];
}
