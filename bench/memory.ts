/**
 * Memory over a long training run: 1,000 AdamW steps of a small GPT-style model, each wrapped in `tidy`,
 * reporting RSS at steps 100 and 1,000 (target: growth under 5%). Steps are compiled (one onnxruntime graph, as the
 * Trainer runs them) unless `--eager`. `--trainer` runs the steps through `Trainer.train()` instead (a one-layer
 * Llama of about the same size on random tokens), as a user would.
 * Usage: npm run bench -- memory [--steps 1000] [--eager] [--trainer]
 */
import '../src/backends/register.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scaledDotProductAttention } from '../src/nn/attention.js';
import * as F from '../src/nn/functional.js';
import { Embedding, LayerNorm, Linear } from '../src/nn/layers.js';
import { Module } from '../src/nn/module.js';
import { AdamW } from '../src/optim/index.js';
import { arange, randint } from '../src/tensor/creation.js';
import { tidy } from '../src/tensor/engine.js';
import { compileOptimizerStep } from '../src/training/compiled_step.js';
import { manualSeed } from '../src/tensor/random.js';
import type { Tensor } from '../src/tensor/tensor.js';

const stepsFlag = process.argv.indexOf('--steps');
const steps = stepsFlag >= 0 ? Number(process.argv[stepsFlag + 1]) : 1000;

class TinyLM extends Module {
  tok = new Embedding(256, 64);
  pos = new Embedding(32, 64);
  ln = new LayerNorm(64);
  qkv = new Linear(64, 192);
  mlp = new Linear(64, 64);

  forward(idx: Tensor, targets: Tensor): Tensor {
    const [b, t] = idx.shape as [number, number];
    let x = this.tok.forward(idx).add(this.pos.forward(arange(t))); // (B, T, C)
    const qkv = this.qkv.forward(this.ln.forward(x));
    const heads = (i: number): Tensor =>
      qkv
        .slice(2, i * 64, (i + 1) * 64)
        .reshape([b, t, 4, 16])
        .transpose(1, 2);
    const y = scaledDotProductAttention(heads(0), heads(1), heads(2), { causal: true }).output;
    x = x.add(y.transpose(1, 2).reshape([b, t, 64]));
    x = x.add(this.mlp.forward(x).gelu());
    const logits = x.matmul(this.tok.weight.transpose(0, 1));
    return F.crossEntropy(logits.reshape([b * t, 256]), targets.reshape([b * t]));
  }
}

const eager = process.argv.includes('--eager');
const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;
const marks: Record<string, number> = {};
let loss = 0;
/** Records RSS at step 100 and at the last step. */
function mark(step: number): void {
  if (step !== 100 && step !== steps) return;
  marks[`rss_mib_step_${step}`] = +rssMiB().toFixed(1);
  console.error(JSON.stringify({ step, rss_mib: marks[`rss_mib_step_${step}`] }));
}

/** The same number of steps through Trainer.train(): collation, the compiled step, the Trainer's bookkeeping. */
async function trainerLoop(): Promise<void> {
  // Imported here: loading them in the bare loop's process too raised its RSS at step 100 and moved its figure.
  const { Dataset } = await import('../src/data/index.js');
  const { LlamaConfig, LlamaForCausalLM } = await import('../src/models/index.js');
  const { Trainer, TrainingArguments } = await import('../src/training/index.js');
  manualSeed(0);
  const model = new LlamaForCausalLM(
    new LlamaConfig({
      model_type: 'llama',
      vocab_size: 256,
      hidden_size: 64,
      intermediate_size: 128,
      num_hidden_layers: 1,
      num_attention_heads: 4,
      max_position_embeddings: 32,
    }),
  );
  let seed = 1;
  const token = (): number => (seed = (seed * 1103515245 + 12345) % 2147483648) % 256;
  const rows = Array.from({ length: 512 }, () => {
    const ids = Array.from({ length: 32 }, token);
    return { input_ids: ids, labels: ids };
  });
  const outputDir = mkdtempSync(join(tmpdir(), 'attn-bench-memory-'));
  try {
    const trainer = new Trainer({
      model,
      args: new TrainingArguments({
        outputDir,
        maxSteps: steps,
        perDeviceTrainBatchSize: 8,
        learningRate: 1e-3,
        saveStrategy: 'no',
        loggingSteps: steps,
        progress: false,
        stepMode: eager ? 'eager' : 'compiled',
      }),
      trainDataset: Dataset.fromRecords(rows, 'random tokens'),
      callbacks: [{ onStepEnd: ({ state }) => mark(state.globalStep) }],
    });
    loss = (await trainer.train()).trainingLoss;
  } finally {
    rmSync(outputDir, { recursive: true, force: true });
  }
}

const viaTrainer = process.argv.includes('--trainer');
if (viaTrainer) await trainerLoop();
else {
  manualSeed(0);
  const model = new TinyLM();
  const opt = new AdamW(model.parameters(), { lr: 1e-3 });
  const compiled = eager ? null : compileOptimizerStep(opt);
  const update = (batch: Record<string, Tensor>): Record<string, Tensor> => {
    const l = model.forward(batch.idx!, batch.targets!);
    opt.zeroGrad();
    l.backward();
    opt.step();
    return { loss: l };
  };
  for (let step = 1; step <= steps; step++) {
    loss = tidy(() => {
      const idx = randint(0, 256, [8, 33]);
      // Next-token targets over random text: the loss stays near ln 256, so every step does full work.
      const batch = { idx: idx.slice(1, 0, 32), targets: idx.slice(1, 1, 33) };
      return (compiled ? compiled.run(batch, update).outputs : update(batch)).loss!.item();
    });
    mark(step);
  }
  compiled?.dispose();
}
const growth = (marks[`rss_mib_step_${steps}`]! - marks.rss_mib_step_100!) / marks.rss_mib_step_100!;
console.log(
  JSON.stringify({
    bench: 'memory',
    mode: eager ? 'eager' : 'compiled',
    loop: viaTrainer ? 'trainer' : 'bare',
    steps,
    ...marks,
    growth_pct: +(growth * 100).toFixed(2),
    final_loss: +loss.toFixed(4),
  }),
);
