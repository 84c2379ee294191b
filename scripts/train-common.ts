/**
 * What the scripts/train-*.ts share: command-line options (--threads, --out, --minutes), a wall-clock budget as a
 * Trainer callback, the model card, the NSMC and TinyStories splits, and softplus.
 */
import '../src/backends/register.js';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { loadDataset, type Dataset } from '../src/data/index.js';
import { saveSafetensors } from '../src/io/safetensors.js';
import type { PreTrainedModel } from '../src/models/index.js';
import { setNumThreads } from '../src/tensor/engine.js';
import { loadModelWeights, type TrainerCallback } from '../src/training/index.js';
import { writeFileAtomic } from '../src/util/fs.js';
import { sharedPath } from '../src/util/paths.js';

/**
 * The TinyStories text in ../shared, one story per paragraph, split by story: 90% for training, 10% held out (the
 * story generator's split; scripts/eval-quantized.ts scores the held-out stories).
 */
export async function storiesSplit(seed: number): Promise<{ stories: Dataset; train: Dataset; validation: Dataset }> {
  const stories = (
    await loadDataset(sharedPath('data', 'tinystories', 'tinystories_val_subset.txt'), {
      format: 'text',
      columnNames: ['text'],
    })
  ).filter((row) => String(row['text']).trim() !== '');
  const { train, test } = stories.trainTestSplit({ testSize: 0.1, seed }).splits;
  return { stories, train: train!, validation: test! };
}

/**
 * NSMC as the Korean default is trained and judged: train.tsv less a stratified 5% held out (seed) for checkpoint
 * selection, and dev.tsv, which no step of training or selection reads, for the figure.
 */
export async function nsmcSplit(seed: number): Promise<{ train: Dataset; validation: Dataset; dev: Dataset }> {
  const raw = await loadDataset({
    train: sharedPath('data', 'nsmc', 'train.tsv'),
    dev: sharedPath('data', 'nsmc', 'dev.tsv'),
  });
  const { train, test } = raw.splits.train.trainTestSplit({ testSize: 0.05, seed, stratifyByColumn: 'label' }).splits;
  return { train: train!, validation: test!, dev: raw.splits.dev as Dataset };
}

/** log(1 + e^z) without overflow: minus the log-probability of the class a logit z speaks against. */
export function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

export interface CommonOptions {
  threads: number;
  out: string;
  /** Hard wall-clock budget for training, in minutes (evaluation and saving come after). */
  minutes: number;
  seed: number;
}

/** `--name value` from argv, or the fallback; numbers are checked. */
export function option(name: string, fallback: string): string;
export function option(name: string, fallback: number): number;
export function option(name: string, fallback: string | number): string | number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const raw = process.argv[at + 1];
  if (raw === undefined) throw new RangeError(`--${name}: a value is missing`);
  if (typeof fallback === 'string') return raw;
  const value = Number(raw);
  if (!Number.isFinite(value)) throw new RangeError(`--${name}: expected a number, got ${JSON.stringify(raw)}`);
  return value;
}

/** Reads the shared options and applies --threads to the engine. */
export function commonOptions(defaults: { out: string; minutes: number }): CommonOptions {
  const threads = option('threads', 1);
  setNumThreads(threads);
  return {
    threads,
    out: option('out', defaults.out),
    minutes: option('minutes', defaults.minutes),
    seed: option('seed', 42),
  };
}

/** Stops training once `minutes` of wall time have passed since it began (checked after every update). */
export function wallClockBudget(minutes: number): TrainerCallback {
  let started = 0;
  return {
    onTrainBegin: () => void (started = performance.now()),
    onStepEnd: ({ control }) => {
      if (performance.now() - started > minutes * 60_000) control.shouldTrainingStop = true;
    },
  };
}

export interface ModelCard {
  title: string;
  summary: string;
  /** Rows of the "Training" table: what, value. */
  facts: Array<[string, string]>;
  metrics: Array<[string, string]>;
  /** Extra markdown sections (usage, samples). */
  sections?: string[];
}

export function threadsNote(threads: number): string {
  return `${threads} thread${threads === 1 ? '' : 's'} on a machine with ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown CPU'})`;
}

export async function writeModelCard(dir: string, card: ModelCard): Promise<void> {
  const table = (rows: Array<[string, string]>): string =>
    ['| | |', '| --- | --- |', ...rows.map(([k, v]) => `| ${k} | ${v} |`)].join('\n');
  const text = [
    `# ${card.title}`,
    '',
    card.summary,
    '',
    '## Training',
    '',
    table(card.facts),
    '',
    '## Results',
    '',
    table(card.metrics),
    '',
    ...(card.sections ?? []).flatMap((s) => [s, '']),
  ].join('\n');
  await writeFileAtomic(join(dir, 'README.md'), text);
}

export function minutesSince(started: number): string {
  return `${((performance.now() - started) / 60_000).toFixed(1)} min`;
}

/**
 * Rewrites `dir`/model.safetensors with float16 storage (half the size; the loader upcasts to float32) and loads
 * the rounded weights back into `model`, so the figures measured afterwards are those of the shipped file.
 */
export async function shipAsHalfPrecision(dir: string, model: PreTrainedModel): Promise<void> {
  await saveSafetensors(join(dir, 'model.safetensors'), model.checkpointTensors(), {
    metadata: { format: 'pt' },
    floatDtype: 'F16',
  });
  await loadModelWeights(dir, model);
}
