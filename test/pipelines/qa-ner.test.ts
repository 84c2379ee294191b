// question-answering and token-classification pipelines, checked against hand-computed expectations: the model is
// a stand-in whose logits are set per token (so the probabilities, spans, words and entity groups transformers'
// rules give can be worked out on paper), on the real bert-base-uncased and GPT-2 vocabularies. A tiny random BERT
// QA checkpoint then runs through pipeline() end to end and agrees with a brute-force span search over its logits.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AutoModelForQuestionAnswering } from '../../src/models/auto/index.js';
import { BertConfig } from '../../src/models/bert/configuration_bert.js';
import { PreTrainedModel } from '../../src/models/modeling_utils.js';
import { noGrad } from '../../src/tensor/engine.js';
import {
  pipeline,
  QuestionAnsweringPipeline,
  TokenClassificationPipeline,
  type Answer,
  type GroupedEntity,
  type TokenEntity,
} from '../../src/pipelines/index.js';
import { alignTokens } from '../../src/pipelines/offsets.js';
import type { TokenizedBatch } from '../../src/pipelines/base.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { PreTrainedTokenizer } from '../../src/tokenizers/tokenizer.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';
import { goldenPath } from '../models/golden.js';
import { tinyQuestionAnswering, tinyTokenClassifier } from './tiny-heads.js';

const bert = (): PreTrainedTokenizer => AutoTokenizer.fromDirectory(goldenPath('tokenizers', 'bert-base-uncased'));
const gpt2 = (): PreTrainedTokenizer => AutoTokenizer.fromDirectory(goldenPath('tokenizers', 'gpt2'));

/** A model whose logits for each position come from `perToken(tokenString)`. */
class StandIn extends PreTrainedModel<BertConfig> {
  constructor(
    config: BertConfig,
    private readonly tokenizer: PreTrainedTokenizer,
    private readonly perToken: (token: string) => number[],
  ) {
    super(config);
  }

  private logits({ inputIds }: TokenizedBatch): { data: Float32Array; b: number; t: number; k: number } {
    const [b, t] = inputIds.shape as [number, number];
    const rows = Array.from(inputIds.data, (id) => this.perToken(this.tokenizer.convertIdsToTokens(id)));
    return { data: Float32Array.from(rows.flat()), b, t, k: rows[0]!.length };
  }

  forward(inputs: TokenizedBatch) {
    const { data, b, t, k } = this.logits(inputs);
    if (k === 2) {
      const pick = (j: number) =>
        new Tensor(
          Float32Array.from({ length: b * t }, (_, i) => data[i * 2 + j]!),
          [b, t],
        );
      return { startLogits: pick(0), endLogits: pick(1), logits: new Tensor(data, [b, t, k]) };
    }
    return { logits: new Tensor(data, [b, t, k]) };
  }
}

function softmaxAt(values: number[], i: number): number {
  const max = Math.max(...values);
  return Math.exp(values[i]! - max) / values.reduce((s, v) => s + Math.exp(v - max), 0);
}

describe('offsets of tokens in the text', () => {
  it('WordPiece, uncased: accents and case folded, ## pieces inside their word, punctuation its own word', () => {
    const tokens = alignTokens(bert(), 'Café Naïveté, in Zürich!');
    expect(tokens.map((t) => [t.token, t.start, t.end, t.word])).toEqual([
      ['cafe', 0, 4, 0],
      ['naive', 5, 10, 1],
      ['##te', 10, 12, 1],
      [',', 12, 13, 2],
      ['in', 14, 16, 3],
      ['zurich', 17, 23, 4],
      ['!', 23, 24, 5],
    ]);
  });

  it('byte-level BPE: Ġ is the space before a word; unknown-free', () => {
    const text = 'Sarah lives in London, England.';
    const tokens = alignTokens(gpt2(), text);
    expect(tokens.map((t) => text.slice(t.start, t.end))).toEqual(tokens.map((t) => t.token.replace('Ġ', '')));
    expect(tokens.find((t) => t.token === ',')!.word).not.toBe(tokens.find((t) => t.token === 'ĠLondon')!.word);
  });

  it('an unknown token covers the text between its neighbours', () => {
    const tokens = alignTokens(bert(), 'I like 😀 a lot');
    expect(tokens.map((t) => [t.token, t.start, t.end])).toEqual([
      ['i', 0, 1],
      ['like', 2, 6],
      ['[UNK]', 7, 9],
      ['a', 10, 11],
      ['lot', 12, 15],
    ]);
  });
});

