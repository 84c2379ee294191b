/**
 * Scores sentiment models the way a user meets them, through the pipeline: English on the 1,000 held-out SST-2
 * sentences of scripts/sst2-sentences.ts and on test/fixtures/sentiment/everyday-reviews.tsv (out of domain),
 * Korean on ../shared/data/nsmc/dev.tsv. One JSON line per model.
 *
 *   npx tsx scripts/eval-sentiment.ts models/sentiment-en [more model folders]
 *   npx tsx scripts/eval-sentiment.ts --ko models/sentiment-ko
 */
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { sst2SentenceSplit, type LabelledText } from './sst2-sentences.js';

function readLabelled(file: string, textColumn: string): LabelledText[] {
  const [header, ...lines] = readFileSync(file, 'utf8').split('\n');
  const columns = header!.split('\t');
  const [text, label] = [columns.indexOf(textColumn), columns.indexOf('label')];
  return lines
    .filter((line) => line.trim() !== '')
    .map((line) => {
      const cells = line.split('\t');
      return { sentence: cells[text]!, label: Number(cells[label]) };
    });
}

async function score(dir: string, items: readonly LabelledText[]): Promise<number> {
  const classify = await pipeline('sentiment-analysis', dir, { batchSize: 64 });
  const names = classify.model.config.id2label;
  const results = (await classify(items.map((item) => item.sentence))) as ClassificationLabel[];
  return results.filter((r, i) => r.label === names[items[i]!.label]).length / items.length;
}

const korean = process.argv.includes('--ko');
const dirs = process.argv.slice(2).filter((arg) => arg !== '--ko');
const sets: Record<string, LabelledText[]> = korean
  ? { nsmc_dev: readLabelled(sharedPath('data', 'nsmc', 'dev.tsv'), 'text') }
  : {
      sst2_heldout_sentences: (await sst2SentenceSplit({ testSentences: 1000, validationSentences: 500, seed: 42 }))
        .test,
      everyday_reviews: readLabelled(join(projectRoot, 'test/fixtures/sentiment/everyday-reviews.tsv'), 'sentence'),
    };
for (const dir of dirs) {
  const accuracies: Record<string, number> = {};
  for (const [name, items] of Object.entries(sets)) accuracies[name] = Number((await score(dir, items)).toFixed(4));
  console.log(JSON.stringify({ model: dir, ...accuracies }));
}
