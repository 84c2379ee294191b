/**
 * `attn run <task> [text…]`: a pipeline from the command line. Each text argument is one input; without any,
 * standard input is read line by line and results stream out one line per input, in input order, a batch at
 * a time, so a file of any length runs in constant memory.
 */
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import {
  candidateLabels,
  DEFAULT_MODELS,
  FeatureExtractionPipeline,
  parseTask,
  pipeline,
  TASKS,
  type ClassificationLabel,
  type Answer,
  type FillMaskCandidate,
  type GroupedEntity,
  type TokenEntity,
  type Pipeline,
  type Task,
  type ZeroShotResult,
} from '../../pipelines/index.js';
import { isWeightDtype, WEIGHT_DTYPES } from '../../models/quantization.js';
import { progress } from '../../util/progress.js';
import { didYouMean, integerFlag, numberFlag, parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn run <task> [text…] [options]

Runs a pipeline on each text argument (quote a sentence to make it one input) or, without text, on each line of
standard input, printing one result per line in input order. Long text goes on standard input.
Example: attn run sentiment-analysis "I love this movie" "The plot was dull"

Tasks: ${TASKS.join(', ')}, sentiment-analysis, translation_<src>_to_<tgt>
Without --model each task uses the default model installed with attn (models/ in the package):
${TASKS.map(
  (task) =>
    `  ${task.padEnd(25)} ${
      Object.entries(DEFAULT_MODELS[task])
        .map(([lang, name]) => `${name} (${lang})`)
        .join(', ') || 'none: pass --model'
    }`,
).join('\n')}
The default summarizer is extractive (it keeps central, early, non-redundant sentences in their order; in a
dialogue, by speaker); pass a BART or T5 model for written summaries.

Options:
  --model M            a model folder, the name of a model in models/, or a hub repo id
  --lang L             pick the default model for language L (sentiment: en, ko)
  --json               print one JSON object per input: {"input": …, "result": …} (results shaped as Hugging Face's)
  --batch-size N       inputs per model call when reading standard input (default 16)
  --dtype D            weights: q8 or q4 quantize a float model on load (see attn quantize), fp32 dequantizes
                       an int8 one, fp16 keeps float weights as half bits (default: as saved)
  --top-k N            text-classification, fill-mask, question-answering: how many labels / tokens / answers to show
  --no-ngram-head      text-classification: the transformer alone, without the n-gram classifier a model folder
                       ships beside it (the Korean default), as transformers computes it
  --question Q         question-answering: the question to answer from each text (required)
  --aggregation-strategy S   token-classification (ner): none, simple, first, average, max (default none)
  --labels a,b,c       zero-shot-classification: the candidate labels (required)
  --template T         zero-shot-classification: hypothesis template with {} for the label (default 'This example is {}.')
  --multi-label        zero-shot-classification: score each label on its own
  --src-lang L, --tgt-lang L   translation: the language pair
  --max-new-tokens N, --max-length N, --min-length N, --num-beams N, --sample, --temperature T, --top-p P, --seed N
                       text-generation, summarization, translation: decoding
  --num-sentences N    summarization with a sentence encoder (extractive): sentences to keep
  --ratio R            extractive summarization: length as a share of the text's tokens (default 0.3), within
                       --min-length (12) and --max-length (80)
  --pooling P          feature-extraction: mean, cls, pooler (default: the model's own, else mean)
  --normalize          feature-extraction: unit-length vectors

Exit codes: 0 success, 1 a model or input could not be used (message on stderr), 2 a bad command line.`;

const OPTIONS = {
  model: { type: 'string' },
  lang: { type: 'string' },
  json: { type: 'boolean' },
  'batch-size': { type: 'string' },
  dtype: { type: 'string' },
  'top-k': { type: 'string' },
  'no-ngram-head': { type: 'boolean' },
  labels: { type: 'string' },
  template: { type: 'string' },
  'multi-label': { type: 'boolean' },
  question: { type: 'string' },
  'aggregation-strategy': { type: 'string' },
  'src-lang': { type: 'string' },
  'tgt-lang': { type: 'string' },
  'max-new-tokens': { type: 'string' },
  'max-length': { type: 'string' },
  'min-length': { type: 'string' },
  'num-beams': { type: 'string' },
  sample: { type: 'boolean' },
  temperature: { type: 'string' },
  'top-p': { type: 'string' },
  seed: { type: 'string' },
  'num-sentences': { type: 'string' },
  ratio: { type: 'string' },
  pooling: { type: 'string' },
  normalize: { type: 'boolean' },
} as const;

type Flags = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

const DECODING_FLAGS = [
  'max-new-tokens',
  'max-length',
  'min-length',
  'num-beams',
  'sample',
  'temperature',
  'top-p',
  'seed',
];
/** The flags each task takes besides the common ones (model, lang, json, batch-size, src-lang, tgt-lang). */
const TASK_FLAGS: Record<Task, string[]> = {
  'text-classification': ['top-k', 'no-ngram-head'],
  'fill-mask': ['top-k'],
  'zero-shot-classification': ['labels', 'template', 'multi-label'],
  summarization: [...DECODING_FLAGS, 'num-sentences', 'ratio'],
  translation: DECODING_FLAGS,
  'text-generation': DECODING_FLAGS,
  'feature-extraction': ['pooling', 'normalize'],
  'question-answering': ['question', 'top-k'],
  'token-classification': ['aggregation-strategy'],
};
const COMMON_FLAGS = ['model', 'lang', 'json', 'batch-size', 'dtype', 'src-lang', 'tgt-lang'];

/** Where the command reads and writes; the process's streams, or others in tests. */
export interface RunIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** The options of each pipeline call, from the flags; a flag the task does not take is a usage error. */
function callOptions(task: Task, flags: Flags): Record<string, unknown> {
  for (const [flag, value] of Object.entries(flags)) {
    if (value !== undefined && !COMMON_FLAGS.includes(flag) && !TASK_FLAGS[task].includes(flag))
      throw new UsageError(`--${flag} does not apply to ${task}`);
  }
  const integer = (flag: keyof Flags) => optionalInteger(flags[flag] as string | undefined, `--${flag}`);
  const decoding = {
    maxNewTokens: integer('max-new-tokens'),
    maxLength: integer('max-length'),
    minLength: integer('min-length'),
    numBeams: integer('num-beams'),
    doSample: flags.sample,
    temperature: numberFlag(flags.temperature, '--temperature'),
    topP: numberFlag(flags['top-p'], '--top-p'),
    seed: integer('seed'),
  };
  const byTask: Record<Task, () => Record<string, unknown>> = {
    'text-classification': () => ({ topK: integer('top-k') }),
    'fill-mask': () => ({ topK: integer('top-k') }),
    'zero-shot-classification': () => ({
      candidateLabels: zeroShotLabels(flags.labels),
      hypothesisTemplate: flags.template,
      multiLabel: flags['multi-label'],
    }),
    summarization: () => ({
      ...decoding,
      numSentences: integer('num-sentences'),
      ratio: numberFlag(flags.ratio, '--ratio'),
    }),
    translation: () => decoding,
    'text-generation': () => decoding,
    'feature-extraction': () => ({ pooling: flags.pooling, normalize: flags.normalize }),
    'question-answering': () => {
      if (flags.question === undefined)
        throw new UsageError('question-answering needs --question, e.g. --question "Where does Sarah live?"');
      return { question: flags.question, topK: integer('top-k') };
    },
    'token-classification': () => ({ aggregationStrategy: flags['aggregation-strategy'] }),
  };
  return Object.fromEntries(Object.entries(byTask[task]()).filter(([, value]) => value !== undefined));
}

function optionalInteger(value: string | undefined, flag: string): number | undefined {
  return value === undefined ? undefined : integerFlag(value, flag, 0);
}

function zeroShotLabels(labels: string | undefined): string[] {
  if (labels === undefined)
    throw new UsageError("zero-shot-classification needs --labels, e.g. --labels 'sports,politics,science'");
  try {
    return candidateLabels(labels);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** The pipeline's answer to a batch, split into each input's result in Hugging Face's single-input shape. */
function perInput(task: Task, output: unknown, count: number): unknown[] {
  const results = output as unknown[];
  if (results.length !== count) throw new Error(`attn run: ${task} gave ${results.length} results for ${count} inputs`);
  // A batch flattens one-label classifications and one-text summaries; a single input gets them in a list.
  const wrap =
    (task === 'text-classification' && !Array.isArray(results[0])) ||
    task === 'summarization' ||
    task === 'translation';
  return wrap ? results.map((r) => [r]) : results;
}

const score = (x: number) => x.toFixed(3);

/** One line of plain output for one input's result. */
function plain(task: Task, result: unknown): string {
  switch (task) {
    case 'text-classification':
      return (result as ClassificationLabel[]).map((l) => `${l.label} ${score(l.score)}`).join(', ');
    case 'zero-shot-classification': {
      const r = result as ZeroShotResult;
      return r.labels.map((label, i) => `${label} ${score(r.scores[i]!)}`).join(', ');
    }
    case 'summarization':
      return (result as Array<{ summary_text: string }>)[0]!.summary_text;
    case 'translation':
      return (result as Array<{ translation_text: string }>)[0]!.translation_text;
    case 'text-generation':
      return (result as Array<{ generated_text: string }>)
        .map((r) => r.generated_text.replaceAll('\n', ' '))
        .join(' | ');
    case 'fill-mask': {
      const candidates = result as FillMaskCandidate[] | FillMaskCandidate[][];
      const groups = Array.isArray(candidates[0])
        ? (candidates as FillMaskCandidate[][])
        : [candidates as FillMaskCandidate[]];
      return groups.map((group) => group.map((c) => `${c.token_str} ${score(c.score)}`).join(', ')).join(' | ');
    }
    case 'feature-extraction':
      return JSON.stringify(result);
    case 'question-answering':
      return [result as Answer | Answer[]]
        .flat()
        .map((a) => `${a.answer} ${score(a.score)}`)
        .join(' | ');
    case 'token-classification':
      return (result as Array<TokenEntity | GroupedEntity>)
        .map((e) => `${e.word}/${'entity' in e ? e.entity : e.entity_group} ${score(e.score)}`)
        .join(', ');
  }
}

async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** Binary data (NUL bytes, or bytes that are not UTF-8, which decode to U+FFFD) is not text to run a model on. */
const isText = (line: string) => !line.includes('\u0000') && !line.includes('\ufffd');

/** Lines of `input`, blank ones reported on stderr and left out (an empty text has nothing to classify). */
async function* inputLines(io: RunIO): AsyncGenerator<string> {
  let number = 0;
  for await (const line of createInterface({ input: io.stdin, crlfDelay: Infinity })) {
    number++;
    if (!isText(line)) {
      throw new Error(`standard input line ${number} is not UTF-8 text (binary data?); give one text per line`);
    }
    if (line.trim() === '') io.stderr.write(`attn run: line ${number} is empty; skipped\n`);
    else yield line;
  }
}

async function* batches<T>(items: AsyncIterable<T> | Iterable<T>, size: number): AsyncGenerator<T[]> {
  let batch: T[] = [];
  for await (const item of items) {
    batch.push(item);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length > 0) yield batch;
}

export async function runWith(argv: string[], io: RunIO): Promise<number> {
  let pipe: Pipeline | undefined;
  try {
    const { values: flags, positionals } = parseFlags({ args: argv, options: OPTIONS, allowPositionals: true });
    const [taskName, ...texts] = positionals;
    if (taskName === undefined)
      throw new UsageError('missing the task, e.g. attn run sentiment-analysis "I love this movie"');
    let task: Task;
    try {
      task = parseTask(taskName).task;
    } catch {
      throw new UsageError(`unknown task '${taskName}'${didYouMean(taskName, [...TASKS, 'sentiment-analysis'])}`);
    }
    const options = callOptions(task, flags);
    const batchSize = integerFlag(flags['batch-size'], '--batch-size', 16);
    if (batchSize < 1) throw new UsageError('--batch-size must be at least 1');
    const dtype = flags.dtype;
    if (dtype !== undefined && !isWeightDtype(dtype))
      throw new UsageError(`--dtype is '${dtype}'; expected one of ${WEIGHT_DTYPES.join(', ')}`);
    const empty = texts.findIndex((text) => text.trim() === '');
    if (empty >= 0) throw new UsageError(`text ${empty + 1} is empty; give some text, or none to read standard input`);

    const loud = io.stderr.isTTY === true;
    if (loud) io.stderr.write(`attn run: loading ${flags.model ?? `the default ${task} model`}…\n`);
    pipe = await pipeline(taskName, flags.model, {
      lang: flags.lang,
      srcLang: flags['src-lang'],
      tgtLang: flags['tgt-lang'],
      batchSize,
      dtype,
      ngramHead: flags['no-ngram-head'] !== true,
      onWarning: (message) => io.stderr.write(`attn run: warning: ${message}\n`),
    });
    // One vector per line: the model's sentence pooling, or the token mean.
    if (pipe instanceof FeatureExtractionPipeline) options.pooling ??= pipe.sentencePooling;

    const emit = async (input: string, result: unknown) =>
      write(io.stdout, (flags.json ? JSON.stringify({ input, result }) : plain(task, result)) + '\n');

    // Generated text is shown as it comes when a person is reading.
    if (texts.length > 0 && task === 'text-generation' && !flags.json) {
      for (const text of texts) {
        await write(io.stdout, text);
        await pipe.invoke(text, {
          ...options,
          returnFullText: false,
          onText: (piece: string) => io.stdout.write(piece),
        });
        await write(io.stdout, '\n');
      }
      return 0;
    }

    const fromStdin = texts.length === 0;
    if (fromStdin && io.stdin.isTTY)
      io.stderr.write('attn run: reading one input per line from standard input (end with Ctrl-D)\n');
    const bar =
      loud && fromStdin ? progress({ label: `attn run ${task}`, unit: 'lines', stream: io.stderr }) : undefined;
    for await (const batch of batches(fromStdin ? inputLines(io) : texts, batchSize)) {
      const results = perInput(task, await pipe.invoke(batch, options), batch.length);
      for (let i = 0; i < batch.length; i++) await emit(batch[i]!, results[i]);
      bar?.tick(batch.length);
    }
    bar?.done();
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(usageLine('run', err) + '\n');
      return 2;
    }
    io.stderr.write(`attn run: ${(err as Error).message}\n`);
    return 1;
  } finally {
    pipe?.dispose();
  }
}

export function run(argv: string[]): Promise<number> {
  return runWith(argv, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
}
