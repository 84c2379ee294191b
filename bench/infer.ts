// `npm run bench -- infer [--rounds N] [--repeats N] [--eager] [--weights file|shared|packed]`: DistilBERT-base-shaped
// sequence classification (6 layers, d768, 12 heads, vocab 30,522, 2 labels; random weights built by attn, saved,
// and exported with attn's ONNX exporter) run through attn's text-classification pipeline and through
// transformers.js's on the same weights.
// Each round starts one fresh child process per side (attn's first child also compiles, later ones find the graph
// in the compile cache) and measures its cold load (import, load, first result). Then both children stay loaded
// and take turns call by call (order alternating, a short pause between calls so neither side's idle threads spin
// into the other's turn): a ~10-token and a ~128-token text at batch 1 (median of the repeats) and a batch of 16
// (throughput). So on a machine whose load changes from second to second both sides meet the same load, instead
// of one child running in a quiet minute and the other in a busy one. Peak RSS is each child's own, after loading
// and the first call of each input (and, apart, at the end). Each figure is the best over the rounds for each side;
// one JSON line with every ratio (attn / transformers.js) is printed last.
import { fork, type ChildProcess } from 'node:child_process';
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
  /**
   * After loading and the first call of each input: the peak the ratio compares. transformers.js's RSS grows while
   * the turns are timed (to ~670 MB from ~460 with 20 ms between calls, measured; attn's does not), which the ratio
   * leaves out.
   */
  peak_rss_mb: number;
  /** At the end of the timed turns. */
  end_peak_rss_mb: number;
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

const INPUTS = { short: SHORT, long: LONG, batch: BATCH };
type InputName = keyof typeof INPUTS;
type ParentMessage = { time: InputName } | { finish: true };
type ChildMessage = { cold_ms: number } | { ms: number } | { peak_rss_mb: number };
const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

/** One side in this (fresh) process: loads, reports its cold load, then times the inputs the parent asks for. */
async function runChild(side: string, dir: string): Promise<void> {
  const started = performance.now();
  const weights = values.weights as CompiledWeights;
  if (!['file', 'shared', 'packed'].includes(weights))
    throw new Error(`--weights must be file, shared or packed, got ${values.weights}`);
  const classify = side === 'attn' ? await loadAttn(dir, values.eager, weights) : await loadTransformersJs(dir);
  await classify(SHORT);
  const coldMs = performance.now() - started;
  for (const input of [SHORT, LONG, BATCH]) await classify(input); // first call of each shape: any compilation
  const send = (message: ChildMessage) => process.send!(message);
  send({ cold_ms: coldMs });
  send({ peak_rss_mb: peakRssMb() });
  process.on('message', (message: ParentMessage) => {
    if ('finish' in message) {
      send({ peak_rss_mb: peakRssMb() });
      process.disconnect();
      return;
    }
    void timed(() => classify(INPUTS[message.time])).then((ms) => send({ ms }));
  });
}

/** A child process of this bench for one side, answering one message at a time. */
class Side {
  private readonly child: ChildProcess;
  private readonly replies: ChildMessage[] = [];
  private waiting: ((message: ChildMessage) => void) | null = null;

