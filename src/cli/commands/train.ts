/** `attn train CONFIG.json`: fine-tune a model with the Trainer, everything described by one JSON file. */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DataCollatorForLanguageModeling, DataCollatorForSeq2Seq, DataCollatorWithPadding, loadDataset, type DataCollator, type Dataset } from '../../data/index.js';
import { AutoModelForCausalLM, AutoModelForMaskedLM, AutoModelForSeq2SeqLM, AutoModelForSequenceClassification } from '../../models/index.js';
import { setNumThreads } from '../../tensor/engine.js';
import { AutoTokenizer } from '../../tokenizers/index.js';
import type { PreTrainedTokenizer } from '../../tokenizers/tokenizer.js';
import {
  classificationMetrics,
  EarlyStoppingCallback,
  Seq2SeqTrainer,
  Seq2SeqTrainingArguments,
  Trainer,
  type Seq2SeqTrainingArgumentsInit,
  type TrainableModel,
} from '../../training/index.js';
import { UsageError } from '../args.js';

export const help = `Usage: attn train CONFIG.json [--threads N]

Trains with the Trainer as CONFIG.json describes, saves the model and tokenizer to args.outputDir and prints the
final metrics as one JSON line. Paths in the file are relative to the file. Example:

{
  "task": "sequence-classification",          // or "causal-lm", "masked-lm", "seq2seq"
  "model": "models/sentiment-en",             // a folder or hub id to start from
  "tokenizer": "models/sentiment-en",         // default: the model
  "numLabels": 2,                             // sequence-classification: a fresh head of this size
  "data": {
    "train": "data/train.tsv",                // CSV, TSV, JSON(L) or text, as loadDataset reads
    "eval": "data/dev.tsv",                   // or "evalFraction": 0.1 to split train
    "textColumn": "sentence",                 // input text
    "labelColumn": "label",                   // sequence-classification: class names or ids
    "targetColumn": "en",                     // seq2seq: target text
    "maxLength": 128
  },
  "args": { "outputDir": "runs/sst2", "numTrainEpochs": 3, "learningRate": 5e-5, "evalStrategy": "epoch" },
  "earlyStoppingPatience": 2                  // optional
}

"args" takes every TrainingArguments field (camelCase, see src/training/training_args.ts); for seq2seq also
predictWithGenerate, generationMaxNewTokens and generationNumBeams.`;

const TASKS = ['sequence-classification', 'causal-lm', 'masked-lm', 'seq2seq'] as const;
type Task = (typeof TASKS)[number];

interface TrainConfig {
  task: Task;
  model: string;
  tokenizer?: string;
  numLabels?: number;
  data: { train: string; eval?: string; evalFraction?: number; textColumn?: string; labelColumn?: string; targetColumn?: string; maxLength?: number };
  args: Seq2SeqTrainingArgumentsInit;
  earlyStoppingPatience?: number;
}

/** Reads and checks the config; every mistake names the file and the field. */
export function readTrainConfig(file: string): TrainConfig {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`${file}: cannot read the config (${(err as Error).message})`);
  }
  const fail = (field: string, expected: string, got: unknown): never => {
    throw new UsageError(`${file}: '${field}' must be ${expected}, got ${JSON.stringify(got)}`);
  };
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail('(top level)', 'a JSON object', value);
  const config = value as Partial<TrainConfig>;
  if (!TASKS.includes(config.task as Task)) fail('task', `one of ${TASKS.join(', ')}`, config.task);
  if (typeof config.model !== 'string') fail('model', 'a model folder or hub id', config.model);
  const data = config.data;
  if (!data || typeof data !== 'object') return fail('data', 'an object with at least "train"', data);
  if (typeof data.train !== 'string') fail('data.train', 'a file path', data.train);
  if (data.eval !== undefined && typeof data.eval !== 'string') fail('data.eval', 'a file path', data.eval);
  if (data.evalFraction !== undefined && !(data.evalFraction > 0 && data.evalFraction < 1)) fail('data.evalFraction', 'a number between 0 and 1', data.evalFraction);
  if (config.task === 'seq2seq' && typeof data.targetColumn !== 'string') fail('data.targetColumn', 'the target text column (seq2seq)', data.targetColumn);
  if (!config.args || typeof config.args !== 'object' || typeof config.args.outputDir !== 'string') fail('args.outputDir', 'a folder path', config.args?.outputDir);
  // Relative paths are the file's, so a config works from any current folder.
  const base = dirname(resolve(file));
  const local = (p: string): string => (p.startsWith('.') || p.includes('/') ? resolve(base, p) : p);
  return {
    ...(config as TrainConfig),
    model: local(config.model!),
    tokenizer: config.tokenizer && local(config.tokenizer),
    data: { ...data, train: resolve(base, data.train), eval: data.eval && resolve(base, data.eval) },
    args: { ...config.args!, outputDir: resolve(base, config.args!.outputDir) },
  };
}

