/**
 * Trains a default sentiment model from scratch with attn: a WordPiece tokenizer on the training text, then a small
 * BERT classifier with the Trainer, selected on a held-out 5% of train, reported on dev.tsv.
 *
 *   npm run build
 *   node dist/scripts/train-sentiment.js --data sst2 --out models/sentiment-en [--threads 1] [--minutes 40]
 *   node dist/scripts/train-sentiment.js --data nsmc --out models/sentiment-ko [--threads 1] [--minutes 60]
 *
 * Training stops at --epochs or when --minutes of wall time have passed, whichever is first.
 */
import '../src/backends/register.js';
import { loadDataset, type Dataset } from '../src/data/index.js';
import { accuracy } from '../src/metrics/index.js';
import { BertConfig, BertForSequenceClassification } from '../src/models/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { trainTokenizer } from '../src/tokenizers/index.js';
import { classificationMetrics, Trainer, TrainingArguments } from '../src/training/index.js';
import { sharedPath } from '../src/util/paths.js';
import { commonOptions, minutesSince, option, threadsNote, wallClockBudget, writeModelCard } from './train-common.js';

interface Corpus {
  language: string;
  textColumn: string;
  normalizer: 'lowercase' | 'nfkc';
  vocabSize: number;
  maxLength: number;
  license: string;
  source: string;
}

const CORPORA: Record<string, Corpus> = {
  sst2: {
    language: 'English',
    textColumn: 'sentence',
    normalizer: 'lowercase',
    vocabSize: 8000,
    maxLength: 64,
    license: 'research use (GLUE SST-2)',
    source: 'Stanford Sentiment Treebank, binary (GLUE SST-2, re-split: 60,614 train / 6,735 dev phrases)',
  },
  nsmc: {
    language: 'Korean',
    textColumn: 'text',
    normalizer: 'nfkc',
    vocabSize: 12000,
    maxLength: 64,
    license: 'CC0 (Naver Sentiment Movie Corpus)',
    source: 'Naver Sentiment Movie Corpus (100,000 train / 10,000 dev reviews, balanced)',
  },
};

const dataName = option('data', 'sst2');
const corpus = CORPORA[dataName];
if (!corpus)
  throw new RangeError(`--data: expected one of ${Object.keys(CORPORA).join(', ')}, got ${JSON.stringify(dataName)}`);
const { threads, out, minutes, seed } = commonOptions({
  out: `models/sentiment-${dataName === 'sst2' ? 'en' : 'ko'}`,
  minutes: 40,
});
const epochs = option('epochs', 4);
const hidden = option('hidden', 128);
const layers = option('layers', 2);
const batchSize = option('batch', 64);
const started = performance.now();

// ---- data and tokenizer ----
const raw = await loadDataset({
  train: sharedPath('data', dataName, 'train.tsv'),
  dev: sharedPath('data', dataName, 'dev.tsv'),
});
const column = corpus.textColumn;
const trainTexts = raw.splits.train.column(column) as string[];
const tokenizer = trainTokenizer({
  type: 'wordpiece',
  texts: trainTexts,
  vocabSize: corpus.vocabSize,
  normalizer: corpus.normalizer,
  modelMaxLength: corpus.maxLength,
  progress: false,
});
const tokenize = (batch: Record<string, unknown[]>): Record<string, unknown[]> => {
  const encoded = tokenizer.encode(batch[column] as string[], { truncation: true, maxLength: corpus.maxLength }) as {
    inputIds: number[][];
  };
  return { input_ids: encoded.inputIds };
};
const tokenized = raw.map(tokenize as never, { batched: true });
const { train, test: validation } = tokenized.splits.train.trainTestSplit({
  testSize: 0.05,
  seed,
  stratifyByColumn: 'label',
}).splits;
const dev = tokenized.splits.dev as Dataset;
const tokensPerExample =
  (train.column('input_ids') as number[][]).reduce((n, ids) => n + ids.length, 0) / train.numRows;

