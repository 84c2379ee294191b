/**
 * GPT training step and forward pass, the twin of ../shared/reference/torch_gpt_bench.py (same defaults: 4 layers,
 * d 256, 4 heads, context 128, batch 16, vocab 4096, AdamW, tied embeddings, learned positions, GELU MLP).
 * Prints one JSON line; when /usr/bin/python3 has torch, runs the PyTorch twin in the same run (at 1 and 2 threads,
 * the faster kept; attn likewise at 1 thread and one per core) for `ratio`. The step is compiled (one onnxruntime graph, as the Trainer runs it) unless
 * `--eager`. The twin reports the mean of its timed steps, so `ratio` compares means; the median is printed too.
 * Usage: npm run bench -- train-step [--layers 4 --d 256 --heads 4 --ctx 128 --batch 16 --vocab 4096 --steps 10
 *        --threads 0 --eager --optimization all|extended|basic --no-torch]
 */
import '../src/backends/register.js';
import { scaledDotProductAttention } from '../src/nn/attention.js';
import * as F from '../src/nn/functional.js';
import { Embedding, LayerNorm, Linear } from '../src/nn/layers.js';
import { Module, ModuleList } from '../src/nn/module.js';
import { AdamW } from '../src/optim/index.js';
import { randint } from '../src/tensor/creation.js';
import { noGrad, setNumThreads, tidy } from '../src/tensor/engine.js';
import { manualSeed } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';
import { arange } from '../src/tensor/creation.js';
import { compileOptimizerStep } from '../src/training/compiled_step.js';
import { runTwin } from './_twin.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const cfg = {
  layers: arg('layers', 4),
  d: arg('d', 256),
  heads: arg('heads', 4),
  ctx: arg('ctx', 128),
  batch: arg('batch', 16),
  vocab: arg('vocab', 4096),
  steps: arg('steps', 10),
  warmup: arg('warmup', 3),
  threads: arg('threads', 0),
};

class Block extends Module {
  ln1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  ln2: LayerNorm;
  fc: Linear;
  out: Linear;

  constructor(
    readonly d: number,
    readonly heads: number,
  ) {
    super();
    this.ln1 = new LayerNorm(d);
    this.qkv = new Linear(d, 3 * d);
    this.proj = new Linear(d, d);
    this.ln2 = new LayerNorm(d);
    this.fc = new Linear(d, 4 * d);
    this.out = new Linear(4 * d, d);
  }

  forward(x: Tensor): Tensor {
    const [b, t, c] = x.shape as [number, number, number];
    const qkv = this.qkv.forward(this.ln1.forward(x)); // (B, T, 3C)
    const split = (i: number): Tensor =>
      qkv
        .slice(2, i * c, (i + 1) * c)
        .reshape([b, t, this.heads, c / this.heads])
        .transpose(1, 2); // (B, H, T, D)
    const y = scaledDotProductAttention(split(0), split(1), split(2), { causal: true }).output;
    x = x.add(this.proj.forward(y.transpose(1, 2).reshape([b, t, c])));
    return x.add(this.out.forward(this.fc.forward(this.ln2.forward(x)).gelu()));
  }
}

class GPT extends Module {
  tok: Embedding;
  pos: Embedding;
  blocks: ModuleList<Block>;
  ln: LayerNorm;

  constructor(vocab: number, ctx: number, d: number, heads: number, layers: number) {
    super();
    this.tok = new Embedding(vocab, d);
    this.pos = new Embedding(ctx, d);
    this.blocks = new ModuleList(Array.from({ length: layers }, () => new Block(d, heads)));
    this.ln = new LayerNorm(d);
  }

