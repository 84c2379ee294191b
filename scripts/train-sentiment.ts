/**
 * Trains a default sentiment model with attn and ships it int8-quantized when that costs at most half a point:
 * either a small BERT with its own WordPiece tokenizer, both from scratch, or a pretrained encoder (--base, e.g.
 * models/use-lite) fine-tuned with a fresh classification head. Checkpoints are selected on held-out data; the
 * figure the card reports comes from a split never used for selection.
 *
 *   npx tsx scripts/train-sentiment.ts --data sst2 --base models/use-lite --out models/sentiment-en
 *   npx tsx scripts/train-sentiment.ts --data nsmc --out models/sentiment-ko [--hidden 128 --layers 2]
 *     [--pretrain-minutes 20]   (a masked LM on the training texts first, then fine-tuned)
 *
 * SST-2 is split by sentence (scripts/sst2-sentences.ts: 1,000 test and 500 validation sentences held out with
 * every phrase inside them); NSMC keeps a stratified 5% of train.tsv for selection and reports dev.tsv.
 * Training stops at --epochs or when --minutes of wall time have passed, whichever is first.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import '../src/backends/register.js';
import { DataCollatorForLanguageModeling, Dataset, type Batch } from '../src/data/index.js';
import { accuracy } from '../src/metrics/index.js';
import {
  AutoModelForSequenceClassification,
  BertConfig,
  BertForMaskedLM,
  BertForSequenceClassification,
  type MaskedLMOutput,
  type ModelForTask,
  type ModelInputs,
} from '../src/models/index.js';
import * as F from '../src/nn/functional.js';
import { quantize } from '../src/models/quantization.js';
import * as ops from '../src/tensor/ops.js';
import { manualSeed } from '../src/tensor/random.js';
import { Tensor } from '../src/tensor/tensor.js';
import {
  AutoTokenizer,
  trainTokenizer,
  type NormalizerName,
  type PreTrainedTokenizer,
} from '../src/tokenizers/index.js';
import {
  classificationMetrics,
  DistillationTrainer,
  TEACHER_LOGITS,
  Trainer,
  TrainingArguments,
} from '../src/training/index.js';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { sharedPath } from '../src/util/paths.js';
import { readTsv } from './eval-use.js';
import { crossFittedLogits } from './ngram-teacher.js';
import { sst2SentenceSplit } from './sst2-sentences.js';
import {
  commonOptions,
  minutesSince,
  nsmcSplit,
  option,
  softplus,
  threadsNote,
  wallClockBudget,
  writeModelCard,
} from './train-common.js';

interface Corpus {
  language: string;
  textColumn: string;
  normalizer: NormalizerName;
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
    source: 'Stanford Sentiment Treebank, binary (GLUE SST-2 train phrases, ../shared/data/sst2 train.tsv + dev.tsv)',
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
const base = option('base', '');
const epochs = option('epochs', 4);
const hidden = option('hidden', 128);
const layers = option('layers', 2);
const batchSize = option('batch', 64);
const learningRate = option('lr', base ? 5e-5 : 1e-3);
const evalEvery = option('eval-every', 150);
/** Minutes of masked-language-model pretraining on the training texts before fine-tuning (from scratch only). */
const pretrainMinutes = option('pretrain-minutes', 0);
/**
 * A masked LM saved by an earlier --pretrain-minutes run (`<out>.mlm`, with its tokenizer) to continue pretraining
 * from, at a constant rate (--pretrain-lr) near where that run's inverse-square-root schedule had decayed to.
 */
const pretrainFrom = option('pretrain-from', '');
const pretrainLearningRate = option('pretrain-lr', pretrainFrom ? 2.5e-4 : 1e-3);
/** Dropout on the pretrained encoder's residual branches while fine-tuning (--base models/use-lite). */
const hiddenDropout = option('hidden-dropout', 0);
/**
 * 'yes' adds the opinion lexicons in ../shared/data/lexicons (Liu's positive/negative words, AFINN-111's signed
 * words) as one-word training items, for words the training phrases do not already label (sst2 only).
 */
const lexicon = option('lexicon', 'no') === 'yes';
/**
 * Trains only on items of at least this many words (sst2): a second, short fine-tuning of a fine-tuned --base on
 * the longer phrases and whole sentences, closer to what a user sends than the one- and two-word phrases.
 */
const minWords = option('min-words', 0);
/**
 * Labelled reviews from other domains (comma-separated TSV files with a header line, then text and label columns,
 * e.g. data/sentiment-en/*.tsv) added to the SST-2 training items, each --extra-repeat times: film-review phrases alone
 * teach a model that "spotless" or "fixed the leak" is negative. Not filtered by --min-words.
 */
