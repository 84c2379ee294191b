/**
 * A "model soup": the element-wise mean of the float weights of several fine-tunes of one pretrained model (same
 * architecture and tokenizer, e.g. the same recipe under different --seed), saved as one float checkpoint. Fine-tunes
 * that start from the same weights usually stay in one basin, where the mean scores at least as well as its parts
 * (Wortsman et al. 2022, "Model soups"). Score and quantize the result with the usual tools:
 *
 *   npx tsx scripts/average-models.ts --out /tmp/soup runA/checkpoint-2700 runB/checkpoint-3000
 *   npx tsx scripts/eval-sentiment.ts /tmp/soup
 *   node dist/src/cli/main.js quantize --model /tmp/soup --dtype int8 --out models/sentiment-en
 */
import '../src/backends/register.js';
import { AutoModelForSequenceClassification } from '../src/models/index.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { averageCheckpoints } from '../src/training/index.js';
import { option } from './train-common.js';

const out = option('out', '');
const dirs = process.argv.slice(2).filter((arg, i, all) => arg !== '--out' && all[i - 1] !== '--out');
if (out === '' || dirs.length < 2)
  throw new RangeError('usage: average-models.ts --out DIR CHECKPOINT CHECKPOINT [...] (two or more folders)');
const model = await AutoModelForSequenceClassification.fromPretrained(dirs[0]!);
await averageCheckpoints(dirs, model);
await model.savePretrained(out);
await (await AutoTokenizer.fromPretrained(dirs[0]!)).savePretrained(out);
console.log(JSON.stringify({ out, averaged: dirs }));
