/**
 * Where each token of a text came from: character offsets and word membership, as the `offset_mapping`,
 * `word_ids()` and `continuing_subword_prefix` of transformers' fast tokenizers give them to the question-answering
 * and token-classification pipelines. @huggingface/tokenizers (JS) returns ids and tokens only, so the tokens are
 * aligned back to the text here: each token's surface form (WordPiece without `##`, byte-level BPE decoded from its
 * bytes, SentencePiece with `▁` as a space) is found in the text after the previous token, comparing characters
 * case- and accent-folded as uncased tokenizers normalise them. A token that matches nothing (an unknown token,
 * a byte-fallback piece) takes the unmatched text up to the next aligned token.
 */
import { Tensor } from '../tensor/tensor.js';
import { CHAR_TO_BYTE } from '../tokenizers/bytes.js';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.js';
import type { TokenizedBatch } from './base.js';

export interface AlignedToken {
  id: number;
  /** The vocabulary entry (`##ing`, `Ġthe`, `▁the`). */
  token: string;
  /** Characters [start, end) of the text the token covers. */
  start: number;
  end: number;
  /** Index of the word the token belongs to (fast tokenizers' `word_ids()`). */
  word: number;
  /** Continues the previous token's word by the tokenizer's own marker (WordPiece `##`). */
  continuesWord: boolean;
}

type Scheme = { kind: 'wordpiece'; prefix: string } | { kind: 'byte-level' } | { kind: 'metaspace' };

function schemeOf(tokenizer: PreTrainedTokenizer): Scheme {
  const model = tokenizer.json.model as { type?: string; continuing_subword_prefix?: string | null };
  if (model.type === 'WordPiece') return { kind: 'wordpiece', prefix: model.continuing_subword_prefix ?? '##' };
  const pipeline = JSON.stringify([tokenizer.json.pre_tokenizer, tokenizer.json.decoder]);
  return pipeline.includes('"ByteLevel"') ? { kind: 'byte-level' } : { kind: 'metaspace' };
}

/** What a token spells in the text, before folding; '' when it cannot be placed by spelling. */
function surface(token: string, scheme: Scheme): string {
  switch (scheme.kind) {
    case 'wordpiece':
      return token.startsWith(scheme.prefix) ? token.slice(scheme.prefix.length) : token;
    case 'byte-level': {
      const bytes = [...token].map((c) => CHAR_TO_BYTE.get(c));
      if (bytes.some((b) => b === undefined)) return token.trim();
      const text = Buffer.from(bytes as number[]).toString('utf8');
      return text.includes('\uFFFD') ? '' : text.trim();
    }
    case 'metaspace':
      return /^<0x[0-9A-Fa-f]{2}>$/.test(token) ? '' : token.replaceAll('\u2581', ' ').trim();
  }
}

/** Lowercase, accents removed: how uncased tokenizers normalise. Each output char maps back to its source index. */
function fold(text: string): { chars: string; source: number[] } {
  let chars = '';
  const source: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const folded = text[i]!.normalize('NFD')
      .replace(/\p{Mn}/gu, '')
      .toLowerCase();
    for (const c of folded) {
      chars += c;
      source.push(i);
    }
  }
  return { chars, source };
}

const PUNCTUATION = /[\p{P}\p{S}]/u;

