/**
 * GPT training step and forward pass, the twin of ../shared/reference/torch_gpt_bench.py (same defaults: 4 layers,
 * d 256, 4 heads, context 128, batch 16, vocab 4096, AdamW, tied embeddings, learned positions, GELU MLP).
 * Prints one JSON line; when /usr/bin/python3 has torch, runs the PyTorch twin in the same run for `ratio`.
 * Usage: npm run bench -- train-step [--layers 4 --d 256 --heads 4 --ctx 128 --batch 16 --vocab 4096 --steps 10 --threads 0]
 */
import '../src/backends/register.js';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
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
import { sharedPath } from '../src/util/paths.js';

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

  constructor(readonly d: number, readonly heads: number) {
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
      qkv.slice(2, i * c, (i + 1) * c).reshape([b, t, this.heads, c / this.heads]).transpose(1, 2); // (B, H, T, D)
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

if (cfg.threads > 0) setNumThreads(cfg.threads);
manualSeed(0);
const model = new GPT(cfg.vocab, cfg.ctx, cfg.d, cfg.heads, cfg.layers);
const opt = new AdamW(model.parameters(), { lr: 3e-4, weightDecay: 0.1 });
const idx = randint(0, cfg.vocab, [cfg.batch, cfg.ctx]);
const tgt = randint(0, cfg.vocab, [cfg.batch, cfg.ctx]);

const step = (): number =>
  tidy(() => {
    const loss = model.forward(idx, tgt);
    opt.zeroGrad();
    loss.backward();
    opt.step();
    return loss.item();
  });

for (let i = 0; i < cfg.warmup; i++) step();
const stepTimes: number[] = [];
for (let i = 0; i < cfg.steps; i++) {
  const t0 = performance.now();
  const loss = step();
  stepTimes.push(performance.now() - t0);
  console.error(JSON.stringify({ step: i, loss: +loss.toFixed(4), ms: +stepTimes[i]!.toFixed(1) }));
}
const forwardTimes: number[] = [];
for (let i = 0; i < cfg.steps; i++) {
  const t0 = performance.now();
  tidy(() => noGrad(() => model.forward(idx, tgt).item()));
  forwardTimes.push(performance.now() - t0);
}
const stepMs = median(stepTimes);
const result: Record<string, unknown> = {
  bench: 'train-step',
  impl: 'attn',
  params: model.numParameters(),
  config: cfg,
  step_ms: +stepMs.toFixed(2),
  tokens_per_s: +((cfg.batch * cfg.ctx) / (stepMs / 1000)).toFixed(1),
  forward_ms: +median(forwardTimes).toFixed(2),
};

const twin = sharedPath('reference', 'torch_gpt_bench.py');
if (existsSync('/usr/bin/python3') && existsSync(twin) && spawnSync('/usr/bin/python3', ['-c', 'import torch']).status === 0) {
  // PyTorch's best thread setting on this machine: try 1 and 2 threads.
  let best: Record<string, number> | undefined;
  for (const threads of [1, 2]) {
    const args = [twin, ...['layers', 'd', 'heads', 'ctx', 'batch', 'vocab', 'steps', 'warmup'].flatMap((k) => [`--${k}`, String(cfg[k as keyof typeof cfg])]), '--threads', String(threads)];
    const run = spawnSync('/usr/bin/python3', args, { encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop();
    if (run.status !== 0 || !line) continue;
    const torch = JSON.parse(line) as Record<string, number>;
    if (!best || torch.tokens_per_s! > best.tokens_per_s!) best = { ...torch, threads };
  }
  if (best) {
    result.torch_tokens_per_s = best.tokens_per_s;
    result.torch_step_ms = best.step_ms;
    result.torch_forward_ms = best.forward_ms;
    result.torch_threads = best.threads;
    result.ratio = +((result.tokens_per_s as number) / best.tokens_per_s!).toFixed(3);
  }
}
console.log(JSON.stringify(result));
