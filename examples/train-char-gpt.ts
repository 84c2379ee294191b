/**
 * A character-level GPT trained on Tiny Shakespeare: nanoGPT's CPU configuration (4 layers, 4 heads, 128 channels,
 * context 64, batch 12, no dropout, AdamW lr 1e-3) built from attn's nn blocks.
 *
 *   npm run build && node dist/examples/train-char-gpt.js [--steps 5000] [--eval-every 500] [--seed 1337]
 *
 * Prints the training progress, the final validation loss, a sample, and the wall time.
 */
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { Generator, noGrad, Tensor, tidy, ops } from '../src/tensor/index.js';
import {
  Embedding,
  F,
  LayerNorm,
  LearnedPositionalEmbedding,
  Module,
  ModuleList,
  TransformerDecoderLayer,
  defaultPositionIds,
} from '../src/nn/index.js';
import { AdamW, clipGradNorm, cosineScheduleWithWarmup } from '../src/optim/index.js';
import { sharedPath } from '../src/util/paths.js';
import { progress } from '../src/util/progress.js';

function option(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? Number(process.argv[at + 1]) : fallback;
}

const config = {
  nLayer: 4,
  nHead: 4,
  nEmbd: 128,
  blockSize: 64,
  batchSize: 12,
  lr: 1e-3,
  steps: option('steps', 5000),
  warmupSteps: 100,
  evalEvery: option('eval-every', 500),
  evalBatches: 20,
  finalEvalBatches: 200,
  seed: option('seed', 1337),
};

// ---- data: characters as tokens, 90% train / 10% validation ----

const text = readFileSync(sharedPath('data', 'tinyshakespeare', 'shakespeare.txt'), 'utf8');
const chars = [...new Set(text)].sort();
const charToId = new Map(chars.map((c, i) => [c, i]));
const ids = Int32Array.from(text, (c) => charToId.get(c)!);
const split = Math.floor(ids.length * 0.9);
const data = { train: ids.subarray(0, split), val: ids.subarray(split) };
const rng = new Generator(config.seed);

/** Random windows of the split: inputs (B, T) and the next characters as targets (B, T). */
function getBatch(source: Int32Array): { x: Tensor; y: Tensor } {
  const { batchSize: B, blockSize: T } = config;
  const x = new Int32Array(B * T);
  const y = new Int32Array(B * T);
  for (let b = 0; b < B; b++) {
    const start = rng.randint(source.length - T - 1);
    x.set(source.subarray(start, start + T), b * T);
    y.set(source.subarray(start + 1, start + T + 1), b * T);
  }
  return { x: new Tensor(x, [B, T]), y: new Tensor(y, [B, T]) };
}

// ---- the model ----

class GPT extends Module {
  wte: Embedding;
  wpe: LearnedPositionalEmbedding;
  h: ModuleList<TransformerDecoderLayer>;
  ln_f: LayerNorm;

  constructor(vocabSize: number) {
    super();
    const init = { std: 0.02, generator: new Generator(config.seed) };
    this.wte = new Embedding(vocabSize, config.nEmbd, init);
    this.wpe = new LearnedPositionalEmbedding(config.blockSize, config.nEmbd, init);
    // A GPT block is a pre-norm decoder layer without cross-attention: x + attn(ln(x)), then x + mlp(ln(x)).
    const block = (): TransformerDecoderLayer =>
      new TransformerDecoderLayer({
        dModel: config.nEmbd,
        numHeads: config.nHead,
        dFF: 4 * config.nEmbd,
        activation: 'gelu',
        normFirst: true,
        crossAttention: false,
        dropout: 0,
        ...init,
      });
    this.h = new ModuleList(Array.from({ length: config.nLayer }, block));
    this.ln_f = new LayerNorm(config.nEmbd);
  }

  /** Token ids (B, T) → next-character logits (B, T, V); the output layer shares the token embedding (weight tying). */
  forward(idx: Tensor): Tensor {
    const T = idx.shape[1]!;
    let x = ops.add(this.wte.forward(idx), this.wpe.forward(defaultPositionIds(T))); // (B, T, C) + (T, C)
    for (const block of this.h) x = block.forward(x).hidden;
    return F.linear(this.ln_f.forward(x), this.wte.weight); // (B, T, V)
  }