/** The tokens of `text` (no special tokens) with their character spans and words. */
export function alignTokens(tokenizer: PreTrainedTokenizer, text: string): AlignedToken[] {
  const scheme = schemeOf(tokenizer);
  const ids = tokenizer.encodeIds(text, { addSpecialTokens: false });
  const tokens = tokenizer.convertIdsToTokens(ids);
  const folded = fold(text);
  const spans: Array<[number, number] | null> = [];
  let cursor = 0; // in folded chars
  for (const token of tokens) {
    const wanted = fold(surface(token, scheme)).chars;
    const at = wanted === '' ? -1 : folded.chars.indexOf(wanted, cursor);
    // A match far ahead would skip text another token should cover: accept it only across whitespace.
    const skipsText =
      folded.chars.slice(cursor, at).trim() !== '' && spans.length > 0 && spans[spans.length - 1] !== null;
    if (at < 0 || skipsText) {
      spans.push(null);
      continue;
    }
    const start = folded.source[at]!;
    const end = folded.source[at + wanted.length - 1]! + 1;
    spans.push([start, end]);
    cursor = at + wanted.length;
  }
  // Unplaced tokens share the unmatched text between their aligned neighbours (whitespace trimmed).
  const placed = spans.map((span, i) => {
    if (span !== null) return span;
    const previousEnd =
      spans
        .slice(0, i)
        .reverse()
        .find((s) => s !== null)?.[1] ?? 0;
    const nextStart = spans.slice(i + 1).find((s) => s !== null)?.[0] ?? text.length;
    const gap = text.slice(previousEnd, nextStart);
    const lead = gap.length - gap.trimStart().length;
    return [previousEnd + lead, previousEnd + gap.trimEnd().length] as [number, number];
  });
  let word = -1;
  return placed.map(([start, end], i) => {
    const token = tokens[i]!;
    const continuesWord = scheme.kind === 'wordpiece' && i > 0 && token.startsWith(scheme.prefix);
    const previous = placed[i - 1];
    // Words as each pre-tokenizer splits: WordPiece at whitespace and every punctuation mark (## continues one),
    // GPT-2's byte-level regex between letters/digits and punctuation, SentencePiece at whitespace only.
    const contiguous = previous !== undefined && previous[1] === start && start > 0;
    const sameClass = PUNCTUATION.test(text[start - 1] ?? '') === PUNCTUATION.test(text[start] ?? '');
    const joined =
      contiguous && (scheme.kind === 'wordpiece' ? continuesWord : scheme.kind === 'byte-level' ? sameClass : true);
    if (!joined) word++;
    return { id: ids[i]!, token, start, end, word, continuesWord };
  });
}

/** One model input row: ids, token types, and which positions hold the text's tokens. */
export interface TemplateRow {
  ids: number[];
  typeIds: number[];
}

/**
 * How the tokenizer frames one text (and a pair text): the special tokens and the first text around the last
 * text's tokens, learned from one full encoding, so a cut or a window of the last text can be framed the same way.
 */
export class SequenceTemplate {
  private constructor(
    private readonly before: TemplateRow,
    private readonly after: TemplateRow,
    private readonly lastType: number,
  ) {}

  /** Framing of `last` (after `first` when given), from the tokenizer's own encoding of the two. */
  static of(tokenizer: PreTrainedTokenizer, first: string | null, last: string, lastIds: number[]): SequenceTemplate {
    const encoded =
      first === null
        ? tokenizer.encode(last, { maxLength: Number.MAX_SAFE_INTEGER })
        : tokenizer.encode(first, { textPair: last, maxLength: Number.MAX_SAFE_INTEGER });
    const ids = encoded.inputIds[0]!;
    const types = encoded.tokenTypeIds[0]!;
    const at = lastIndexOf(ids, lastIds);
    if (at < 0)
      throw new Error(`${tokenizer.source}: cannot find the text's tokens in its encoding with special tokens`);
    const end = at + lastIds.length;
    return new SequenceTemplate(
      { ids: ids.slice(0, at), typeIds: types.slice(0, at) },
      { ids: ids.slice(end), typeIds: types.slice(end) },
      types[at] ?? types[end] ?? 0,
    );
  }

  /** Positions the framing adds around the last text. */
  get overhead(): number {
    return this.before.ids.length + this.after.ids.length;
  }

  /** Where the last text's first token sits in a framed row. */
  get offset(): number {
    return this.before.ids.length;
  }

  frame(lastIds: number[]): TemplateRow {
    return {
      ids: [...this.before.ids, ...lastIds, ...this.after.ids],
      typeIds: [...this.before.typeIds, ...lastIds.map(() => this.lastType), ...this.after.typeIds],
    };
  }
}

function lastIndexOf(haystack: number[], needle: number[]): number {
  outer: for (let at = haystack.length - needle.length; at >= 0; at--) {
    for (let i = 0; i < needle.length; i++) if (haystack[at + i] !== needle[i]) continue outer;
    return at;
  }
  return -1;
}

/** Rows padded on the right to the longest into (B, T) int32 model inputs; padding is masked out. */
export function paddedInputs(rows: TemplateRow[], padId: number): TokenizedBatch {
  const width = Math.max(...rows.map((row) => row.ids.length));
  const ids = new Int32Array(rows.length * width).fill(padId);
  const mask = new Int32Array(rows.length * width);
  const types = new Int32Array(rows.length * width);
  rows.forEach((row, i) => {
    ids.set(row.ids, i * width);
    mask.fill(1, i * width, i * width + row.ids.length);
    types.set(row.typeIds, i * width);
  });
  const shape = [rows.length, width];
  return {
    inputIds: new Tensor(ids, shape),
    attentionMask: new Tensor(mask, shape),
    tokenTypeIds: new Tensor(types, shape),
  };
}