  constructor(side: string, dir: string, env: NodeJS.ProcessEnv) {
    const args = ['--child', side, '--dir', dir, '--weights', values.weights, ...(values.eager ? ['--eager'] : [])];
    this.child = fork(fileURLToPath(import.meta.url), args, { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (message: ChildMessage) => {
      if (this.waiting) {
        const resolve = this.waiting;
        this.waiting = null;
        resolve(message);
      } else this.replies.push(message);
    });
    this.child.on('exit', (code) => {
      if (code !== 0) throw new Error(`bench infer: the ${side} child exited with code ${code}`);
    });
  }

  next(): Promise<ChildMessage> {
    const queued = this.replies.shift();
    return queued ? Promise.resolve(queued) : new Promise((resolve) => (this.waiting = resolve));
  }

  async ask(message: ParentMessage): Promise<ChildMessage> {
    this.child.send(message);
    return this.next();
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Between two timed calls: onnxruntime's idle pool threads spin for a moment after a run before they sleep. */
const TURN_PAUSE_MS = 20;

/** One round: both sides loaded fresh, then timed turn by turn. */
async function runRound(round: number, dir: string, env: NodeJS.ProcessEnv, repeats: number) {
  const names = round % 2 === 0 ? (['attn', 'transformersjs'] as const) : (['transformersjs', 'attn'] as const);
  const sides = { attn: null as Side | null, transformersjs: null as Side | null };
  const cold: Record<string, number> = {};
  const loadedRss: Record<string, number> = {};
  for (const name of names) {
    const side = new Side(name, dir, env);
    cold[name] = ((await side.next()) as { cold_ms: number }).cold_ms;
    loadedRss[name] = ((await side.next()) as { peak_rss_mb: number }).peak_rss_mb;
    sides[name] = side;
  }
  const times: Record<string, Record<InputName, number[]>> = {};
  for (const name of names) times[name] = { short: [], long: [], batch: [] };
  for (let r = 0; r < repeats; r++) {
    const inputs: InputName[] = r % 4 === 0 ? ['short', 'long', 'batch'] : ['short', 'long'];
    for (const input of inputs) {
      for (const name of r % 2 === 0 ? names : [...names].reverse()) {
        await pause(TURN_PAUSE_MS);
        times[name]![input].push(((await sides[name]!.ask({ time: input })) as { ms: number }).ms);
      }
    }
  }
  const results = {} as Record<'attn' | 'transformersjs', SideResult>;
  for (const name of names) {
    const { peak_rss_mb } = (await sides[name]!.ask({ finish: true })) as { peak_rss_mb: number };
    const t = times[name]!;
    results[name] = {
      cold_ms: cold[name]!,
      short_ms: median(t.short),
      long_ms: median(t.long),
      batch16_per_s: (16 * 1000) / median(t.batch),
      peak_rss_mb: loadedRss[name]!,
      end_peak_rss_mb: peak_rss_mb,
    };
  }
  return results;
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
  if (values.child) return runChild(values.child, values.dir!);
  const dir = await buildModel();
  // A fresh compile cache: a first attn child compiles (its cold load is first_cold_ms, its peak RSS
  // first_peak_rss_mb); every round's child then finds the graph cached, as every run after the first on a machine
  // does, so each side's best is over the same number of rounds.
  const cache = join(tmpdir(), 'attn-bench-infer', 'compile-cache');
  rmSync(cache, { recursive: true, force: true });
  const env = { ...process.env, ATTN_CACHE_DIR: cache };
  const compiling = new Side('attn', dir, env);
  const firstCold = ((await compiling.next()) as { cold_ms: number }).cold_ms;
  await compiling.next(); // its peak RSS after warm-up
  const firstPeak = ((await compiling.ask({ finish: true })) as { peak_rss_mb: number }).peak_rss_mb;
  const runs: Record<'attn' | 'transformersjs', SideResult[]> = { attn: [], transformersjs: [] };
  for (let r = 0; r < Number(values.rounds); r++) {
    const results = await runRound(r, dir, env, repeats);
    for (const side of ['attn', 'transformersjs'] as const) {
      runs[side].push(results[side]);
      console.error(`round ${r + 1} ${side}: ${JSON.stringify(results[side])}`);
    }
  }
  const best = (side: keyof typeof runs): SideResult => ({
    cold_ms: Math.min(...runs[side].map((x) => x.cold_ms)),
    short_ms: Math.min(...runs[side].map((x) => x.short_ms)),
    long_ms: Math.min(...runs[side].map((x) => x.long_ms)),
    batch16_per_s: Math.max(...runs[side].map((x) => x.batch16_per_s)),
    peak_rss_mb: Math.min(...runs[side].map((x) => x.peak_rss_mb)),
    end_peak_rss_mb: Math.min(...runs[side].map((x) => x.end_peak_rss_mb)),
  });
  const attn = best('attn');
  const tjs = best('transformersjs');
  const show = (s: SideResult) => ({
    cold_ms: round1(s.cold_ms),
    short_ms: round1(s.short_ms),
    long_ms: round1(s.long_ms),
    batch16_per_s: round1(s.batch16_per_s),
    peak_rss_mb: Math.round(s.peak_rss_mb),
    end_peak_rss_mb: Math.round(s.end_peak_rss_mb),
  });
  console.log(
    JSON.stringify({
      bench: 'infer',
      model: 'distilbert-base-shaped sequence classification',
      mode: values.eager ? 'eager' : `compiled, weights ${values.weights}`,
      rounds: Number(values.rounds),
      repeats,
      attn: { ...show(attn), first_cold_ms: round1(firstCold), first_peak_rss_mb: Math.round(firstPeak) },
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