describeWithShared('offsets with a SentencePiece (Metaspace) tokenizer', ['tokenizers/t5-small/tokenizer.json'], () => {
  it('words split at whitespace only, as the Metaspace pre-tokenizer does', () => {
    const t5 = new PreTrainedTokenizer(
      JSON.parse(readFileSync(sharedPath('tokenizers', 't5-small', 'tokenizer.json'), 'utf8')),
      {},
    );
    const text = 'Sarah lives in Paris, France.';
    const tokens = alignTokens(t5, text);
    expect(tokens.map((t) => text.slice(t.start, t.end)).join('|')).toBe(
      tokens.map((t) => t.token.replace('▁', '')).join('|'),
    );
    const wordOf = (piece: string) => tokens.find((t) => text.slice(t.start, t.end) === piece)!.word;
    expect(wordOf(',')).toBe(wordOf('Paris'));
    expect(wordOf('France')).toBe(wordOf('Paris') + 1);
  });
});

describe('question-answering', () => {
  const config = new BertConfig({ model_type: 'bert', max_position_embeddings: 512 });
  const context = 'Sarah lives in London and works in Paris.';
  const question = 'Where does Sarah work?';
  // Start logits 4 on "paris", end logits 4 on "paris" and 2 on "."; 0 elsewhere (masked where not context).
  const qa = (tokenizer = bert()) =>
    new QuestionAnsweringPipeline(
      new StandIn(config, tokenizer, (tok) => [
        tok === 'paris' ? 4 : 0,
        tok === 'paris' ? 4 : tok === '.' ? 2 : 0,
      ]) as never,
      tokenizer,
    );

  it('scores P(start)·P(end) over the context tokens and [CLS], and answers with character offsets', async () => {
    const answer = (await qa()({ question, context })) as Answer;
    // Desired positions: the 9 context tokens and [CLS] (10 in all), the rest at −10000.
    const contextLogits = ['sarah', 'lives', 'in', 'london', 'and', 'works', 'in', 'paris', '.'];
    const start = [0, ...contextLogits.map((t) => (t === 'paris' ? 4 : 0))];
    const end = [0, ...contextLogits.map((t) => (t === 'paris' ? 4 : t === '.' ? 2 : 0))];
    const paris = 1 + contextLogits.indexOf('paris');
    expect(answer.answer).toBe('Paris');
    expect(answer.start).toBe(context.indexOf('Paris'));
    expect(answer.end).toBe(context.indexOf('Paris') + 5);
    expect(answer.score).toBeCloseTo(softmaxAt(start, paris) * softmaxAt(end, paris), 6);
  });

  it('topK gives the next spans in order (end ≥ start, within maxAnswerLen), as a list', async () => {
    const answers = (await qa()({ question, context }, { topK: 2 })) as Answer[];
    expect(answers.map((a) => a.answer)).toEqual(['Paris', 'Paris.']);
    expect(answers[0]!.score).toBeGreaterThan(answers[1]!.score);
    const short = (await qa()({ question, context }, { topK: 2, maxAnswerLen: 1 })) as Answer[];
    expect(short[1]!.answer).not.toBe('Paris.');
  });

  it('finds the answer in a later window of a long context, with offsets into the whole context', async () => {
    const long = `${'Sarah lives in London. '.repeat(20)}She works in Paris.`;
    const answer = (await qa()({ question, context: long }, { maxSeqLen: 32, docStride: 8 })) as Answer;
    expect(answer.answer).toBe('Paris');
    expect(answer.start).toBe(long.lastIndexOf('Paris'));
  });

  it('widens an answer that starts inside a word to the whole word (alignToWords), or not', async () => {
    const tokenizer = bert();
    const pipe = new QuestionAnsweringPipeline(
      new StandIn(config, tokenizer, (tok) => [tok === '##te' ? 4 : 0, tok === '##te' ? 4 : 0]) as never,
      tokenizer,
    );
    const input = { question: 'What?', context: 'A naiveté test.' };
    expect(((await pipe(input)) as Answer).answer).toBe('naiveté');
    expect(((await pipe(input, { alignToWords: false })) as Answer).answer).toBe('té');
  });

  it('handleImpossibleAnswer adds the empty answer scored by [CLS]', async () => {
    const tokenizer = bert();
    const pipe = new QuestionAnsweringPipeline(
      new StandIn(config, tokenizer, (tok) => (tok === '[CLS]' ? [6, 6] : [0, 0])) as never,
      tokenizer,
    );
    const answer = (await pipe({ question, context }, { handleImpossibleAnswer: true })) as Answer;
    expect(answer).toMatchObject({ answer: '', start: 0, end: 0 });
    const cls = [6, ...new Array(9).fill(0)];
    expect(answer.score).toBeCloseTo(softmaxAt(cls, 0) ** 2, 6);
  });

  it('works on byte-level BPE (GPT-2 vocabulary, first token as [CLS] slot)', async () => {
    const tokenizer = gpt2();
    const pipe = new QuestionAnsweringPipeline(
      new StandIn(config, tokenizer, (tok) => [tok === 'ĠParis' ? 5 : 0, tok === 'ĠParis' ? 5 : 0]) as never,
      tokenizer,
    );
    expect(((await pipe({ question, context })) as Answer).answer).toBe('Paris');
  });

  it('refuses inputs that are not { question, context }, naming what is wrong', async () => {
    await expect(qa()({ question: 'x' } as never)).rejects.toThrow(/must be \{ question: string, context: string \}/);
    await expect(qa()({ question: ' ', context })).rejects.toThrow(/the question is empty/);
    await expect(qa()(context as never)).rejects.toThrow(/need options.question/);
    expect(((await qa()(context, { question })) as Answer).answer).toBe('Paris');
  });
});