const extraTrain = option('extra-train', '')
  .split(',')
  .filter((file) => file !== '');
const extraRepeat = option('extra-repeat', 1);
/**
 * Fine-tuned classifiers (comma-separated folders, each with its own tokenizer) whose averaged log-probabilities
 * over the training texts the model learns as soft targets beside the labels (DistillationTrainer, --temperature,
 * --alpha): distillation from an ensemble.
 */
const teachers = option('teachers', '')
  .split(',')
  .filter((dir) => dir !== '');
/**
 * 'yes' adds a character and word n-gram classifier (scripts/ngram-teacher.ts) to the teachers, its soft target for
 * each training text from a model trained on the other four fifths (cross-fitted): a teacher that errs where the
 * transformers do not.
 */
const ngramTeacher = option('ngram-teacher', 'no') === 'yes';
const teacherNames = [
  ...teachers,
  ...(ngramTeacher
    ? ['a character and word n-gram classifier (scripts/ngram-teacher.ts, cross-fitted over 5 folds)']
    : []),
];
const temperature = option('temperature', 2);
const alpha = option('alpha', 0.5);
/** Seed of the held-out draw, apart from --seed (initialisation, order), so that runs with other seeds share it. */
const splitSeed = option('split-seed', 42);
/**
 * The trained tokenizer's normalizer (from scratch only; trainTokenizer names the ones it knows), e.g. 'nfkd' for
 * Korean: it splits each Hangul syllable into its letters (jamo), so word pieces can follow the endings that Korean
 * writes inside a syllable block.
 */
const normalizer = option('normalizer', corpus.normalizer) as NormalizerName;
/** Word pieces of the trained tokenizer (from scratch only). */
const vocabSize = option('vocab-size', corpus.vocabSize);
// Options that would otherwise be ignored without a word.
for (const name of ['--normalizer', '--vocab-size'])
  if ((base || pretrainFrom) && process.argv.includes(name))
    throw new RangeError(`${name}: only a tokenizer trained from scratch takes it, not --base or --pretrain-from`);
if (dataName !== 'sst2' && (extraTrain.length > 0 || lexicon || minWords > 0))
  throw new RangeError('--extra-train, --lexicon and --min-words apply to --data sst2 only');
const started = performance.now();
const column = corpus.textColumn;

// ---- data: train, validation (checkpoint selection) and test (the card's figure) ----
interface Splits {
  train: Dataset;
  validation: Dataset;
  test: Dataset;
  /** How the splits were made, for the card. */
  description: string;
  testName: string;
}

/** Lexicon words with one polarity in both lexicons (a word they disagree on is left out), as SST-2 items. */
function lexiconItems(known: ReadonlySet<string>): { sentence: string; label: number }[] {
  const dir = sharedPath('data', 'lexicons');
  const words = (file: string): string[] =>
    readFileSync(join(dir, file), 'latin1')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith(';'));
  const polarity = new Map<string, number | null>();
  const add = (word: string, label: number): void => {
    const seen = polarity.get(word);
    polarity.set(word, seen === undefined || seen === label ? label : null);
  };
  for (const word of words('liu-positive-words.txt')) add(word, 1);
  for (const word of words('liu-negative-words.txt')) add(word, 0);
  for (const line of words('afinn-111.csv').slice(1)) {
    const [word, valence] = line.split(',');
    if (word && Number(valence) !== 0) add(word, Number(valence) > 0 ? 1 : 0);
  }
  return [...polarity]
    .filter(([word, label]) => label !== null && !known.has(word))
    .map(([sentence, label]) => ({ sentence, label: label! }));
}

/** A TSV file's labelled items: a header line, then rows whose first two columns are the text and a label 0 or 1. */
function reviewItems(file: string): { sentence: string; label: number }[] {
  const { texts, labels } = readTsv(file, { header: true });
  return texts.map((sentence, i) => {
    const label = Number(labels[i]);
    if (label !== 0 && label !== 1)
      throw new Error(`--extra-train ${file}: row ${i + 1} has label ${JSON.stringify(labels[i])}, expected 0 or 1`);
    return { sentence, label };
  });
}

