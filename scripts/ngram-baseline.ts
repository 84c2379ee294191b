/**
 * The n-gram classifier of scripts/ngram-teacher.ts as a baseline for the Korean default: trained on NSMC's
 * train.tsv less the same stratified 5% that train-sentiment.ts holds out (seed 42), scored on that 5%
 * (validation) and on dev.tsv, alone and, with --with, in a mean-logit ensemble with a classifier folder read through
 * the pipeline. The ensemble weighs the two logits by weights chosen on validation; dev.tsv only reports.
 *
 *   npx tsx scripts/ngram-baseline.ts [--with models/sentiment-ko]
 */
import '../src/backends/register.js';
import type { Dataset } from '../src/data/index.js';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { trainNgramClassifier } from './ngram-teacher.js';
import { nsmcSplit, option } from './train-common.js';

const withModel = option('with', '');
const started = performance.now();
const { train, validation, dev } = await nsmcSplit(42);
const labelsOf = (d: Dataset): number[] => (d.column('label') as unknown[]).map(Number);
const score = trainNgramClassifier(train.column('text') as string[], labelsOf(train));
const trainSeconds = (performance.now() - started) / 1000;

/** Accuracy of logits (positive minus negative) against a split's labels. */
const accuracy = (logits: number[], d: Dataset): number => {
  const labels = labelsOf(d);
  return logits.filter((z, i) => (z > 0 ? 1 : 0) === labels[i]).length / labels.length;
};
const texts = { validation: validation.column('text') as string[], dev: dev.column('text') as string[] };
const ngramLogits = { validation: texts.validation.map(score), dev: texts.dev.map(score) };
const round = (x: number): number => Number(x.toFixed(4));
console.log(
  JSON.stringify({
    model: 'ngram',
    validation: round(accuracy(ngramLogits.validation, validation)),
    nsmc_dev: round(accuracy(ngramLogits.dev, dev)),
    trainSeconds: round(trainSeconds),
  }),
);

if (withModel) {
  const classify = await pipeline('sentiment-analysis', withModel, { batchSize: 128 });
  const logitsOf = async (texts: string[]): Promise<number[]> => {
    const scored = (await classify(texts, { topK: null })) as unknown as ClassificationLabel[][];
    return scored.map((labels) => {
      const p = Math.min(Math.max(labels.find((l) => l.label === 'positive')!.score, 1e-7), 1 - 1e-7);
      return Math.log(p / (1 - p));
    });
  };
  const modelLogits = { validation: await logitsOf(texts.validation), dev: await logitsOf(texts.dev) };
  const mix = (weight: number, split: 'validation' | 'dev'): number[] =>
    modelLogits[split].map((z, i) => weight * z + (1 - weight) * ngramLogits[split][i]!);
  // The model's share of the mean logit, chosen on validation in steps of 0.05.
  const scored = Array.from({ length: 21 }, (_, i) => ({
    weight: i / 20,
    validation: accuracy(mix(i / 20, 'validation'), validation),
  }));
  const best = scored.reduce((a, b) => (b.validation > a.validation ? b : a)).weight;
  console.log(
    JSON.stringify({
      model: `${withModel} alone`,
      validation: round(accuracy(modelLogits.validation, validation)),
      nsmc_dev: round(accuracy(modelLogits.dev, dev)),
    }),
  );
  for (const weight of [0.5, best])
    console.log(
      JSON.stringify({
        model: `ensemble: ${weight} × ${withModel} + ${1 - weight} × ngram${weight === best ? ' (weight chosen on validation)' : ''}`,
        validation: round(accuracy(mix(weight, 'validation'), validation)),
        nsmc_dev: round(accuracy(mix(weight, 'dev'), dev)),
      }),
    );
}
