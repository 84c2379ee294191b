/**
 * question-answering (extractive, SQuAD-style): the span of the context that answers the question,
 * `{ score, start, end, answer }` with character offsets into the context, as transformers'
 * QuestionAnsweringPipeline (4.37) computes it:
 * - the question and the context go in as a pair; a context longer than `maxSeqLen` tokens is cut into windows that
 *   overlap by `docStride` tokens, and every window is scored;
 * - start and end logits of tokens outside the context (question, special tokens, padding) are set to −10000, except
 *   the first ([CLS]) token; each is softmaxed over the row, and [CLS] (the "no answer" slot) is then zeroed;
 * - a span's score is P(start) · P(end), for end ≥ start and at most `maxAnswerLen` tokens;
 * - the answer is widened to whole words (`alignToWords`), and the best `topK` spans over all windows are returned
 *   (with `handleImpossibleAnswer`, also the empty answer scored P([CLS] start) · P([CLS] end)).
 */
import type { QuestionAnsweringModel } from '../models/modeling_outputs.js';
import { describe, inference, Pipeline, PipelineInputError, rowsOf, softmax } from './base.js';
import { alignTokens, paddedInputs, SequenceTemplate, type AlignedToken, type TemplateRow } from './offsets.js';

export interface QuestionAnsweringInput {
  question: string;
  context: string;
}

export interface QuestionAnsweringOptions {
  /** Ask this question of contexts given as plain strings (transformers' `question=`, `context=[…]` call). */
  question?: string;
  /** Answers per question, best first (default 1: one answer object, not a list). */
  topK?: number;
  /** Tokens two windows of a long context share (default 128). */
  docStride?: number;
  /** Longest answer in tokens (default 15). */
  maxAnswerLen?: number;
  /** Question, context window and special tokens per model input (default 384, or less when the model takes less). */
  maxSeqLen?: number;
  /** Also consider "no answer" (SQuAD 2.0 models): the empty answer at 0..0. Default false. */
  handleImpossibleAnswer?: boolean;
  /** Widen answers to whole words. Default true. */
  alignToWords?: boolean;
}

export interface Answer {
  score: number;
  /** Characters [start, end) of the context. */
  start: number;
  end: number;
  answer: string;
}

/** One model input: a window of the context framed with the question. */
interface Feature {
  row: TemplateRow;
  /** Index of the window's first context token among the context's tokens. */
  windowStart: number;
  windowLength: number;
}

const MASKED_LOGIT = -10000;

export interface QuestionAnsweringPipeline {
  (input: QuestionAnsweringInput, options?: QuestionAnsweringOptions): Promise<Answer | Answer[]>;
  (inputs: QuestionAnsweringInput[], options?: QuestionAnsweringOptions): Promise<Array<Answer | Answer[]>>;
  /** Contexts, each asked `options.question`. */
  (context: string, options: QuestionAnsweringOptions & { question: string }): Promise<Answer | Answer[]>;
  (contexts: string[], options: QuestionAnsweringOptions & { question: string }): Promise<Array<Answer | Answer[]>>;
}

export class QuestionAnsweringPipeline extends Pipeline<QuestionAnsweringModel> {
  readonly task: string = 'question-answering';

  protected async run(
    input: unknown,
    options: QuestionAnsweringOptions = {},
  ): Promise<Answer | Answer[] | Array<Answer | Answer[]>> {
    this.checkUsable();
    const single = !Array.isArray(input);
    let items = (single ? [input] : input) as unknown[];
    if (items.length === 0)
      throw new PipelineInputError('question-answering needs at least one { question, context }; got an empty array');
    if (items.every((item) => typeof item === 'string')) {
      if (options.question === undefined)
        throw new PipelineInputError(
          'question-answering: plain-text contexts need options.question (or pass { question, context })',
        );
      items = items.map((context) => ({ question: options.question, context }));
    }
    const settings = this.settings(options);
    const results: Array<Answer | Answer[]> = [];
    for (const [i, item] of items.entries()) {
      const { question, context } = checkInput(item, single ? undefined : i);
      const answers = await this.answer(question, context, settings);
      results.push(answers.length === 1 ? answers[0]! : answers);
    }
    return single ? results[0]! : results;
  }

  private settings(options: QuestionAnsweringOptions): Required<Omit<QuestionAnsweringOptions, 'question'>> {
    const settings = {
      topK: options.topK ?? 1,
      docStride: options.docStride ?? 128,
      maxAnswerLen: options.maxAnswerLen ?? 15,
      maxSeqLen: Math.min(options.maxSeqLen ?? 384, this.maxTokens),
      handleImpossibleAnswer: options.handleImpossibleAnswer ?? false,
      alignToWords: options.alignToWords ?? true,
    };
    for (const key of ['topK', 'maxAnswerLen', 'maxSeqLen'] as const) {
      if (!Number.isInteger(settings[key]) || settings[key] < 1)
        throw new PipelineInputError(`${key} must be a whole number >= 1, got ${options[key]}`);
    }
    if (!Number.isInteger(settings.docStride) || settings.docStride < 0)
      throw new PipelineInputError(`docStride must be a whole number >= 0, got ${options.docStride}`);
    return settings;
  }

