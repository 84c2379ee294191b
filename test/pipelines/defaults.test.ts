// The default models attn ships (models/<name>), checked on real text. Each suite runs where its folder is
// installed and is skipped, with a message naming the missing folder, where it is not.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { corpusBleu } from '../../src/metrics/bleu.js';
import {
  DEFAULT_MODELS,
  installedModelsDir,
  pipeline,
  type ClassificationLabel,
  type Task,
  type TextClassificationPipeline,
  type ZeroShotResult,
} from '../../src/pipelines/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { describeWithFiles, sharedPath } from '../helpers/shared.js';

function describeWithDefault(task: Task, lang: string, name: string, fn: () => void, sharedFiles: string[] = []): void {
  const folder = join(installedModelsDir, DEFAULT_MODELS[task][lang] ?? `(no ${lang} default)`);
  describeWithFiles(name, [join(folder, 'config.json'), ...sharedFiles.map((f) => sharedPath(f))], fn);
}

const positive = (label: string) => /^(pos|label_1$|1$)/i.test(label);

/** The [text, label] rows of a TSV with a header line (text first, label 0 or 1 second), the first `limit` of them. */
function labelledRows(path: string, limit = Infinity): Array<[string, string]> {
  return readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .slice(1, 1 + limit)
    .map((line) => line.split('\t') as [string, string]);
}

/** The share of `rows` the classifier labels right. */
async function accuracyOn(classify: TextClassificationPipeline, rows: Array<[string, string]>): Promise<number> {
  const labels = (await classify(rows.map(([text]) => text))) as ClassificationLabel[];
  return labels.filter((l, i) => (positive(l.label) ? '1' : '0') === rows[i]![1]).length / rows.length;
}

/** The texts of `cases` ([text, is positive]) the classifier gets wrong. */
async function misclassified(classify: TextClassificationPipeline, cases: Array<[string, boolean]>): Promise<string[]> {
  const labels = (await classify(cases.map(([text]) => text))) as ClassificationLabel[];
  return cases.filter(([, isPositive], i) => positive(labels[i]!.label) !== isPositive).map(([text]) => text);
}

describeWithDefault('text-classification', 'en', 'default English sentiment model', () => {
  it('labels 20 clear-cut sentences correctly', async () => {
    const classify = await pipeline('sentiment-analysis');
    const cases: Array<[string, boolean]> = [
      ['I love this movie, it is wonderful.', true],
      ['An absolute masterpiece, beautifully acted.', true],
      ['One of the best films I have ever seen.', true],
      ['A delightful, charming and funny story.', true],
      ['The performances are brilliant and moving.', true],
      ['I enjoyed every minute of it.', true],
      ['A great movie with a superb cast.', true],
      ['Heartwarming and full of joy.', true],
      ['It is a triumph, smart and touching.', true],
      ['Excellent, I would happily watch it again.', true],
      ['This movie is terrible and boring.', false],
      ['The worst film I have ever seen.', false],
      ['A dull, lifeless and tedious mess.', false],
      ['I hated every minute of it.', false],
      ['The acting is awful and the plot is stupid.', false],
      ['A complete waste of time and money.', false],
      ['Painfully bad, with no redeeming qualities.', false],
      ['Boring, predictable and far too long.', false],
      ['The script is a disaster and the jokes fall flat.', false],
      ['Ugly, pointless and badly made.', false],
    ];
    expect(await misclassified(classify, cases)).toEqual([]);
    classify.dispose();
  });

  it('scores real review sentences no one here wrote as its card says (UCI: Amazon phones, IMDB, Yelp)', async () => {
    const classify = await pipeline('sentiment-analysis', undefined, { onWarning: () => undefined });
    const accuracy = (site: string): Promise<number> =>
      accuracyOn(classify, labelledRows(join(projectRoot, 'test', 'fixtures', 'sentiment', `uci-${site}.tsv`)));
    expect(await accuracy('amazon')).toBeCloseTo(0.878, 2);
    expect(await accuracy('imdb')).toBeCloseTo(0.889, 2);
    expect(await accuracy('yelp')).toBeCloseTo(0.884, 2);
    classify.dispose();
  });
});

describeWithDefault('text-classification', 'ko', 'default Korean sentiment model', () => {
  it('labels clear-cut Korean reviews correctly when asked for lang ko', async () => {
    const classify = await pipeline('sentiment-analysis', undefined, { lang: 'ko' });
    const cases: Array<[string, boolean]> = [
      ['정말 재미있고 감동적인 영화였어요', true],
      ['최고의 영화, 배우들 연기가 너무 좋다', true],
      ['다시 보고 싶은 명작입니다', true],
      ['완전 강추합니다 너무 좋았어요', true],
      ['너무 지루하고 재미없다', false],
      ['시간 낭비, 최악의 영화', false],
      ['돈이 아깝다 정말 별로', false],
      ['스토리도 엉망이고 연기도 형편없다', false],
    ];
    expect(await misclassified(classify, cases)).toEqual([]);
  });
});

