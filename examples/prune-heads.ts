/**
 * Accuracy against size: the shipped Korean sentiment model (models/sentiment-ko, a two-layer BERT with two heads,
 * shipped int8 and loaded here as float32) pruned and quantized in several ways, each saved, loaded back through
 * `pipeline` as a user would, and scored on NSMC dev reviews. Size is the safetensors file, and that file gzipped
 * (zeroed weights only pay off compressed).
 *
 *   npx tsx examples/prune-heads.ts [--rows 2000]
 */
import '../src/backends/register.js';
import { readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { BertForSequenceClassification } from '../src/models/index.js';
import { magnitudePrune } from '../src/models/pruning.js';
import { quantize } from '../src/models/quantization.js';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const source = join(projectRoot, 'models/sentiment-ko');
const rows = readFileSync(sharedPath('data/nsmc/dev.tsv'), 'utf8')
  .trim()
  .split('\n')
  .slice(1, 1 + Number(option('rows', '2000')));
const texts = rows.map((r) => r.split('\t')[0]!);
const gold = rows.map((r) => (r.split('\t')[1]!.trim() === '1' ? 'positive' : 'negative'));

type Variant = (model: BertForSequenceClassification) => string;

const variants: Record<string, Variant> = {
  'fp32 (dequantized)': () => 'nothing removed',
  'head 1 of layer 0 pruned': (m) => {
    m.pruneHeads({ 0: [1] });
    return `config.pruned_heads = ${JSON.stringify(m.config.prunedHeads)}`;
  },
  '50% of Linear weights zeroed': (m) => `Linear sparsity ${magnitudePrune(m, { sparsity: 0.5 }).sparsity.toFixed(2)}`,
  '80% of Linear weights zeroed': (m) => `Linear sparsity ${magnitudePrune(m, { sparsity: 0.8 }).sparsity.toFixed(2)}`,
  int8: (m) => {
    quantize(m, { dtype: 'int8' });
    return 'int8 codes, per-channel scales';
  },
  'head pruned + 50% zeroed + int8': (m) => {
    m.pruneHeads({ 0: [1] });
    magnitudePrune(m, { sparsity: 0.5 });
    quantize(m, { dtype: 'int8' });
    return 'all three';
  },
};

const work = await mkdtemp(join(tmpdir(), 'attn-prune-example-'));
const tokenizer = await AutoTokenizer.fromPretrained(source);
console.log(`NSMC dev, first ${texts.length} reviews\n`);
console.log('variant                           accuracy   safetensors      gzipped   what');
try {
  for (const [name, apply] of Object.entries(variants)) {
    const model = await BertForSequenceClassification.fromPretrained(source, { dtype: 'float32' });
    const what = apply(model);
    const dir = join(work, name.replace(/\W+/g, '-'));
    await model.savePretrained(dir);
    await tokenizer.savePretrained(dir);
    const classify = await pipeline('sentiment-analysis', dir, { batchSize: 64 });
    const predicted = (await classify(texts)) as ClassificationLabel[];
    const accuracy = predicted.filter((p, i) => p.label === gold[i]).length / texts.length;
    const file = join(dir, 'model.safetensors');
    const bytes = statSync(file).size;
    const gzipped = gzipSync(readFileSync(file)).length;
    const kb = (n: number) => `${(n / 1024).toFixed(0)} KB`.padStart(12);
    console.log(`${name.padEnd(32)} ${accuracy.toFixed(4).padStart(9)} ${kb(bytes)} ${kb(gzipped)}   ${what}`);
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