function tokenizeColumns(dataset: Dataset, tokenizer: PreTrainedTokenizer, config: TrainConfig): Dataset {
  const text = config.data.textColumn ?? 'text';
  const maxLength = config.data.maxLength ?? 128;
  dataset.requireColumns([text], `data.textColumn in the train config`);
  const encode = (texts: unknown[]): number[][] => (tokenizer.encode(texts.map(String), { truncation: true, maxLength }) as { inputIds: number[][] }).inputIds;
  const tokenized = dataset.map(((batch: Record<string, unknown[]>) => {
    const out: Record<string, unknown[]> = { input_ids: encode(batch[text]!) };
    if (config.task === 'seq2seq') out['labels'] = encode(batch[config.data.targetColumn!]!);
    return out;
  }) as never, { batched: true });
  const labelColumn = config.data.labelColumn ?? 'label';
  if (config.task === 'sequence-classification' && labelColumn !== 'label') return tokenized.renameColumn(labelColumn as never, 'label');
  return tokenized;
}

export async function run(argv: string[]): Promise<number> {
  const threadsAt = argv.indexOf('--threads');
  if (threadsAt >= 0) {
    const threads = Number(argv[threadsAt + 1]);
    if (!Number.isInteger(threads) || threads < 0) throw new UsageError(`--threads must be a whole number >= 0, got '${argv[threadsAt + 1]}'`);
    setNumThreads(threads);
    argv = argv.filter((_, i) => i !== threadsAt && i !== threadsAt + 1);
  }
  if (argv.length !== 1) {
    console.error(help);
    return 2;
  }
  let config: TrainConfig;
  try {
    config = readTrainConfig(argv[0]!);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`attn train: ${err.message}`);
    return 2;
  }
  const tokenizer = await AutoTokenizer.fromPretrained(config.tokenizer ?? config.model);
  const raw = await loadDataset(config.data.train);
  const all = tokenizeColumns(raw, tokenizer, config);
  const split = config.data.eval ? null : all.trainTestSplit({ testSize: config.data.evalFraction ?? 0.1, seed: config.args.seed ?? 42 }).splits;
  const train = split ? split.train : all;
  const evalDataset = split ? split.test : tokenizeColumns(await loadDataset(config.data.eval!), tokenizer, config);

  const padTokenId = tokenizer.getSpecialTokenId('pad_token') ?? tokenizer.getSpecialTokenId('eos_token') ?? 0;
  let model: TrainableModel;
  let collator: DataCollator;
  switch (config.task) {
    case 'sequence-classification': {
      const labels = [...new Set(train.column('label' as never) as unknown[])].map(String).sort();
      const numeric = labels.every((l) => /^\d+$/.test(l));
      const id2label = numeric ? undefined : Object.fromEntries(labels.map((l, i) => [i, l]));
      model = (await AutoModelForSequenceClassification.fromPretrained(config.model, id2label ? { id2label } : { numLabels: config.numLabels ?? labels.length })) as unknown as TrainableModel;
      collator = new DataCollatorWithPadding({ padTokenId });
      break;
    }
    case 'causal-lm':
      model = (await AutoModelForCausalLM.fromPretrained(config.model)) as unknown as TrainableModel;
      collator = new DataCollatorForLanguageModeling({ padTokenId, mlm: false });
      break;
    case 'masked-lm': {
      const maskTokenId = tokenizer.getSpecialTokenId('mask_token');
      if (maskTokenId === undefined) throw new UsageError(`${config.tokenizer ?? config.model}: the tokenizer has no mask token, which masked-lm needs`);
      model = (await AutoModelForMaskedLM.fromPretrained(config.model)) as unknown as TrainableModel;
      collator = new DataCollatorForLanguageModeling({ padTokenId, maskTokenId, vocabSize: tokenizer.vocabSize, specialTokenIds: tokenizer.allSpecialIds, seed: config.args.seed ?? 42 });
      break;
    }
    case 'seq2seq': {
      const seq2seq = await AutoModelForSeq2SeqLM.fromPretrained(config.model);
      model = seq2seq as unknown as TrainableModel;
      collator = new DataCollatorForSeq2Seq({ padTokenId, decoderStartTokenId: seq2seq.config.decoderStartTokenId ?? padTokenId });
      break;
    }
  }
  model.train();
  const args = new Seq2SeqTrainingArguments(config.args);
  const callbacks = config.earlyStoppingPatience ? [new EarlyStoppingCallback({ patience: config.earlyStoppingPatience })] : [];
  const options = { model, args, trainDataset: train, evalDataset, dataCollator: collator, tokenizer, callbacks };
  const trainer =
    config.task === 'seq2seq'
      ? new Seq2SeqTrainer(options)
      : new Trainer({ ...options, computeMetrics: config.task === 'sequence-classification' ? classificationMetrics : undefined });
  const result = await trainer.train();
  const metrics = await trainer.evaluate();
  await trainer.saveModel();
  console.log(JSON.stringify({ outputDir: args.outputDir, globalStep: result.globalStep, ...result.metrics, ...metrics }));
  return 0;
}