describeWithDefault(
  'text-classification',
  'ko',
  'default Korean sentiment model on NSMC dev.tsv',
  () => {
    it('scores the first 1,000 dev reviews as its card says: the n-gram head lifts the BERT (0.876 against 0.855)', async () => {
      const rows = labelledRows(sharedPath('data', 'nsmc', 'dev.tsv'), 1000);
      const accuracy = async (ngramHead: boolean): Promise<number> =>
        accuracyOn(
          await pipeline('sentiment-analysis', undefined, { lang: 'ko', ngramHead, onWarning: () => undefined }),
          rows,
        );
      const ensemble = await accuracy(true);
      const bertAlone = await accuracy(false);
      expect(ensemble).toBeCloseTo(0.876, 2);
      expect(bertAlone).toBeCloseTo(0.855, 2);
    });
  },
  ['data/nsmc/dev.tsv'],
);

describeWithDefault(
  'translation',
  'de-en',
  'default German→English translation model',
  () => {
    it('translates 5 Multi30k validation sentences with BLEU above 28', async () => {
      const read = (file: string) =>
        readFileSync(sharedPath('data', 'multi30k', file), 'utf8')
          .split('\n')
          .slice(0, 5);
      const translate = await pipeline('translation_de_to_en');
      const output = await translate(read('val.de'));
      const bleu = corpusBleu(
        output.map((o) => o.translation_text),
        read('val.en'),
      );
      console.log(`[attn tests] default de→en BLEU on 5 Multi30k validation sentences: ${bleu.score.toFixed(1)}`);
      expect(bleu.score).toBeGreaterThan(28);
    });
  },
  ['data/multi30k/val.de', 'data/multi30k/val.en'],
);

describeWithDefault('text-generation', 'en', 'default story generator', () => {
  it('continues a story prompt in English words, reproducibly with a seed', async () => {
    const generate = await pipeline('text-generation');
    const [greedy] = await generate('Once upon a time', { maxNewTokens: 30 });
    expect(greedy!.generated_text.startsWith('Once upon a time')).toBe(true);
    const continuation = greedy!.generated_text.slice('Once upon a time'.length);
    expect(continuation.match(/\b(the|a|and|was|she|he|to)\b/gi)?.length ?? 0).toBeGreaterThan(2);
    const sample = () => generate('Once upon a time', { maxNewTokens: 20, doSample: true, temperature: 0.8, seed: 5 });
    expect(await sample()).toEqual(await sample());
  });
});

describeWithDefault(
  'feature-extraction',
  'en',
  'default sentence encoder (feature extraction, zero-shot, summarization)',
  () => {
    it('embeds sentences as 512-d unit vectors, similar sentences nearer than unrelated ones', async () => {
      const extract = await pipeline('feature-extraction');
      const [cat, kitten, stocks] = (await extract(
        ['A cat sleeps on the sofa.', 'A kitten is napping on the couch.', 'Stock markets fell sharply today.'],
        { normalize: true },
      )) as number[][];
      const cosine = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);
      expect(cat).toHaveLength(512);
      expect(cosine(cat!, cat!)).toBeCloseTo(1, 5);
      expect(cosine(cat!, kitten!)).toBeGreaterThan(cosine(cat!, stocks!) + 0.1);
    });

    it('classifies news-like sentences zero-shot by similarity', async () => {
      const classify = await pipeline('zero-shot-classification');
      const cases: Array<[string, string]> = [
        ['The striker scored twice as the home team won the cup final.', 'sports'],
        ['The tennis champion lost in the first round of the tournament.', 'sports'],
        ['Shares of the bank rose after its quarterly profits beat forecasts.', 'business'],
        ['The company announced a merger worth two billion dollars.', 'business'],
        ['The president met foreign leaders to discuss the peace treaty.', 'politics'],
        ['Parliament voted on the new election law.', 'politics'],
        ['Astronomers discovered a new planet orbiting a distant star.', 'science'],
        ['Researchers developed a faster computer chip using new materials.', 'science'],
      ];
      const results = (await classify(
        cases.map(([text]) => text),
        { candidateLabels: ['sports', 'business', 'politics', 'science'] },
      )) as ZeroShotResult[];
      const right = results.filter((r, i) => r.labels[0] === cases[i]![1]).length;
      expect(right).toBeGreaterThanOrEqual(6);
    });

    it('summarizes extractively, keeping central sentences in order and saying so', async () => {
      const summarize = await pipeline('summarization');
      const text =
        'The city council met on Monday to discuss the new park. Residents had complained about the lack of green space for years. ' +
        'After a long debate, the council voted to fund the park. Construction of the park will begin in the spring. My neighbour bought a red bicycle.';
      const [result] = await summarize(text, { numSentences: 2 });
      expect(result!.method).toBe('extractive');
      expect(result!.units).toHaveLength(2);
      expect(result!.units!.map((u) => u.index)).not.toContain(4);
    });
  },
);