async function sst2Splits(): Promise<Splits> {
  const split = await sst2SentenceSplit({ testSentences: 1000, validationSentences: 500, seed: splitSeed });
  const extra = lexicon ? lexiconItems(new Set(split.train.map((item) => item.sentence))) : [];
  const long = split.train.filter((item) => item.sentence.split(' ').length >= minWords);
  const reviews = extraTrain.flatMap(reviewItems);
  const repeatedReviews = Array.from({ length: extraRepeat }, () => reviews).flat();
  return {
    train: Dataset.fromRecords([...long, ...extra, ...repeatedReviews]),
    validation: Dataset.fromRecords(split.validation),
    test: Dataset.fromRecords(split.test),
    description:
      `${split.train.length} training phrases; 1,000 test and 500 validation whole sentences drawn (seed ${splitSeed}) ` +
      `from the 6,885 items no other item contains, and the ${split.dropped} phrases inside them left out of training` +
      (minWords > 0 ? `; of those, the ${long.length} items of at least ${minWords} words` : '') +
      (lexicon ? `; plus ${extra.length} one-word items from the Liu and AFINN-111 opinion lexicons` : '') +
      (reviews.length > 0
        ? `; plus ${reviews.length} labelled reviews of other things (${extraTrain.join(', ')})` +
          (extraRepeat > 1 ? `, each ${extraRepeat} times` : '')
        : ''),
    testName: '1,000 held-out SST-2 sentences (whole sentences, none of their phrases trained on)',
  };
}

async function nsmcSplits(): Promise<Splits> {
  const { train, validation, dev } = await nsmcSplit(splitSeed);
  return {
    train,
    validation,
    test: dev,
    description: 'train.tsv less a stratified 5% held out for checkpoint selection; dev.tsv for the figure',
    testName: `../shared/data/nsmc/dev.tsv (10,000 reviews)`,
  };
}

const splits = dataName === 'sst2' ? await sst2Splits() : await nsmcSplits();
const tokenizer: PreTrainedTokenizer =
  base || pretrainFrom
    ? await AutoTokenizer.fromPretrained(base || pretrainFrom)
    : trainTokenizer({
        type: 'wordpiece',
        texts: splits.train.column(column) as string[],
        vocabSize,
        normalizer,
        modelMaxLength: corpus.maxLength,
        progress: false,
      });
const tokenize = (batch: Record<string, unknown[]>): Record<string, unknown[]> => {
  const encoded = tokenizer.encode(batch[column] as string[], { truncation: true, maxLength: corpus.maxLength });
  return { input_ids: encoded.inputIds };
};
const [train, validation, test] = [splits.train, splits.validation, splits.test].map((d) =>
  d.map(tokenize as never, { batched: true }),
) as [Dataset, Dataset, Dataset];
const tokensPerExample =
  (train.column('input_ids') as number[][]).reduce((n, ids) => n + ids.length, 0) / train.numRows;

// ---- model and training ----
manualSeed(seed);
const id2label = { 0: 'negative', 1: 'positive' };
/**
 * The masked LM's output layer (hidden → vocabulary) is half of a small model's pretraining cost when it runs at every
 * position, though only the ~15% masked ones have a loss. This collator adds the flat (B·T) indices of the masked
 * positions and their labels, padded to a length fixed by the batch shape (so a compiled step still sees one graph
 * per shape; index 0 with label -100 pads, and the rare masked position beyond it goes unscored).
 */
class MaskedPositionsCollator extends DataCollatorForLanguageModeling {
  override collate(features: Parameters<DataCollatorForLanguageModeling['collate']>[0]): Batch {
    const batch = super.collate(features);
    const labels = batch.labels!.data;
    const slots = Math.ceil((labels.length * 0.15 * 1.3) / 16) * 16;
    const positions = new Int32Array(slots);
    const maskedLabels = new Int32Array(slots).fill(-100);
    let n = 0;
    for (let i = 0; i < labels.length && n < slots; i++)
      if (labels[i] !== -100) {
        positions[n] = i;
        maskedLabels[n++] = labels[i]!;
      }
    delete batch.labels;
    batch.masked_positions = new Tensor(positions, [slots]);
    batch.masked_labels = new Tensor(maskedLabels, [slots]);
    return batch;
  }
}

/** BertForMaskedLM scored at the masked positions only (MaskedPositionsCollator); saved as a plain BertForMaskedLM. */
class MaskedPositionsLM extends BertForMaskedLM {
  override forward(inputs: ModelInputs & { maskedPositions?: Tensor; maskedLabels?: Tensor }): MaskedLMOutput {
    if (!inputs.maskedPositions || !inputs.maskedLabels) return super.forward(inputs);
    const hidden = this.bert.forward(inputs).lastHiddenState; // (B, T, C)
    const flat = ops.reshape(hidden, [-1, hidden.shape[2]!]); // (B·T, C)
    const logits = this.cls.predictions.forward(ops.indexSelect(flat, inputs.maskedPositions)); // (K, V)
    return { logits, loss: F.crossEntropy(logits, inputs.maskedLabels, { ignoreIndex: -100 }) };
  }
}

