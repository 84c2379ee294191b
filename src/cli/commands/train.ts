/** `attn train CONFIG.json`: fine-tune a model with the Trainer, everything described by one JSON file. */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import {
  DataCollatorForLanguageModeling,
  DataCollatorForSeq2Seq,
  DataCollatorWithPadding,
  loadDataset,
  type DataCollator,
  type Dataset,
} from '../../data/index.js';
import {
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
} from '../../models/index.js';
import { dequantize, quantizationConfigOf } from '../../models/quantization.js';
import { resolveModel } from '../../pipelines/load.js';
import { setNumThreads } from '../../tensor/engine.js';
import { AutoTokenizer } from '../../tokenizers/index.js';
import type { PreTrainedTokenizer } from '../../tokenizers/tokenizer.js';
import {
  classificationMetrics,
  DistillationTrainer,
  EarlyStoppingCallback,
  listCheckpoints,
  Seq2SeqTrainer,
  Seq2SeqTrainingArguments,
  Trainer,
  type Seq2SeqTrainingArgumentsInit,
  type TrainableModel,
} from '../../training/index.js';
import { didYouMean, integerFlag, parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn train CONFIG.json [--resume | --overwrite] [--threads N]

Trains with the Trainer as CONFIG.json describes, saves the model and tokenizer to args.outputDir and prints the
final metrics as one JSON line. Paths in the file are relative to the file. Example:

{
  "task": "sequence-classification",
  "model": "sentiment-en",
  "numLabels": 2,
  "data": { "train": "data/train.tsv", "eval": "data/dev.tsv", "textColumn": "sentence", "labelColumn": "label" },
  "args": { "outputDir": "runs/sst2", "numTrainEpochs": 3, "learningRate": 5e-5, "evalStrategy": "epoch" },
  "earlyStoppingPatience": 2
}

Fields:
  task                   sequence-classification, causal-lm, masked-lm or seq2seq
  model                  a folder, a model installed with attn (see 'attn models') or a hub repo id
  tokenizer              the same kinds of name (default: the model's)
  numLabels              sequence-classification: a fresh head of this size (default: the labels found)
  data.train, data.eval  CSV, TSV, JSON(L) or text files; or data.evalFraction (e.g. 0.1) to split train
  data.textColumn        the input text column (default "text"); data.labelColumn the label (default "label")
  data.targetColumn      seq2seq: the target text column; data.maxLength tokens per text (default 128)
  args                   every TrainingArguments field (camelCase, see src/training/training_args.ts); for
                         seq2seq also predictWithGenerate, generationMaxNewTokens and generationNumBeams
  earlyStoppingPatience  stop after this many evaluations without improvement
  distillation           sequence-classification: { "teacher": a classifier using the same tokenizer,
                         "temperature": 2, "alpha": 0.5 } trains the model on the teacher's soft targets
                         (DistillationTrainer); rows with an empty label learn from the teacher alone

--resume     continue from the last complete checkpoint in args.outputDir (same as "resumeFromCheckpoint": true)
--overwrite  start again from step 0 although args.outputDir holds checkpoints`;

const TASKS = ['sequence-classification', 'causal-lm', 'masked-lm', 'seq2seq'] as const;
type Task = (typeof TASKS)[number];

interface TrainConfig {
  task: Task;
  model: string;
  tokenizer?: string;
  numLabels?: number;
  data: {
    train: string;
    eval?: string;
    evalFraction?: number;
    textColumn?: string;
    labelColumn?: string;
    targetColumn?: string;
    maxLength?: number;
  };
  args: Seq2SeqTrainingArgumentsInit;
  earlyStoppingPatience?: number;
  distillation?: { teacher: string; temperature?: number; alpha?: number };
}

const CONFIG_FIELDS = [
  'task',
  'model',
  'tokenizer',
  'numLabels',
  'data',
  'args',
  'earlyStoppingPatience',
  'distillation',
];
const DISTILLATION_FIELDS = ['teacher', 'temperature', 'alpha'];
const DATA_FIELDS = ['train', 'eval', 'evalFraction', 'textColumn', 'labelColumn', 'targetColumn', 'maxLength'];

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
  const rejectUnknown = (object: object, known: string[], prefix: string) => {
    const field = Object.keys(object).find((key) => !known.includes(key));
    if (field !== undefined)
      throw new UsageError(`${file}: unknown field '${prefix}${field}'${didYouMean(field, known)}`);
  };
  rejectUnknown(config, CONFIG_FIELDS, '');
  if (!TASKS.includes(config.task as Task)) fail('task', `one of ${TASKS.join(', ')}`, config.task);
  if (typeof config.model !== 'string') fail('model', 'a model folder or hub id', config.model);
  const data = config.data;
  if (!data || typeof data !== 'object') return fail('data', 'an object with at least "train"', data);
  rejectUnknown(data, DATA_FIELDS, 'data.');
  if (typeof data.train !== 'string') fail('data.train', 'a file path', data.train);
  if (data.eval !== undefined && typeof data.eval !== 'string') fail('data.eval', 'a file path', data.eval);
  if (data.evalFraction !== undefined && !(data.evalFraction > 0 && data.evalFraction < 1))
    fail('data.evalFraction', 'a number between 0 and 1', data.evalFraction);
  if (config.task === 'seq2seq' && typeof data.targetColumn !== 'string')
    fail('data.targetColumn', 'the target text column (seq2seq)', data.targetColumn);
  if (!config.args || typeof config.args !== 'object' || typeof config.args.outputDir !== 'string')
    fail('args.outputDir', 'a folder path', config.args?.outputDir);
  try {
    new Seq2SeqTrainingArguments(config.args!);
  } catch (err) {
    throw new UsageError(`${file}: args: ${(err as Error).message}`);
  }
  const distillation = config.distillation;
  if (distillation !== undefined) {
    if (config.task !== 'sequence-classification')
      fail('distillation', 'absent unless task is sequence-classification', distillation);
    if (!distillation || typeof distillation !== 'object')
      fail('distillation', 'an object { "teacher": …, "temperature": …, "alpha": … }', distillation);
    rejectUnknown(distillation, DISTILLATION_FIELDS, 'distillation.');
    if (typeof distillation.teacher !== 'string')
      fail('distillation.teacher', 'a model folder or hub id', distillation.teacher);
    const { temperature, alpha } = distillation;
    if (temperature !== undefined && !(typeof temperature === 'number' && temperature > 0))
      fail('distillation.temperature', 'a number > 0', temperature);
    if (alpha !== undefined && !(typeof alpha === 'number' && alpha >= 0 && alpha <= 1))
      fail('distillation.alpha', 'a number between 0 and 1', alpha);
  }
  // Relative paths are the file's, so a config works from any current folder.
  const base = dirname(resolve(file));
  const local = (p: string): string => (p.startsWith('.') || existsSync(resolve(base, p)) ? resolve(base, p) : p);
  return {
    ...(config as TrainConfig),
    model: local(config.model!),
    tokenizer: config.tokenizer && local(config.tokenizer),
    distillation: distillation && { ...distillation, teacher: local(distillation.teacher) },
    data: { ...data, train: resolve(base, data.train), eval: data.eval && resolve(base, data.eval) },
    args: { ...config.args!, outputDir: resolve(base, config.args!.outputDir) },
  };
}

function tokenizeColumns(dataset: Dataset, tokenizer: PreTrainedTokenizer, config: TrainConfig): Dataset {
  const text = config.data.textColumn ?? 'text';
  const maxLength = config.data.maxLength ?? 128;
  dataset.requireColumns([text], `data.textColumn in the train config`);
  const encode = (texts: unknown[]): number[][] =>
    (tokenizer.encode(texts.map(String), { truncation: true, maxLength }) as { inputIds: number[][] }).inputIds;
  const tokenized = dataset.map(
    ((batch: Record<string, unknown[]>) => {
      const out: Record<string, unknown[]> = { input_ids: encode(batch[text]!) };
      if (config.task === 'seq2seq') out['labels'] = encode(batch[config.data.targetColumn!]!);
      return out;
    }) as never,
    { batched: true },
  );
  const labelColumn = config.data.labelColumn ?? 'label';
  if (config.task === 'sequence-classification' && labelColumn !== 'label')
    return tokenized.renameColumn(labelColumn as never, 'label');
  return tokenized;
}

const OPTIONS = { resume: { type: 'boolean' }, overwrite: { type: 'boolean' }, threads: { type: 'string' } } as const;

/** The config, with the command line's resume choice; a run that would silently discard checkpoints is refused. */
function readRun(argv: string[]): TrainConfig {
  const { values, positionals } = parseFlags({ args: argv, options: OPTIONS, allowPositionals: true });
  if (positionals.length !== 1) throw new UsageError(`expected one CONFIG.json, got ${positionals.length} arguments`);
  if (values.resume && values.overwrite) throw new UsageError('--resume and --overwrite exclude each other');
  if (values.threads !== undefined) setNumThreads(integerFlag(values.threads, '--threads', 0));
  const config = readTrainConfig(positionals[0]!);
  if (values.resume) config.args.resumeFromCheckpoint = true;
  const checkpoints = listCheckpoints(config.args.outputDir);
  if (checkpoints.length > 0 && !config.args.resumeFromCheckpoint && !values.overwrite) {
    throw new UsageError(
      `${config.args.outputDir} already holds ${basename(checkpoints.at(-1)!)}: pass --resume to continue from it, ` +
        'or --overwrite to start again from step 0',
    );
  }
  if (config.args.resumeFromCheckpoint === true && checkpoints.length === 0) {
    throw new UsageError(`--resume: ${config.args.outputDir} holds no complete checkpoint to continue from`);
  }
  return config;
}

export async function run(argv: string[]): Promise<number> {
  let config: TrainConfig;
  try {
    config = readRun(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('train', err));
    return 2;
  }
  // Model names resolve as in 'attn run': a folder, a model installed with attn, or a hub repo id.
  config.model = await resolveModel(config.model);
  config.tokenizer = config.tokenizer === undefined ? config.model : await resolveModel(config.tokenizer);
  const tokenizer = await AutoTokenizer.fromPretrained(config.tokenizer);
  const raw = await loadDataset(config.data.train);
  const all = tokenizeColumns(raw, tokenizer, config);
  const split = config.data.eval
    ? null
    : all.trainTestSplit({ testSize: config.data.evalFraction ?? 0.1, seed: config.args.seed ?? 42 }).splits;
  const train = split ? split.train : all;
  const evalDataset = split ? split.test : tokenizeColumns(await loadDataset(config.data.eval!), tokenizer, config);

  const padTokenId = tokenizer.getSpecialTokenId('pad_token') ?? tokenizer.getSpecialTokenId('eos_token') ?? 0;
  let model: TrainableModel;
  let collator: DataCollator;
  // A student takes its teacher's label set, so the soft targets line up class for class.
  const teacher =
    config.distillation &&
    (await AutoModelForSequenceClassification.fromPretrained(await resolveModel(config.distillation.teacher)));
  switch (config.task) {
    case 'sequence-classification': {
      if (teacher) {
        const { id2label, label2id } = teacher.config;
        model = await AutoModelForSequenceClassification.fromPretrained(config.model, { id2label, label2id });
        collator = new DataCollatorWithPadding({ padTokenId });
        break;
      }
      const labels = [...new Set(train.column('label' as never) as unknown[])].map(String).sort();
      const numeric = labels.every((l) => /^\d+$/.test(l));
      const id2label = numeric ? undefined : Object.fromEntries(labels.map((l, i) => [i, l]));
      model = await AutoModelForSequenceClassification.fromPretrained(
        config.model,
        id2label ? { id2label } : { numLabels: config.numLabels ?? labels.length },
      );
      collator = new DataCollatorWithPadding({ padTokenId });
      break;
    }
    case 'causal-lm':
      model = await AutoModelForCausalLM.fromPretrained(config.model);
      collator = new DataCollatorForLanguageModeling({ padTokenId, mlm: false });
      break;
    case 'masked-lm': {
      const maskTokenId = tokenizer.getSpecialTokenId('mask_token');
      if (maskTokenId === undefined)
        throw new UsageError(
          `${config.tokenizer ?? config.model}: the tokenizer has no mask token, which masked-lm needs`,
        );
      model = await AutoModelForMaskedLM.fromPretrained(config.model);
      collator = new DataCollatorForLanguageModeling({
        padTokenId,
        maskTokenId,
        vocabSize: tokenizer.vocabSize,
        specialTokenIds: tokenizer.allSpecialIds,
        seed: config.args.seed ?? 42,
      });
      break;
    }
    case 'seq2seq': {
      const seq2seq = await AutoModelForSeq2SeqLM.fromPretrained(config.model);
      model = seq2seq;
      collator = new DataCollatorForSeq2Seq({
        padTokenId,
        decoderStartTokenId: seq2seq.config.decoderStartTokenId ?? padTokenId,
      });
      break;
    }
  }
  // A shipped model may be quantized (inference-only layers): train the float weights its codes stand for.
  const quantized = quantizationConfigOf(model);
  if (quantized) {
    console.error(
      `attn train: ${config.model} is ${String(quantized.dtype)}-quantized; ` +
        'training its dequantized float weights (saved as float)',
    );
    dequantize(model);
  }
  model.train();
  const args = new Seq2SeqTrainingArguments(config.args);
  const callbacks = config.earlyStoppingPatience
    ? [new EarlyStoppingCallback({ patience: config.earlyStoppingPatience })]
    : [];
  const options = { model, args, trainDataset: train, evalDataset, dataCollator: collator, tokenizer, callbacks };
  const distillation = teacher && {
    teacher,
    temperature: config.distillation!.temperature,
    alpha: config.distillation!.alpha,
  };
  const trainer =
    config.task === 'seq2seq'
      ? new Seq2SeqTrainer(options)
      : distillation
        ? new DistillationTrainer({ ...options, computeMetrics: classificationMetrics, distillation })
        : new Trainer({
            ...options,
            computeMetrics: config.task === 'sequence-classification' ? classificationMetrics : undefined,
          });
  const result = await trainer.train();
  const metrics = await trainer.evaluate();
  await trainer.saveModel();
  console.log(
    JSON.stringify({ outputDir: args.outputDir, globalStep: result.globalStep, ...result.metrics, ...metrics }),
  );
  return 0;
}