describe('token-classification (NER)', () => {
  const labels = ['O', 'B-PER', 'I-PER', 'B-LOC', 'I-LOC'];
  const config = new BertConfig({
    model_type: 'bert',
    max_position_embeddings: 512,
    id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
  });
  const text = 'Sarah Naiveté lives in New York';
  // Tokens: sarah naive ##te lives in new york. Logits put each on a label, with ##te split between I-PER and O.
  const logitsFor: Record<string, number[]> = {
    sarah: [0, 5, 1, 0, 0],
    naive: [0, 1, 4, 0, 0],
    '##te': [3, 0, 2.5, 0, 0],
    lives: [5, 0, 0, 0, 0],
    in: [5, 0, 0, 0, 0],
    new: [0, 0, 0, 5, 1],
    york: [0, 0, 0, 1, 4],
  };
  const ner = () => {
    const tokenizer = bert();
    return new TokenClassificationPipeline(
      new StandIn(config, tokenizer, (tok) => logitsFor[tok] ?? [9, 0, 0, 0, 0]) as never,
      tokenizer,
    );
  };
  const p = (token: string, label: string) => softmaxAt(logitsFor[token]!, labels.indexOf(label));

  it("'none': one entry per token that is not O, with its index in the model input and its character span", async () => {
    const entities = (await ner()(text)) as TokenEntity[];
    expect(entities.map((e) => [e.entity, e.index, e.word, e.start, e.end])).toEqual([
      ['B-PER', 1, 'sarah', 0, 5],
      ['I-PER', 2, 'naive', 6, 11],
      ['B-LOC', 6, 'new', 23, 26],
      ['I-LOC', 7, 'york', 27, 31],
    ]);
    expect(entities[0]!.score).toBeCloseTo(p('sarah', 'B-PER'), 6);
  });

  it("'simple': B-/I- runs grouped (mean score); the O-labelled ##te splits the person", async () => {
    const groups = (await ner()(text, { aggregationStrategy: 'simple' })) as GroupedEntity[];
    expect(groups.map((g) => [g.entity_group, g.word, g.start, g.end])).toEqual([
      ['PER', 'sarah naive', 0, 11],
      ['LOC', 'new york', 23, 31],
    ]);
    expect(groups[0]!.score).toBeCloseTo((p('sarah', 'B-PER') + p('naive', 'I-PER')) / 2, 6);
  });

  it("'first', 'average', 'max': words labelled as a whole before grouping", async () => {
    const first = (await ner()(text, { aggregationStrategy: 'first' })) as GroupedEntity[];
    expect(first.map((g) => [g.entity_group, g.word, g.start, g.end])).toEqual([
      ['PER', 'sarah naivete', 0, 13],
      ['LOC', 'new york', 23, 31],
    ]);
    expect(first[0]!.score).toBeCloseTo((p('sarah', 'B-PER') + p('naive', 'I-PER')) / 2, 6);
    // average of naive and ##te: I-PER wins; its score is the averaged probability.
    const average = (await ner()(text, { aggregationStrategy: 'average' })) as GroupedEntity[];
    const naiveteIPer = (p('naive', 'I-PER') + p('##te', 'I-PER')) / 2;
    expect(average[0]!.score).toBeCloseTo((p('sarah', 'B-PER') + naiveteIPer) / 2, 6);
    // max: the more confident of naive (I-PER 0.9…) and ##te (O 0.6…) decides.
    const max = (await ner()(text, { aggregationStrategy: 'max' })) as GroupedEntity[];
    expect(max[0]!.word).toBe('sarah naivete');
  });

  it('refuses an unknown strategy, naming the choices', async () => {
    await expect(ner()(text, { aggregationStrategy: 'mean' as never })).rejects.toThrow(
      /none, simple, first, average, max/,
    );
  });
});