/**
 * BERT's recipe at small scale: a masked LM trained for --pretrain-minutes on the training texts alone (no labels,
 * nothing of the test split), saved to `<out>.mlm`, whose encoder the classifier then starts from.
 */
async function pretrainMaskedLM(config: BertConfig): Promise<string> {
  const dir = `${out}.mlm`;
  manualSeed(seed);
  const mlm = pretrainFrom ? await MaskedPositionsLM.fromPretrained(pretrainFrom) : new MaskedPositionsLM(config);
  const specialTokenIds = (['cls_token', 'sep_token', 'pad_token', 'unk_token'] as const).flatMap(
    (key) => tokenizer.getSpecialTokenId(key) ?? [],
  );
  const pretrainer = new Trainer({
    model: mlm,
    args: new TrainingArguments({
      outputDir: `${dir}.run`,
      numTrainEpochs: 100, // bounded by the wall-clock budget
      perDeviceTrainBatchSize: batchSize,
      learningRate: pretrainLearningRate,
      weightDecay: 0.01,
      warmupSteps: pretrainFrom ? 200 : 500,
      lrSchedulerType: pretrainFrom ? 'constant_with_warmup' : 'inverse_sqrt',
      saveStrategy: 'no',
      loggingSteps: 100,
      groupByLength: true,
      seed,
    }),
    trainDataset: Dataset.fromColumns({ input_ids: train.column('input_ids') as number[][] }),
    dataCollator: new MaskedPositionsCollator({
      padTokenId: config.padTokenId ?? 0,
      maskTokenId: tokenizer.getSpecialTokenId('mask_token')!,
      vocabSize: tokenizer.vocabSize,
      specialTokenIds,
      padToMultipleOf: 16,
      seed,
    }),
    callbacks: [wallClockBudget(pretrainMinutes)],
  });
  await pretrainer.train();
  await mlm.savePretrained(dir);
  await tokenizer.savePretrained(dir); // so that a later run can continue from this one (--pretrain-from)
  return dir;
}

async function freshModel(): Promise<BertForSequenceClassification | ModelForTask['sequenceClassification']> {
  if (base)
    return AutoModelForSequenceClassification.fromPretrained(base, {
      numLabels: 2,
      id2label,
      ...(hiddenDropout > 0 ? { configOverrides: { hiddenDropoutProb: hiddenDropout } } : {}),
    });
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
    id2label,
    pad_token_id: tokenizer.getSpecialTokenId('pad_token') ?? 0,
  });
  if (pretrainMinutes > 0)
    return BertForSequenceClassification.fromPretrained(await pretrainMaskedLM(config), { numLabels: 2, id2label });
  // --pretrain-from without more pretraining: the classifier starts from that masked LM's encoder as it is.
  if (pretrainFrom) return BertForSequenceClassification.fromPretrained(pretrainFrom, { numLabels: 2, id2label });
  return new BertForSequenceClassification(config);
}
const model = await freshModel();
// Evaluate (and keep the best checkpoint) often enough that a run cut short by --minutes loses little.
const args = new TrainingArguments({
  outputDir: `${out}.run`,
  numTrainEpochs: epochs,
  perDeviceTrainBatchSize: batchSize,
  perDeviceEvalBatchSize: 128,
  learningRate,
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
  groupByLength: true,
  seed,
});
/**
 * The teachers' mean log-probabilities (N, 2) over the training texts, each teacher with its own tokenizer, read
 * through the pipeline: its compiled graph scores the 95,000 NSMC texts in seconds, where eager forward passes
 * (teacherLogits) took over ten minutes on the busy machine.
 */
async function ensembleLogits(): Promise<number[][]> {
  const texts = splits.train.column(column) as string[];
  const sum = texts.map(() => [0, 0]);
  const teacherCount = teacherNames.length;
  if (ngramTeacher) {
    const labels = (splits.train.column('label') as unknown[]).map(Number);
    // The log-probabilities of negative and positive are -softplus(±z).
    crossFittedLogits(texts, labels).forEach((logit, i) => {
      sum[i]![0]! -= softplus(logit) / teacherCount;
      sum[i]![1]! -= softplus(-logit) / teacherCount;
    });
  }
  for (const dir of teachers) {
    const classify = await pipeline('sentiment-analysis', dir, { batchSize: 128 });
    const scored = (await classify(texts, { topK: null })) as unknown as ClassificationLabel[][];
    scored.forEach((labels, i) =>
      labels.forEach(({ label, score }) => {
        const index = label === 'positive' ? 1 : 0;
        sum[i]![index]! += Math.log(Math.max(score, 1e-12)) / teacherCount;
      }),
    );
    classify.dispose();
  }
  return sum;
}
const trainerOptions = {
  model,
  args,
  trainDataset: train,
  evalDataset: validation,
  computeMetrics: classificationMetrics,
  tokenizer,
  callbacks: [wallClockBudget(minutes)],
};
const trainer =
  teacherNames.length > 0
    ? new DistillationTrainer({
        ...trainerOptions,
        trainDataset: train.addColumn(TEACHER_LOGITS, await ensembleLogits()),
        distillation: { temperature, alpha },
      })
    : new Trainer(trainerOptions);
