/**
 * Memory over a long training run: 1,000 AdamW steps of a small GPT-style model, each wrapped in `tidy`,
 * reporting RSS at steps 100 and 1,000 (target: growth under 5%). Steps are compiled (one onnxruntime graph, as the
 * Trainer runs them) unless `--eager`. Usage: npm run bench -- memory [--steps 1000] [--eager]
 */
import '../src/backends/register.js';
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

manualSeed(0);
const model = new TinyLM();
const opt = new AdamW(model.parameters(), { lr: 1e-3 });
const eager = process.argv.includes('--eager');
const compiled = eager ? null : compileOptimizerStep(opt);
const update = (batch: Record<string, Tensor>): Record<string, Tensor> => {
  const l = model.forward(batch.idx!, batch.targets!);
  opt.zeroGrad();
  l.backward();
  opt.step();
  return { loss: l };
};
const rssMiB = (): number => process.memoryUsage().rss / 2 ** 20;
const marks: Record<string, number> = {};
let loss = 0;
for (let step = 1; step <= steps; step++) {
  loss = tidy(() => {
    const idx = randint(0, 256, [8, 33]);
    // Next-token targets over random text: the loss stays near ln 256, so every step does full work.
    const batch = { idx: idx.slice(1, 0, 32), targets: idx.slice(1, 1, 33) };
    return (compiled ? compiled.run(batch, update).outputs : update(batch)).loss!.item();
  });
  if (step === 100 || step === steps) {
    marks[`rss_mib_step_${step}`] = +rssMiB().toFixed(1);
    console.error(JSON.stringify({ step, loss: +loss.toFixed(4), rss_mib: marks[`rss_mib_step_${step}`] }));
  }
}
const growth = (marks[`rss_mib_step_${steps}`]! - marks.rss_mib_step_100!) / marks.rss_mib_step_100!;
compiled?.dispose();
console.log(
  JSON.stringify({
    bench: 'memory',
    mode: eager ? 'eager' : 'compiled',
    steps,
    ...marks,
    growth_pct: +(growth * 100).toFixed(2),
    final_loss: +loss.toFixed(4),
  }),
);
