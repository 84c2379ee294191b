/**
 * The Korean default's n-gram head (src/models/ngram/modeling_ngram.ts): the n-gram classifier of
 * scripts/ngram-teacher.ts trained on NSMC's train.tsv less the same stratified 5% that train-sentiment.ts holds out
 * (seed 42), scored on that 5% (validation) and on dev.tsv, alone and, with --with, in a weighted-logit ensemble with
 * a classifier folder's transformer (read through the pipeline without any head it already has). The n-grams' share
 * of the ensemble's logit is chosen on validation and dev.tsv together, and dev.tsv's figure is cross-validated; the
 * temperature is chosen on validation. --save yes writes the head into the --with folder (ngram_head.safetensors and
 * config.json's ngram_head) and scores the folder again through the pipeline.
 *
 *   npx tsx scripts/train-ngram-head.ts [--with models/sentiment-ko [--save yes]] [--hash-bits 23]
 */
import '../src/backends/register.js';
import type { Dataset } from '../src/data/index.js';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { writeNgramHeadEntry } from '../src/models/ngram/modeling_ngram.js';
import { trainNgramClassifier } from './ngram-teacher.js';
import { nsmcSplit, option, softplus } from './train-common.js';

const withModel = option('with', '');
const save = option('save', 'no') === 'yes';
const hashBits = option('hash-bits', 23);
if (save && !withModel) throw new RangeError('--save yes writes the head into the --with folder: pass --with DIR');
const started = performance.now();
const { train, validation, dev } = await nsmcSplit(42);
const labelsOf = (d: Dataset): number[] => (d.column('label') as unknown[]).map(Number);
const classifier = trainNgramClassifier(train.column('text') as string[], labelsOf(train), { hashBits });
const trainSeconds = (performance.now() - started) / 1000;

/** Accuracy of logits (positive minus negative) against a split's labels. */
const accuracy = (logits: number[], d: Dataset): number => {
  const labels = labelsOf(d);
  return logits.filter((z, i) => (z > 0 ? 1 : 0) === labels[i]).length / labels.length;
};
const texts = { validation: validation.column('text') as string[], dev: dev.column('text') as string[] };
const ngramLogits = {
  validation: texts.validation.map((t) => classifier.logit(t)),
  dev: texts.dev.map((t) => classifier.logit(t)),
};
const round = (x: number): number => Number(x.toFixed(4));
console.log(
  JSON.stringify({
    model: `ngram (2^${hashBits} int8)`,
    validation: round(accuracy(ngramLogits.validation, validation)),
    nsmc_dev: round(accuracy(ngramLogits.dev, dev)),
    trainSeconds: round(trainSeconds),
  }),
);

/** A folder's logits (positive minus negative) through the pipeline, with or without its n-gram head. */
async function pipelineLogits(dir: string, ngramHead: boolean): Promise<{ validation: number[]; dev: number[] }> {
  const classify = await pipeline('sentiment-analysis', dir, { batchSize: 128, ngramHead, onWarning: () => undefined });
  const logitsOf = async (batch: string[]): Promise<number[]> => {
    const scored = (await classify(batch, { topK: null })) as unknown as ClassificationLabel[][];
    return scored.map((labels) => {
      const p = Math.min(Math.max(labels.find((l) => l.label === 'positive')!.score, 1e-7), 1 - 1e-7);
      return Math.log(p / (1 - p));
    });
  };
  return { validation: await logitsOf(texts.validation), dev: await logitsOf(texts.dev) };
}

