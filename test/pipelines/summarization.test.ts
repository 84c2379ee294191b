// Summarization: the extractive default (splitting, selection, rendering, bad input, the shipped sentence encoder on
// the README example and a DialogSum-style dialogue) and the abstractive path on the Hugging Face BART/T5 goldens.
import { copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { AutoModelForSeq2SeqLM } from '../../src/models/auto/index.js';
import {
  ExtractiveSummarizationPipeline,
  FeatureExtractionPipeline,
  MAX_CANDIDATES,
  pipeline,
  selectSentences,
  splitSentences,
  type SummarizationResult,
} from '../../src/pipelines/index.js';
import { leansOnEarlierText, splitForSummary } from '../../src/pipelines/summary-units.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { templateProcessing } from '../../src/tokenizers/post-process.js';
import { installedModelsDir } from '../../src/pipelines/load.js';
import { describeWithFiles } from '../helpers/shared.js';
import { goldenCase, goldenPath } from '../models/golden.js';
import { tinyEncoder } from './tiny-models.js';

const README_TEXT =
  'Anna moved to Berlin last spring. She found a flat near the river. Her new job at a bakery starts at five in the ' +
  'morning. On weekends she explores the city by bike.';

const DIALOGUE = [
  '#Person1#: Hello, how are you doing today?',
  "#Person2#: I've been having trouble breathing lately.",
  '#Person1#: Have you had any type of cold lately?',
  "#Person2#: No, I haven't had a cold. I just have a heavy feeling in my chest when I try to breathe.",
  '#Person1#: I am going to send you to a pulmonary specialist who can run tests on you for asthma.',
  '#Person2#: Thank you for your help, doctor.',
].join('\n');

describe('splitting a text into sentences and turns', () => {
  it('reads "#Person1#:" and "Amanda:" lines as turns, with readable speakers and exact spans', () => {
    const split = splitForSummary(DIALOGUE);
    expect(split.dialogue).toBe(true);
    expect(split.blocks.map((b) => b.speaker)).toEqual([
      'Person1',
      'Person2',
      'Person1',
      'Person2',
      'Person1',
      'Person2',
    ]);
    expect(split.units).toHaveLength(7); // the fourth turn has two sentences
    expect(split.units.map((u) => u.block)).toEqual([0, 1, 2, 3, 3, 4, 5]);
    for (const unit of split.units) expect(DIALOGUE.slice(unit.start, unit.end)).toBe(unit.text);
    expect(split.units[4]!.text).toBe('I just have a heavy feeling in my chest when I try to breathe.');

    const chat =
      'Amanda: I baked cookies. Do you want some?\nJerry: Sure!\nand some milk too\nAmanda: I will bring you some tomorrow :-)';
    const named = splitForSummary(chat);
    expect(named.blocks.map((b) => [b.speaker, b.text])).toEqual([
      ['Amanda', 'I baked cookies. Do you want some?'],
      ['Jerry', 'Sure!\nand some milk too'], // an untagged line continues the turn before it
      ['Amanda', 'I will bring you some tomorrow :-)'],
    ]);
  });

  it('reads prose (and a lone "Note:" line) as sentences, each its own block', () => {
    const split = splitForSummary(README_TEXT);
    expect(split.dialogue).toBe(false);
    expect(split.units.map((u) => u.text)).toEqual(splitSentences(README_TEXT));
    expect(split.units.map((u) => u.block)).toEqual([0, 1, 2, 3]);
    expect(splitForSummary('Note: the shop is closed.\nIt opens again on Monday. Prices stay the same.').dialogue).toBe(
      false,
    );
  });

  it('splits sentences at end punctuation and line breaks, not after abbreviations or initials', () => {
    expect(splitSentences('Dr. Smith met J. Doe. They talked!  Then "Why?" she asked.\nNew line')).toEqual([
      'Dr. Smith met J. Doe.',
      'They talked!',
      'Then "Why?" she asked.',
      'New line',
    ]);
    expect(splitSentences('오늘은 좋다. 내일은?')).toEqual(['오늘은 좋다.', '내일은?']);
    // A run without end punctuation is cut at spaces into pieces of at most MAX_SENTENCE_CHARS.
    const run = 'abcdefghi '.repeat(250).trim();
    const pieces = splitSentences(run);
    expect(pieces.map((p) => p.length)).toEqual([999, 999, 499]);
    expect(pieces.join(' ')).toBe(run);
  });

  it('knows which sentences lean on an earlier one', () => {
    expect(README_TEXT.split('. ').map(leansOnEarlierText)).toEqual([false, true, true, true]);
    expect(leansOnEarlierText('When Anna arrived, she was tired.')).toBe(false); // named before the pronoun
    expect(leansOnEarlierText('This changed everything.')).toBe(true);
    expect(leansOnEarlierText('I think you are right.')).toBe(false);
  });
});

/** Unit vectors in the plane at these angles (degrees). */
const plane = (...degrees: number[]) =>
  degrees.map((d) => Float32Array.of(Math.cos((d * Math.PI) / 180), Math.sin((d * Math.PI) / 180)));

describe('choosing sentences (maximal marginal relevance within a length budget)', () => {
  // Centre along 0°: relevance_i = cos(angle_i) + 0.3 (1 - position_i); score = 0.7 relevance - 0.3 max cos to kept.
  const base = {
    vectors: plane(10, 12, 60, 0),
    centre: Float32Array.of(1, 0),
    positions: [0, 1 / 3, 2 / 3, 1],
    lengths: [5, 5, 5, 5],
    leansBack: [false, false, false, false],
    words: [5, 5, 5, 5],
  };

  it('takes the most relevant sentence, then trades relevance against redundancy (hand-computed)', () => {
    // First: relevance 1.285, 1.178, 0.6, 1.0 → sentence 0. Then sentence 1 scores 0.7·1.178 − 0.3·cos 2° = 0.525,
    // sentence 2 0.7·0.6 − 0.3·cos 50° = 0.227, sentence 3 0.7·1.0 − 0.3·cos 10° = 0.405 → sentence 1.
    expect(selectSentences(base, { target: 10, minLength: 1, maxLength: 20 })).toEqual([0, 1]);
    // Three equally relevant sentences at +20°, +20°, −20°: after the first, its duplicate scores 0.868 − 0.3 and
    // the one at −20° 0.868 − 0.3·cos 40° = 0.638, so redundancy decides.
    const mirrored = {
      ...base,
      vectors: plane(20, 20, -20),
      positions: [0, 0, 0],
      lengths: [5, 5, 5],
      leansBack: [false, false, false],
      words: [5, 5, 5],
    };
    expect(selectSentences(mirrored, { target: 10, minLength: 1, maxLength: 20 })).toEqual([0, 2]);
  });

  it('keeps to the budget: target, minLength, maxLength, a sentence count', () => {
    const sized = { ...base, lengths: [4, 30, 4, 4] };
    expect(selectSentences(sized, { target: 8, minLength: 1, maxLength: 40 })).toEqual([0, 3]); // 1 is too long for 8
    expect(selectSentences(sized, { target: 3, minLength: 1, maxLength: 40 })).toEqual([0]); // the first may overshoot
    expect(selectSentences(sized, { target: 3, minLength: 10, maxLength: 40 })).toEqual([0, 1]); // filled up to 10
    expect(selectSentences(sized, { target: 3, minLength: 1, maxLength: 40, count: 3 })).toEqual([0, 1, 3]);
    expect(
      selectSentences({ ...sized, lengths: [50, 50, 50, 50] }, { target: 3, minLength: 1, maxLength: 40 }),
    ).toEqual([]);
    // Sentences of fewer than four words ("Yes!") are passed over; when all are that short, the longest qualify.
    expect(selectSentences({ ...base, words: [5, 2, 5, 5] }, { target: 10, minLength: 1, maxLength: 20 })).toEqual([
      0, 3,
    ]);
    expect(selectSentences({ ...base, words: [1, 2, 1, 2] }, { target: 10, minLength: 1, maxLength: 20 })).toEqual([
      1, 3,
    ]);
  });

  it('keeps a question with the start of its answer when it fits in maxLength', () => {
    const replies = [2, undefined, undefined, undefined];
    expect(selectSentences({ ...base, replies }, { target: 5, minLength: 1, maxLength: 20 })).toEqual([0, 2]);
    expect(selectSentences({ ...base, replies }, { target: 5, minLength: 1, maxLength: 9 })).toEqual([0]);
    expect(selectSentences({ ...base, replies }, { target: 5, minLength: 1, maxLength: 20, count: 1 })).toEqual([0]);
  });

  it('never opens with a sentence that leans on one it left out: brings that one in, or gives the leaner up', () => {
    const leaning = { ...base, vectors: plane(80, 0, 10, 70), leansBack: [false, true, true, false] };
    // By score, sentences 1 and 2 would be kept; 1 leans on 0, which is brought in.
    expect(selectSentences(leaning, { target: 10, minLength: 1, maxLength: 20 })).toEqual([0, 1, 2]);
    // With no room for sentence 0 beside 1, the least relevant other sentence (2) makes room for it.
    expect(selectSentences(leaning, { target: 10, minLength: 1, maxLength: 10 })).toEqual([0, 1]);
    expect(selectSentences(leaning, { target: 10, minLength: 1, maxLength: Infinity, count: 2 })).toEqual([0, 1]);
    // When sentence 0 cannot fit at all, sentence 1 is given up, then 2 (leaning on 1); 3 leans on nothing.
    const longFirst = { ...leaning, lengths: [30, 5, 5, 5] };
    expect(selectSentences(longFirst, { target: 10, minLength: 1, maxLength: 10 })).toEqual([3]);
  });
});

describe('extractive summarization through the pipeline (tiny encoder)', () => {
  let summarize: ExtractiveSummarizationPipeline;
  let encoder: FeatureExtractionPipeline;
  beforeAll(async () => {
    const dir = await tinyEncoder();
    summarize = (await pipeline('summarization', dir)) as ExtractiveSummarizationPipeline;
    encoder = await pipeline('feature-extraction', dir);
  });

  it('renders speakers by name, in text order, with the kept units and their spans', async () => {
    const [result] = await summarize(DIALOGUE);
    expect(result!.method).toBe('extractive');
    expect(result!.summary_text).not.toMatch(/#/);
    const units = result!.units!;
    expect(units.length).toBeGreaterThan(0);
    expect(units.map((u) => u.index)).toEqual([...units.map((u) => u.index)].sort((a, b) => a - b));
    // The summary is exactly the kept spans, each run of one turn introduced by its speaker.
    const split = splitForSummary(DIALOGUE);
    let expected = '';
    let block = -1;
    for (const u of units) {
      const unit = split.units[u.index]!;
      expect([u.start, u.end, u.speaker]).toEqual([unit.start, unit.end, split.blocks[unit.block]!.speaker]);
      expected +=
        (expected ? ' ' : '') + (unit.block !== block ? `${u.speaker}: ` : '') + DIALOGUE.slice(u.start, u.end);
      block = unit.block;
    }
    expect(result!.summary_text).toBe(expected);
  });

  it('answers one sentence with itself, and a batch with a result per text', async () => {
    expect(await summarize('just one sentence here')).toEqual([
      { summary_text: 'just one sentence here', method: 'extractive', units: [{ index: 0, start: 0, end: 22 }] },
    ]);
    const batch = await summarize(['the cat sat on the mat.', DIALOGUE]);
    expect(batch).toHaveLength(2);
    expect(batch[0]!.summary_text).toBe('the cat sat on the mat.');
  });

  it('refuses bad input and options with a message naming them', async () => {
    await expect(summarize('   ')).rejects.toThrow('text is empty');
    await expect(summarize(README_TEXT, { numBeams: 4 })).rejects.toThrow(
      'numBeams does not apply to extractive summarization',
    );
    await expect(summarize(README_TEXT, { ratio: 1.5 })).rejects.toThrow('ratio must be a number in (0, 1], got 1.5');
    await expect(summarize(README_TEXT, { maxLength: 0 })).rejects.toThrow(
      'maxLength must be a whole number >= 1, got 0',
    );
    await expect(summarize(README_TEXT, { minLength: 30, maxLength: 20 })).rejects.toThrow(
      'minLength (30) must not exceed maxLength (20)',
    );
    await expect(summarize(README_TEXT, { numSentences: 0 })).rejects.toThrow(
      'numSentences must be a whole number >= 1',
    );
  });

  it('cuts a sentence longer than maxLength at a word, rather than overshooting', async () => {
    const long = Array.from({ length: 60 }, (_, i) => (i % 2 ? 'cat' : 'dog')).join(' ') + '.';
    const [result] = await summarize(long, { maxLength: 10 });
    expect(result!.summary_text.endsWith('…')).toBe(true);
    expect(
      encoder.tokenizer.encodeIds(result!.summary_text.slice(0, -1), { addSpecialTokens: false }).length,
    ).toBeLessThanOrEqual(10);
    expect(result!.units).toEqual([{ index: 0, start: 0, end: result!.summary_text.length - 1 }]);
  });

  it('summarizes a megabyte embedding a bounded number of sentences, and a megabyte without punctuation', async () => {
    const words = 'the cat dog sat on mat and a film story was good bad fun team won lost vote law music game'.split(
      ' ',
    );
    let seed = 7;
    const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
    const sentence = () =>
      Array.from({ length: 8 + Math.floor(random() * 10) }, () => words[Math.floor(random() * words.length)]).join(
        ' ',
      ) + '.';
    let text = '';
    while (text.length < 1_000_000) text += sentence() + (random() < 0.1 ? '\n' : ' ');
    let embedded = 0;
    const counting = Object.assign(Object.create(Object.getPrototypeOf(encoder)), encoder) as FeatureExtractionPipeline;
    counting.embed = (texts: string[]) => ((embedded += texts.length), encoder.embed(texts));
    const bounded = new ExtractiveSummarizationPipeline(counting);
    const [result] = await bounded(text);
    expect(splitForSummary(text).units.length).toBeGreaterThan(10_000);
    expect(embedded).toBeLessThanOrEqual(MAX_CANDIDATES);
    expect(encoder.tokenizer.encodeIds(result!.summary_text, { addSpecialTokens: false }).length).toBeLessThanOrEqual(
      80,
    );

    const [unbroken] = await summarize('cat '.repeat(250_000));
    expect(unbroken!.summary_text).toMatch(/^cat( cat)+…$/);
  }, 120_000);
});

describeWithFiles(
  'the default summarizer (models/use-lite)',
  [join(installedModelsDir, 'use-lite', 'config.json')],
  () => {
    let summarize: ExtractiveSummarizationPipeline;
    beforeAll(async () => {
      summarize = (await pipeline('summarization')) as ExtractiveSummarizationPipeline;
    });

    it("never opens the README example's summary with a pronoun that refers to nothing", async () => {
      for (const options of [{}, { numSentences: 1 }, { numSentences: 2 }, { maxLength: 12 }, { ratio: 0.6 }]) {
        const [result] = await summarize(README_TEXT, options);
        expect(result!.summary_text, JSON.stringify(options)).toMatch(/^Anna moved to Berlin last spring\./);
      }
    });

    it('summarizes a dialogue as turns by name, within the default budget', async () => {
      const [result] = (await summarize(DIALOGUE)) as SummarizationResult[];
      expect(result!.summary_text).toMatch(/^Person[12]: /);
      expect(result!.summary_text).not.toContain('#');
      expect(result!.summary_text).toContain('Person2: ');
      expect(
        summarize.tokenizer.encodeIds(result!.summary_text, { addSpecialTokens: false }).length,
      ).toBeLessThanOrEqual(80 + 2 * result!.units!.length);
    });
  },
);

/**
 * A model folder from a golden case with a word-level tokenizer whose words are the ids ("w583" = 583), so a text
 * encodes to exactly the golden's input ids, and generated ids decode to words that name them.
 */
function goldenFolder(name: string, specials: Record<string, number>, template: string): string {
  const dir = mkdtempSync(join(tmpdir(), `attn-summarize-${name}-`));
  for (const file of ['config.json', 'generation_config.json', 'model.safetensors'])
    copyFileSync(goldenPath(name, 'model', file), join(dir, file));
  const byId = Object.fromEntries(Object.entries(specials).map(([token, id]) => [id, token]));
  const vocab = Object.fromEntries(Array.from({ length: 600 }, (_, id) => [byId[id] ?? `w${id}`, id]));
  const addedTokens = Object.entries(specials).map(([content, id]) => ({
    id,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const tokenizer = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: { type: 'WhitespaceSplit' },
    post_processor: templateProcessing(template, `${template} $B`, vocab),
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: Object.keys(specials)[0] },
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  const special = (id: number) => byId[id];
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      pad_token: special(name === 't5' ? 0 : 1),
      eos_token: special(name === 't5' ? 1 : 2),
      model_max_length: 64,
    }),
  );
  return dir;
}

describe('abstractive summarization on the Hugging Face BART and T5 goldens', () => {
  const cases = {
    bart: { specials: { '<s>': 0, '<pad>': 1, '</s>': 2 }, template: '<s> $A </s>' },
    t5: { specials: { '<pad>': 0, '</s>': 1, '<unk>': 2 }, template: '$A </s>' },
  };
  for (const [name, { specials, template }] of Object.entries(cases)) {
    it(`${name}: greedy and beam summaries are transformers' ids; decoding options reach generate`, async () => {
      const dir = goldenFolder(name, specials, template);
      const { inputs, expected } = goldenCase(name);
      const texts = (inputs.input_ids as number[][]).map((row, r) =>
        row
          .filter((id, t) => inputs.attention_mask[r][t] === 1 && !Object.values(specials).includes(id))
          .map((id) => `w${id}`)
          .join(' '),
      );
      const summarize = await pipeline('summarization', dir);
      const tokenizer = await AutoTokenizer.fromPretrained(dir);
      expect(tokenizer.encode(texts, { padding: true }).inputIds).toEqual(inputs.input_ids);
      const words = (rows: number[][]) => rows.map((row) => tokenizer.decode(row, { skipSpecialTokens: true }).trim());
      const greedy = await summarize(texts, { maxNewTokens: 12 });
      expect(greedy).toEqual(
        words(expected.generate.sequences).map((summary_text) => ({ summary_text, method: 'abstractive' })),
      );
      const beam = await summarize(texts, { maxNewTokens: 12, numBeams: 4 });
      expect(beam.map((r) => r.summary_text)).toEqual(words(expected.generate_beam.sequences));

      // Options the goldens do not cover give what `generate` (checked against transformers in test/generation) gives.
      const options = { maxNewTokens: 12, minLength: 6, numBeams: 3, noRepeatNgramSize: 2, lengthPenalty: 2 };
      const model = await AutoModelForSeq2SeqLM.fromPretrained(dir);
      const direct = generate(model as never, tokenizer.encode([texts[0]!]).inputIds, options);
      expect((await summarize(texts[0]!, options))[0]!.summary_text).toBe(words(direct.sequences)[0]);
      await expect(summarize(texts[0]!, { ratio: 0.3 })).rejects.toThrow('ratio is for extractive summarization');
    });
  }
});