// ---- model and training ----
manualSeed(seed);
const config = new BertConfig({
  model_type: 'bert', // written out explicitly: savePretrained omits defaulted fields, and AutoModel needs it
  vocab_size: tokenizer.vocabSize,
  hidden_size: hidden,
  num_hidden_layers: layers,
  num_attention_heads: Math.max(2, hidden / 64),
  intermediate_size: 4 * hidden,
  max_position_embeddings: corpus.maxLength,
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  id2label: { 0: 'negative', 1: 'positive' },
  pad_token_id: tokenizer.getSpecialTokenId('pad_token') ?? 0,
});
const model = new BertForSequenceClassification(config);
// Evaluate (and keep the best checkpoint) often enough that a run cut short by --minutes loses little.
const evalEvery = option('eval-every', 150);
const args = new TrainingArguments({
  outputDir: `${out}.run`,
  numTrainEpochs: epochs,
  perDeviceTrainBatchSize: batchSize,
  perDeviceEvalBatchSize: 128,
  learningRate: 1e-3,
  weightDecay: 0.01,
  warmupRatio: 0.06,
  lrSchedulerType: 'linear',
  evalStrategy: 'steps',
  evalSteps: evalEvery,
  saveStrategy: 'steps',
  saveSteps: evalEvery,
  saveTotalLimit: 1,
  loggingSteps: 50,
  loadBestModelAtEnd: true,
  metricForBestModel: 'accuracy',
  seed,
});
const trainer = new Trainer({
  model,
  args,
  trainDataset: train,
  evalDataset: validation,
  computeMetrics: classificationMetrics,
  tokenizer,
  callbacks: [wallClockBudget(minutes)],
});
const result = await trainer.train();
const trainMinutes = minutesSince(started);

// ---- the figure that counts: accuracy on dev.tsv ----
const { predictions, labelIds } = await trainer.predict(dev);
const devAccuracy = accuracy(
  predictions.map((row) => (row[1]! > row[0]! ? 1 : 0)),
  labelIds.map((row) => row[0]!),
);
await trainer.saveModel(out);
const tokensPerSecond = result.metrics.train_tokens_per_second!;
console.log(
  JSON.stringify({
    data: dataName,
    devAccuracy,
    steps: result.globalStep,
    trainMinutes,
    tokensPerSecond,
    params: model.numParameters(),
  }),
);

await writeModelCard(out, {
  title: `attn default ${corpus.language} sentiment classifier (${dataName.toUpperCase()})`,
  summary: `A small BERT (${layers} layers, hidden ${hidden}, ${(model.numParameters() / 1e6).toFixed(2)}M parameters) with a WordPiece tokenizer (${tokenizer.vocabSize} pieces), both trained from scratch by attn on ${corpus.source}. Labels: 0 negative, 1 positive.`,
  facts: [
    ['data', `${corpus.source}; train.tsv less a stratified 5% held out for checkpoint selection`],
    ['data license', corpus.license],
    [
      'command',
      `\`node dist/scripts/train-sentiment.js --data ${dataName} --out ${out} --threads ${threads} --minutes ${minutes} --epochs ${epochs}\``,
    ],
    ['hardware', threadsNote(threads)],
    ['wall time', `${trainMinutes} (tokenizer, tokenization, training, evaluation)`],
    ['optimizer steps', `${result.globalStep} (batch ${batchSize}, AdamW lr 1e-3, linear schedule, 6% warmup)`],
    [
      'throughput',
      `${Math.round(tokensPerSecond)} training tokens/s (non-padding, ${tokensPerExample.toFixed(1)} tokens per example)`,
    ],
  ],
  metrics: [
    [`accuracy on ../shared/data/${dataName}/dev.tsv (${dev.numRows} rows)`, devAccuracy.toFixed(4)],
    ['best held-out accuracy (checkpoint selection)', String(trainer.state.bestMetric)],
  ],
  sections: [
    "## Use\n\n```ts\nimport { pipeline } from 'attn';\nconst classify = await pipeline('sentiment-analysis', '" +
      out +
      "');\n```",
  ],
});