const result = await trainer.train();
const trainMinutes = minutesSince(started);

// ---- the figure that counts: accuracy on the test split, float and int8 ----
async function testAccuracy(): Promise<number> {
  const { predictions, labelIds } = await trainer.predict(test);
  return accuracy(
    predictions.map((row) => (row[1]! > row[0]! ? 1 : 0)),
    labelIds.map((row) => row[0]!),
  );
}
const floatAccuracy = await testAccuracy();
const floatParams = model.numParameters();
await trainer.saveModel(out);
// Ship int8 when it loses at most half a point (issue 17's rule); otherwise the float weights saved above stay.
quantize(model, { dtype: 'int8' });
const int8Accuracy = await testAccuracy();
const shipInt8 = int8Accuracy >= floatAccuracy - 0.005;
if (shipInt8) await trainer.saveModel(out);
const tokensPerSecond = result.metrics.train_tokens_per_second!;
const shipped = shipInt8 ? 'int8 (dynamic int8 matmuls, per-channel weight scales)' : 'float32';
console.log(
  JSON.stringify({
    data: dataName,
    base: base || null,
    floatAccuracy,
    int8Accuracy,
    shipped,
    steps: result.globalStep,
    trainMinutes,
    tokensPerSecond,
    params: floatParams,
  }),
);

const command = process.argv.slice(2).join(' ');
await writeModelCard(out, {
  title: `attn default ${corpus.language} sentiment classifier (${dataName.toUpperCase()})`,
  summary: base
    ? `${base} (${(floatParams / 1e6).toFixed(2)}M parameters) fine-tuned by attn with a fresh classification head on ${corpus.source}. Labels: 0 negative, 1 positive. Weights shipped ${shipped}.`
    : `A small BERT (${layers} layers, hidden ${hidden}, ${(floatParams / 1e6).toFixed(2)}M parameters) with a WordPiece tokenizer (${tokenizer.vocabSize} pieces), both trained from scratch by attn on ${corpus.source}${pretrainMinutes > 0 ? ` (first ${pretrainMinutes} minutes as a masked language model on the training texts${pretrainFrom ? `, continuing ${pretrainFrom} at a constant lr ${pretrainLearningRate}` : `, lr ${pretrainLearningRate}`}, then fine-tuned)` : ''}. Labels: 0 negative, 1 positive. Weights shipped ${shipped}.`,
  facts: [
    ['data', `${corpus.source}: ${splits.description}`],
    ['data license', corpus.license],
    ['command', `\`npx tsx scripts/train-sentiment.ts ${command}\``],
    ...(teacherNames.length > 0
      ? [
          [
            'distillation',
            `soft targets: the mean log-probabilities of ${teacherNames.join(' and ')} over the training texts, temperature ${temperature}, alpha ${alpha} (DistillationTrainer)`,
          ] as [string, string],
        ]
      : []),
    ['hardware', threadsNote(threads)],
    ['wall time', `${trainMinutes} (tokenizer, tokenization, training, evaluation)`],
    [
      'optimizer steps',
      `${result.globalStep} (batch ${batchSize}, AdamW lr ${learningRate}, linear schedule, 6% warmup)`,
    ],
    [
      'throughput',
      `${Math.round(tokensPerSecond)} training tokens/s (non-padding, ${tokensPerExample.toFixed(1)} tokens per example)`,
    ],
  ],
  metrics: [
    [`accuracy on ${splits.testName}, float32`, floatAccuracy.toFixed(4)],
    [`accuracy on the same, int8`, `${int8Accuracy.toFixed(4)}${shipInt8 ? ' (shipped)' : ''}`],
    ['best validation accuracy (checkpoint selection)', String(trainer.state.bestMetric)],
  ],
  sections: [
    "## Use\n\n```ts\nimport { pipeline } from 'attn';\nconst classify = await pipeline('sentiment-analysis', '" +
      out +
      "');\n```",
  ],
});