  private async answer(
    question: string,
    context: string,
    settings: Required<Omit<QuestionAnsweringOptions, 'question'>>,
  ): Promise<Answer[]> {
    const contextTokens = alignTokens(this.tokenizer, context);
    const contextIds = contextTokens.map((t) => t.id);
    const template = SequenceTemplate.of(this.tokenizer, question, context, contextIds);
    const windowLength = settings.maxSeqLen - template.overhead;
    if (windowLength < 1) {
      throw new PipelineInputError(
        `the question is ${template.overhead} tokens with the special tokens; maxSeqLen ${settings.maxSeqLen} leaves no room for the context`,
      );
    }
    // transformers refuses a stride that would not advance; a smaller window than the stride advances by one token.
    const stride = Math.min(settings.docStride, windowLength - 1);
    const features: Feature[] = [];
    for (let start = 0; ; start += windowLength - stride) {
      const window = contextIds.slice(start, start + windowLength);
      features.push({ row: template.frame(window), windowStart: start, windowLength: window.length });
      if (start + windowLength >= contextIds.length) break;
    }
    const clsId = this.tokenizer.clsTokenId ?? this.tokenizer.bosTokenId;
    const padId = this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? 0;
    const candidates: Answer[] = [];
    let nullScore = Infinity;
    await this.inBatches(features, (batch) => {
      const logits = inference(() => {
        const inputs = paddedInputs(
          batch.map((f) => f.row),
          padId,
        );
        const out = this.runEncoder('spans', inputs, (x) => {
          const { startLogits, endLogits } = this.model.forward(x);
          return { startLogits, endLogits };
        });
        return { start: rowsOf(out.startLogits!), end: rowsOf(out.endLogits!) }; // each (B) rows of T
      });
      batch.forEach((feature, b) => {
        const desired = feature.row.ids.map(
          (id, p) => (p - template.offset >= 0 && p - template.offset < feature.windowLength) || id === clsId,
        );
        const probabilities = (row: Float32Array) =>
          softmax(Array.from(desired, (ok, p) => (ok ? row[p]! : MASKED_LOGIT)));
        const start = probabilities(logits.start[b]!.subarray(0, desired.length));
        const end = probabilities(logits.end[b]!.subarray(0, desired.length));
        nullScore = Math.min(nullScore, start[0]! * end[0]!);
        start[0] = end[0] = 0;
        for (const span of bestSpans(start, end, desired, settings.topK, settings.maxAnswerLen)) {
          const token = (p: number): AlignedToken | undefined => {
            const index = p - template.offset;
            return index >= 0 && index < feature.windowLength ? contextTokens[feature.windowStart + index] : undefined;
          };
          const [first, last] = [token(span.start), token(span.end)];
          const [startChar, endChar] =
            first && last ? charSpan(contextTokens, first, last, settings.alignToWords) : [0, 0];
          candidates.push({
            score: span.score,
            start: startChar,
            end: endChar,
            answer: context.slice(startChar, endChar),
          });
        }
      });
      return [];
    });
    if (settings.handleImpossibleAnswer) candidates.push({ score: nullScore, start: 0, end: 0, answer: '' });
    return candidates.sort((a, b) => b.score - a.score).slice(0, settings.topK);
  }
}

/**
 * The `topK` best (start, end) pairs by P(start)·P(end) with start ≤ end < start + maxAnswerLen (transformers'
 * decode_spans), keeping only spans whose both ends are desired tokens.
 */
export function bestSpans(
  start: number[],
  end: number[],
  desired: boolean[],
  topK: number,
  maxAnswerLen: number,
): Array<{ start: number; end: number; score: number }> {
  const spans: Array<{ start: number; end: number; score: number }> = [];
  for (let s = 0; s < start.length; s++) {
    for (let e = s; e < Math.min(end.length, s + maxAnswerLen); e++)
      spans.push({ start: s, end: e, score: start[s]! * end[e]! });
  }
  // All T·T candidates compete (those outside the band score 0), so a short row can return fewer than topK.
  const ranked = spans.sort((a, b) => b.score - a.score || a.start - b.start || a.end - b.end).slice(0, topK);
  return ranked.filter((span) => desired[span.start] && desired[span.end]);
}

/** Characters of the answer from its first to last token, widened to their whole words when asked. */
function charSpan(
  tokens: AlignedToken[],
  first: AlignedToken,
  last: AlignedToken,
  alignToWords: boolean,
): [number, number] {
  if (!alignToWords) return [first.start, last.end];
  const wordStart = tokens.find((t) => t.word === first.word)!.start;
  const wordEnd = tokens.findLast((t) => t.word === last.word)!.end;
  return [wordStart, wordEnd];
}

function checkInput(item: unknown, index: number | undefined): QuestionAnsweringInput {
  const where = index === undefined ? 'input' : `input ${index}`;
  const record = item as Partial<QuestionAnsweringInput> | null;
  if (
    record === null ||
    typeof record !== 'object' ||
    typeof record.question !== 'string' ||
    typeof record.context !== 'string'
  ) {
    throw new PipelineInputError(
      `question-answering ${where} must be { question: string, context: string }, got ${describe(item)}`,
    );
  }
  if (record.question.trim() === '') throw new PipelineInputError(`question-answering ${where}: the question is empty`);
  if (record.context.trim() === '') throw new PipelineInputError(`question-answering ${where}: the context is empty`);
  return { question: record.question, context: record.context };
}