  loss(idx: Tensor, targets: Tensor): Tensor {
    const logits = this.forward(idx);
    const [B, T, V] = logits.shape as [number, number, number];
    return F.crossEntropy(ops.reshape(logits, [B * T, V]), ops.reshape(targets, [B * T]));
  }
}

const model = new GPT(chars.length);

/** Mean loss over `batches` random batches of a split, without recording gradients. */
function estimateLoss(source: Int32Array, batches: number): number {
  model.eval();
  let total = 0;
  for (let i = 0; i < batches; i++) {
    total += tidy(() =>
      noGrad(() => {
        const { x, y } = getBatch(source);
        return model.loss(x, y).item();
      }),
    );
  }
  model.train();
  return total / batches;
}

/** Samples `length` characters after `prompt` (temperature 1), cropping the context to the last blockSize. */
function sample(prompt: string, length: number): string {
  model.eval();
  const out = Array.from(prompt, (c) => charToId.get(c)!);
  for (let i = 0; i < length; i++) {
    const next = tidy(() =>
      noGrad(() => {
        const context = out.slice(-config.blockSize);
        const logits = model.forward(new Tensor(Int32Array.from(context), [1, context.length]));
        const probs = ops.softmax(ops.slice(logits, 1, -1), -1).data; // (1, 1, V)
        let r = rng.random();
        let id = 0;
        while (id < probs.length - 1 && (r -= probs[id]!) > 0) id++;
        return id;
      }),
    );
    out.push(next);
  }
  model.train();
  return out.map((id) => chars[id]).join('');
}

// ---- training ----

// Weight decay on matrices and embedding tables only, as nanoGPT: biases and norm gains are not decayed.
const params = model.parameters();
const optimizer = new AdamW(
  [
    { params: params.filter((p) => p.rank >= 2), weightDecay: 0.1 },
    { params: params.filter((p) => p.rank < 2), weightDecay: 0 },
  ],
  { lr: config.lr, betas: [0.9, 0.99] },
);
const schedule = cosineScheduleWithWarmup(optimizer, config.warmupSteps, config.steps);

console.log(
  `char-GPT: ${chars.length} characters, ${data.train.length} train / ${data.val.length} val tokens, ${(model.numParameters() / 1e6).toFixed(2)}M parameters, ${config.steps} steps`,
);
const started = performance.now();
// A bar on a terminal (JSON lines otherwise) from the first step; each evaluation stays as a line of its own.
const bar = progress({ label: 'train', total: config.steps, unit: 'step' });
let trainLoss: number;
for (let step = 1; step <= config.steps; step++) {
  // tidy frees every tensor the step makes (activations, gradients) once the update has been applied.
  trainLoss = tidy(() => {
    const { x, y } = getBatch(data.train);
    const loss = model.loss(x, y);
    loss.backward();
    clipGradNorm(params, 1.0);
    optimizer.step();
    optimizer.zeroGrad();
    return loss.item();
  });
  bar.tick(1, { loss: Number(trainLoss.toFixed(4)), lr: schedule.lastLr[0]! });
  schedule.step();
  if (step % config.evalEvery === 0 || step === config.steps) {
    const seconds = (performance.now() - started) / 1000;
    const val = estimateLoss(data.val, config.evalBatches);
    bar.note(
      `step ${step}: train loss ${trainLoss.toFixed(4)}, val loss ${val.toFixed(4)}, ${((seconds / step) * 1000).toFixed(0)} ms/step, ${seconds.toFixed(0)} s`,
    );
  }
}
bar.done();
const trainSeconds = (performance.now() - started) / 1000;
const finalVal = estimateLoss(data.val, config.finalEvalBatches);
console.log(`final val loss ${finalVal.toFixed(4)} (mean of ${config.finalEvalBatches} batches)`);
console.log('--- sample ---');
console.log(sample('\n', 300));
console.log('---');
console.log(
  `wall time: ${trainSeconds.toFixed(0)} s training, ${((performance.now() - started) / 1000).toFixed(0)} s in all`,
);