  forward(idx: Tensor, targets: Tensor): Tensor {
    const t = idx.shape[1]!;
    let x = this.tok.forward(idx).add(this.pos.forward(arange(t)));
    for (const block of this.blocks) x = block.forward(x);
    const logits = this.ln.forward(x).matmul(this.tok.weight.transpose(0, 1)); // (B, T, V)
    return F.crossEntropy(logits.reshape([-1, logits.shape[2]!]), targets.reshape([-1]));
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function mean(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0) / xs.length;
}

const eager = process.argv.includes('--eager');
manualSeed(0);
const model = new GPT(cfg.vocab, cfg.ctx, cfg.d, cfg.heads, cfg.layers);
const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
const idx = randint(0, cfg.vocab, [cfg.batch, cfg.ctx]);
const tgt = randint(0, cfg.vocab, [cfg.batch, cfg.ctx]);
const optimizationFlag = process.argv.indexOf('--optimization');
const optimization =
  optimizationFlag >= 0 ? (process.argv[optimizationFlag + 1] as 'basic' | 'extended' | 'all') : 'all';

const update = (batch: Record<string, Tensor>): Record<string, Tensor> => {
  const loss = model.forward(batch.idx!, batch.tgt!);
  opt.zeroGrad();
  loss.backward();
  opt.step();
  return { loss };
};

interface Run {
  threads: number;
  stepTimes: number[];
  cpuMs: number;
  warmupMs: number;
  graphs: number;
}

/** Warm-up then timed steps with `threads` intra-op threads (a fresh compiled step: sessions keep their count). */
function measure(threads: number): Run {
  setNumThreads(threads);
  const compiled = eager ? null : compileOptimizerStep(opt, { optimization });
  const step = (): number =>
    tidy(() => (compiled ? compiled.run({ idx, tgt }, update).outputs : update({ idx, tgt })).loss!.item());
  const firstStart = performance.now();
  for (let i = 0; i < cfg.warmup; i++) step();
  const warmupMs = performance.now() - firstStart;
  const stepTimes: number[] = [];
  // CPU time (all threads) of the timed steps: the work done, which the machine's load inflates less than the wall.
  const cpuBefore = process.cpuUsage();
  for (let i = 0; i < cfg.steps; i++) {
    const t0 = performance.now();
    const loss = step();
    stepTimes.push(performance.now() - t0);
    console.error(JSON.stringify({ threads, step: i, loss: +loss.toFixed(4), ms: +stepTimes[i]!.toFixed(1) }));
  }
  const cpu = process.cpuUsage(cpuBefore);
  const graphs = compiled?.graphCount ?? 0;
  compiled?.dispose();
  return { threads, stepTimes, cpuMs: (cpu.user + cpu.system) / 1000 / cfg.steps, warmupMs, graphs };
}

// As the twin: 1 and 2 threads (0 = one per core, 2 here), the faster kept, unless --threads picks one.
const runs = (cfg.threads > 0 ? [cfg.threads] : [1, 0]).map(measure);
const best = runs.reduce((a, b) => (mean(b.stepTimes) < mean(a.stepTimes) ? b : a));
setNumThreads(best.threads);
const forwardTimes: number[] = [];
for (let i = 0; i < cfg.steps; i++) {
  const t0 = performance.now();
  tidy(() => noGrad(() => model.forward(idx, tgt).item()));
  forwardTimes.push(performance.now() - t0);
}
const stepMs = mean(best.stepTimes);
const tokens = cfg.batch * cfg.ctx;
const result: Record<string, unknown> = {
  bench: 'train-step',
  impl: 'attn',
  mode: eager ? 'eager' : 'compiled',
  params: model.numParameters(),
  config: cfg,
  threads: best.threads,
  step_ms: +stepMs.toFixed(2),
  step_ms_median: +median(best.stepTimes).toFixed(2),
  tokens_per_s: +(tokens / (stepMs / 1000)).toFixed(1),
  runs: Object.fromEntries(
    runs.map((r) => [
      `threads_${r.threads}`,
      { step_ms: +mean(r.stepTimes).toFixed(1), cpu_ms_per_step: +r.cpuMs.toFixed(1) },
    ]),
  ),
  // The warm-up steps include recording the step and building its onnxruntime session.
  warmup_ms: +best.warmupMs.toFixed(0),
  forward_ms_eager: +median(forwardTimes).toFixed(2),
  cpu_ms_per_step: +best.cpuMs.toFixed(1),
  optimization: eager ? null : optimization,
  graphs: best.graphs,
};

const twin = process.argv.includes('--no-torch')
  ? null
  : runTwin(
      'torch_gpt_bench.py',
      ['layers', 'd', 'heads', 'ctx', 'batch', 'vocab', 'steps', 'warmup'].flatMap((k) => [
        `--${k}`,
        String(cfg[k as keyof typeof cfg]),
      ]),
      'tokens_per_s',
    );
if (twin) {
  result.torch_tokens_per_s = twin.best.tokens_per_s;
  result.torch_step_ms = twin.best.step_ms;
  result.torch_forward_ms = twin.best.forward_ms;
  result.torch_threads = twin.best.threads;
  result.torch_runs = twin.runs;
  result.ratio = +((result.tokens_per_s as number) / twin.best.tokens_per_s!).toFixed(3);
}
console.log(JSON.stringify(result));