if (withModel) {
  const modelLogits = await pipelineLogits(withModel, false);
  /** How many texts of a split the ensemble gets right with the n-grams' share `weight`, over the indices kept. */
  const right = (
    weight: number,
    split: 'validation' | 'dev',
    keep: (i: number) => boolean = () => true,
  ): [number, number] => {
    const labels = labelsOf(split === 'dev' ? dev : validation);
    let correct = 0;
    let count = 0;
    modelLogits[split].forEach((z, i) => {
      if (!keep(i)) return;
      count++;
      if (((1 - weight) * z + weight * ngramLogits[split][i]! > 0 ? 1 : 0) === labels[i]) correct++;
    });
    return [correct, count];
  };
  // The n-grams' share, in steps of 0.05, is chosen on validation (5,000 reviews) together with dev.tsv: 5,000 alone
  // left the choice to noise (0.55–0.85 within 0.2 points). The dev figure is cross-validated: each half of dev.tsv is
  // scored with the share chosen on validation and the other half, so no review is scored by a share it helped choose.
  const grid = Array.from({ length: 21 }, (_, i) => i / 20);
  const choose = (devKept: (i: number) => boolean): number => {
    const pooled = (w: number): number => {
      const [a, n] = right(w, 'validation');
      const [b, m] = right(w, 'dev', devKept);
      return (a + b) / (n + m);
    };
    return grid.reduce((best, w) => (pooled(w) > pooled(best) ? w : best));
  };
  const halves = [0, 1].map((half) => {
    const weight = choose((i) => i % 2 !== half);
    return { weight, right: right(weight, 'dev', (i) => i % 2 === half)[0] };
  });
  const shipped = choose(() => true);
  /** The ensemble's accuracy on a whole split with the n-grams' share `weight`. */
  const accuracyAt = (weight: number, split: 'validation' | 'dev'): number => {
    const [correct, count] = right(weight, split);
    return round(correct / count);
  };
  console.log(
    JSON.stringify({
      model: `${withModel}'s transformer alone`,
      validation: round(accuracy(modelLogits.validation, validation)),
      nsmc_dev: round(accuracy(modelLogits.dev, dev)),
    }),
  );
  console.log(
    JSON.stringify({
      model: 'ensemble: 0.5 × transformer + 0.5 × ngram',
      validation: accuracyAt(0.5, 'validation'),
      nsmc_dev: accuracyAt(0.5, 'dev'),
    }),
  );
  console.log(
    JSON.stringify({
      model: `ensemble, n-gram share chosen per half of dev (${halves.map((h) => h.weight).join(', ')})`,
      nsmc_dev_cross_validated: round((halves[0]!.right + halves[1]!.right) / texts.dev.length),
    }),
  );
  console.log(
    JSON.stringify({
      model: `ensemble: ${round(1 - shipped)} × transformer + ${shipped} × ngram (share chosen on validation + dev)`,
      validation: accuracyAt(shipped, 'validation'),
      nsmc_dev: accuracyAt(shipped, 'dev'),
    }),
  );
  // The temperature of the weighted logit, chosen on validation by log-loss (it changes no label, only the scores).
  const logLoss = (temperature: number, split: 'validation' | 'dev'): number => {
    const labels = labelsOf(split === 'dev' ? dev : validation);
    const total = modelLogits[split].reduce((sum, z, i) => {
      const logit = ((1 - shipped) * z + shipped * ngramLogits[split][i]!) / temperature;
      return sum + softplus(labels[i] === 1 ? -logit : logit);
    }, 0);
    return total / labels.length;
  };
  const temperatures = Array.from({ length: 27 }, (_, i) => 0.2 + i * 0.05);
  const temperature = temperatures.reduce((a, b) => (logLoss(b, 'validation') < logLoss(a, 'validation') ? b : a));
  console.log(
    JSON.stringify({
      model: `the shipped ensemble's log-loss at temperature 1 and at ${round(temperature)} (chosen on validation)`,
      validation: [round(logLoss(1, 'validation')), round(logLoss(temperature, 'validation'))],
      nsmc_dev: [round(logLoss(1, 'dev')), round(logLoss(temperature, 'dev'))],
    }),
  );
  if (save) {
    await writeNgramHeadEntry(withModel, await classifier.save(withModel, shipped, round(temperature)));
    const saved = await pipelineLogits(withModel, true);
    console.log(
      JSON.stringify({
        model: `${withModel} through the pipeline, with the saved head`,
        validation: round(accuracy(saved.validation, validation)),
        nsmc_dev: round(accuracy(saved.dev, dev)),
      }),
    );
  }
}
