/**
 * Scores sentiment models the way a user meets them, through the pipeline: English on the 1,000 held-out SST-2
 * sentences of scripts/sst2-sentences.ts, on test/fixtures/sentiment/everyday-reviews*.tsv (out of domain: the
 * 50-review test set and the 240-review set for choosing recipes) and on the 3 × 1,000 real review sentences of
 * test/fixtures/sentiment/uci-*.tsv (Amazon phones, IMDB films, Yelp restaurants; third-party, never used to choose),
 * Korean on ../shared/data/nsmc/dev.tsv. One JSON line per model.
 *
 *   npx tsx scripts/eval-sentiment.ts models/sentiment-en [more model folders]
 *   npx tsx scripts/eval-sentiment.ts --ko models/sentiment-ko
 */
import '../src/backends/register.js';
import { join } from 'node:path';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { readTsv } from './eval-use.js';
import { sst2SentenceSplit, type LabelledText } from './sst2-sentences.js';

/** A two-column TSV (text, 0/1 label, header first) as labelled texts. */
function readLabelled(file: string): LabelledText[] {
  const { texts, labels } = readTsv(file, { header: true });
  return texts.map((sentence, i) => ({ sentence, label: Number(labels[i]) }));
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
  ? { nsmc_dev: readLabelled(sharedPath('data', 'nsmc', 'dev.tsv')) }
  : {
      sst2_heldout_sentences: (await sst2SentenceSplit({ testSentences: 1000, validationSentences: 500, seed: 42 }))
        .test,
      everyday_reviews: readLabelled(join(projectRoot, 'test/fixtures/sentiment/everyday-reviews.tsv')),
      // 240 more, for choosing between recipes, so that the 50 above stay a test set
      everyday_selection: readLabelled(join(projectRoot, 'test/fixtures/sentiment/everyday-reviews-selection.tsv')),
      // Real reviews no one here wrote (UCI Sentiment Labelled Sentences): phones, films, restaurants
      ...Object.fromEntries(
        ['amazon', 'imdb', 'yelp'].map((site) => [
          `uci_${site}`,
          readLabelled(join(projectRoot, `test/fixtures/sentiment/uci-${site}.tsv`)),
        ]),
      ),
    };
for (const dir of dirs) {
  const accuracies: Record<string, number> = {};
  for (const [name, items] of Object.entries(sets)) accuracies[name] = Number((await score(dir, items)).toFixed(4));
  console.log(JSON.stringify({ model: dir, ...accuracies }));
}