describe('pipelines from checkpoint folders', () => {
  it("pipeline('question-answering', folder) answers with the span a brute-force search over the model's logits picks", async () => {
    const dir = await tinyQuestionAnswering();
    const qa = await pipeline('question-answering', dir);
    const [question, context] = ['the movie was good ?', 'i love this film , it was great fun and not boring .'];
    const answer = (await qa({ question, context })) as Answer;
    expect(context.slice(answer.start, answer.end)).toBe(answer.answer);
    // Reference: every context span of at most 15 tokens scored from the model's own logits.
    const model = await AutoModelForQuestionAnswering.fromPretrained(dir);
    const tokenizer = AutoTokenizer.fromDirectory(dir);
    const enc = tokenizer.encode(question, { textPair: context, returnTensors: true });
    const out = noGrad(() => model.forward(enc));
    const types = Array.from(enc.tokenTypeIds.data);
    const isContext = types.map((t, i) => t === 1 && i < types.length - 1);
    const probs = (row: Float32Array) => {
      const masked = Array.from(row, (v, i) => (isContext[i] || i === 0 ? v : -10000));
      return masked.map((_, i) => (i === 0 ? 0 : softmaxAt(masked, i)));
    };
    const [ps, pe] = [probs(out.startLogits.data as Float32Array), probs(out.endLogits.data as Float32Array)];
    let best = 0;
    for (let s = 0; s < ps.length; s++)
      for (let e = s; e < Math.min(pe.length, s + 15); e++)
        if (isContext[s] && isContext[e]) best = Math.max(best, ps[s]! * pe[e]!);
    expect(answer.score).toBeCloseTo(best, 6);
    qa.dispose();
  });

  it("pipeline('ner', folder) labels tokens with the folder's labels", async () => {
    const dir = await tinyTokenClassifier();
    const ner = await pipeline('ner', dir);
    const entities = (await ner('the cat sat on the mat', { ignoreLabels: [] })) as TokenEntity[];
    expect(entities.map((e) => e.word)).toEqual(['the', 'cat', 'sat', 'on', 'the', 'mat']);
    expect(entities.every((e) => ['O', 'B-X', 'I-X'].includes(e.entity))).toBe(true);
    ner.dispose();
  });
});
