// `npm run bench -- infer [--rounds N] [--repeats N] [--eager] [--weights file|shared|packed]`: DistilBERT-base-shaped
// sequence classification (6 layers, d768, 12 heads, vocab 30,522, 2 labels; random weights built by attn, saved,
// and exported with attn's ONNX exporter) run through attn's text-classification pipeline and through
// transformers.js's on the same weights.
// Each side runs in fresh child processes, interleaved: cold load (import, load, first result; attn's first child
// also compiles, later ones find the graph in the compile cache), batch-1 latency on
// a ~10-token and a ~128-token text (median of the repeats), batch-16 throughput, and peak RSS. Each figure is the
// best over the rounds for each side; one JSON line with every ratio (attn / transformers.js) is printed last.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { CompiledWeights } from '../src/pipelines/base.js';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '20' },
    eager: { type: 'boolean', default: false },
    weights: { type: 'string', default: 'file' },
    child: { type: 'string' },
    dir: { type: 'string' },
  },
});

const SHORT = 'I love this movie, the acting is wonderful.';
const LONG_SENTENCE =
  'The film opens slowly, but the second half is gripping and the music carries every scene to the end.';
/** About 128 tokens with [CLS] and [SEP]. */
const LONG = Array.from({ length: 6 }, () => LONG_SENTENCE).join(' ');
const BATCH = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? SHORT : `${SHORT} ${LONG_SENTENCE}`));

interface SideResult {
  cold_ms: number;
  short_ms: number;
  long_ms: number;
  batch16_per_s: number;
  peak_rss_mb: number;
}

type Classify = (input: string | string[]) => Promise<unknown>;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

async function loadAttn(dir: string, eager: boolean, weights: CompiledWeights): Promise<Classify> {
  await import('../src/backends/register.js');
  const { pipeline } = await import('../src/pipelines/index.js');
  const pipe = await pipeline('text-classification', dir, {
    batchSize: 16,
    compiled: !eager,
    compiledWeights: weights,
  });
  return (input) => pipe(input as string[]);
}

async function loadTransformersJs(dir: string): Promise<Classify> {
  const { env, pipeline } = await import('@huggingface/transformers');
  env.allowRemoteModels = false;
  env.localModelPath = dirname(dir) + '/';
  const pipe = await pipeline('text-classification', basename(dir), { dtype: 'fp32' });
  return (input) => pipe(input as string[]);
}

/** One side in this (fresh) process: every figure but the ratios. */
async function runChild(side: string, dir: string, repeats: number): Promise<SideResult> {
  const started = performance.now();
  const weights = values.weights as CompiledWeights;
  if (!['file', 'shared', 'packed'].includes(weights))
    throw new Error(`--weights must be file, shared or packed, got ${values.weights}`);
  const classify = side === 'attn' ? await loadAttn(dir, values.eager, weights) : await loadTransformersJs(dir);
  await classify(SHORT);
  const coldMs = performance.now() - started;
  for (const input of [SHORT, LONG, BATCH]) await classify(input); // first call of each shape: any compilation
  const short: number[] = [];
  const long: number[] = [];
  const batch: number[] = [];
  for (let r = 0; r < repeats; r++) {
    short.push(await timed(() => classify(SHORT)));
    long.push(await timed(() => classify(LONG)));
    if (r % 4 === 0) batch.push(await timed(() => classify(BATCH)));
  }
  return {
    cold_ms: coldMs,
    short_ms: median(short),
    long_ms: median(long),
    batch16_per_s: (16 * 1000) / median(batch),
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  };
}

/** The DistilBERT-base-shaped model folder (HF layout plus onnx/model.onnx), built once per machine. */
async function buildModel(): Promise<string> {
  const dir = join(tmpdir(), 'attn-bench-infer', 'distilbert-base-shaped');
  if (existsSync(join(dir, 'onnx', 'model.onnx'))) return dir;
  const { distilbertBaseShaped } = await import('./_distilbert.js');
  const { model, tokenizer } = await distilbertBaseShaped();
  mkdirSync(dir, { recursive: true });
  await model.savePretrained(dir);
  await tokenizer.savePretrained(dir);
  await model.exportOnnx(dir);
  return dir;
}

const round1 = (x: number) => Number(x.toFixed(1));
const round3 = (x: number) => Number(x.toFixed(3));

async function main(): Promise<void> {
  const repeats = Number(values.repeats);
  if (values.child) {
    console.log(JSON.stringify(await runChild(values.child, values.dir!, repeats)));
    return;
  }
  const dir = await buildModel();
  // A fresh compile cache: attn's first child compiles (recorded as first_cold_ms); later ones reuse the graph,
  // as every run after the first on a machine does.
  const cache = join(tmpdir(), 'attn-bench-infer', 'compile-cache');
  rmSync(cache, { recursive: true, force: true });
  const env = { ...process.env, ATTN_CACHE_DIR: cache };
  const script = fileURLToPath(import.meta.url);
  const runs: Record<'attn' | 'transformersjs', SideResult[]> = { attn: [], transformersjs: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    const order = r % 2 === 0 ? (['attn', 'transformersjs'] as const) : (['transformersjs', 'attn'] as const);
    for (const side of order) {
      const args = [
        script,
        '--child',
        side,
        '--dir',
        dir,
        '--repeats',
        String(repeats),
        '--weights',
        values.weights,
        ...(values.eager ? ['--eager'] : []),
      ];
      const out = execFileSync(process.execPath, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env });
      const result = JSON.parse(out.trim().split('\n').pop()!) as SideResult;
      runs[side].push(result);
      console.error(`round ${r + 1} ${side}: ${JSON.stringify(result)}`);
    }
  }
  const best = (side: keyof typeof runs): SideResult => ({
    cold_ms: Math.min(...runs[side].map((x) => x.cold_ms)),
    short_ms: Math.min(...runs[side].map((x) => x.short_ms)),
    long_ms: Math.min(...runs[side].map((x) => x.long_ms)),
    batch16_per_s: Math.max(...runs[side].map((x) => x.batch16_per_s)),
    peak_rss_mb: Math.min(...runs[side].map((x) => x.peak_rss_mb)),
  });
  const attn = best('attn');
  const tjs = best('transformersjs');
  const show = (s: SideResult) => ({
    cold_ms: round1(s.cold_ms),
    short_ms: round1(s.short_ms),
    long_ms: round1(s.long_ms),
    batch16_per_s: round1(s.batch16_per_s),
    peak_rss_mb: Math.round(s.peak_rss_mb),
  });
  console.log(
    JSON.stringify({
      bench: 'infer',
      model: 'distilbert-base-shaped sequence classification',
      mode: values.eager ? 'eager' : `compiled, weights ${values.weights}`,
      rounds: Number(values.rounds),
      repeats,
      attn: { ...show(attn), first_cold_ms: round1(runs.attn[0]!.cold_ms) },
      transformersjs: show(tjs),
      // Latency, load and memory: attn / transformers.js (<= 1 is attn as fast or lighter); throughput: attn /
      // transformers.js (>= 1 is attn ahead).
      ratio_short_latency: round3(attn.short_ms / tjs.short_ms),
      ratio_long_latency: round3(attn.long_ms / tjs.long_ms),
      ratio_batch16_throughput: round3(attn.batch16_per_s / tjs.batch16_per_s),
      ratio_cold_load: round3(attn.cold_ms / tjs.cold_ms),
      ratio_peak_rss: round3(attn.peak_rss_mb / tjs.peak_rss_mb),
    }),
  );
}

await main();
