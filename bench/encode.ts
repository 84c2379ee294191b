// Sentences/s embedding SST-2 dev sentences with Universal Sentence Encoder Lite, batches of 1 and 32: attn
// (models/use-lite, tokenizer included) against the original TF.js graph on tfjs-backend-cpu (its tokenizer
// included), interleaved so both see the same machine load. CPU seconds are reported next to wall time: on a shared
// machine they show whether a slow pass was waiting. Progress on stderr; the last stdout line is one JSON object.
// Run: npm run bench -- encode [--repeats 2]
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadTfjsUse } from '../scripts/use-tfjs-reference.js';
import { UseModel } from '../src/models/use/modeling_use.js';
import { noGrad } from '../src/tensor/engine.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '2' } } });
const REPEATS = Number(values.repeats);
/** Sentences per timed pass, per batch size: tfjs-backend-cpu (pure JS kernels) manages about one a second. */
const WORKLOAD: Record<number, number> = { 1: 32, 32: 64 };

interface Rate {
  sentences_per_s: number;
  cpu_s: number;
}

const lines = readFileSync(sharedPath('data/sst2/dev.tsv'), 'utf8')
  .split('\n')
  .slice(1)
  .filter((l) => l.trim() !== '');
const sentences = lines.map((l) => l.split('\t')[0]!);

const model = await UseModel.fromPretrained(resolve(projectRoot, 'models/use-lite'));
const reference = await loadTfjsUse();

const engines: Record<'attn' | 'tfjs', (texts: string[]) => Promise<unknown>> = {
  attn: async (texts) => noGrad(() => model.encode(texts, { batchSize: texts.length })),
  tfjs: (texts) => reference.embed(texts),
};

/** One pass over `count` sentences in batches of `batch`. */
async function pass(
  engine: keyof typeof engines,
  batch: number,
  count: number,
): Promise<{ seconds: number; cpu: number }> {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < count; i += batch) await engines[engine](sentences.slice(i, i + batch));
  const cpu = process.cpuUsage(cpuStart);
  return { seconds: (performance.now() - start) / 1000, cpu: (cpu.user + cpu.system) / 1e6 };
}

/** Largest |attn − TF.js| over the embeddings of the first sentences: the speed compared is of equal outputs. */
async function maxAbsDiff(count: number): Promise<number> {
  const texts = sentences.slice(0, count);
  const ours = noGrad(() => model.encode(texts));
  const theirs = await reference.embed(texts);
  return Math.max(
    ...theirs.map((row, i) => Math.max(...row.map((v, j) => Math.abs(v - ours.data[i * row.length + j]!)))),
  );
}

const results: Record<string, Record<string, Rate | number>> = {};
for (const batch of [1, 32]) {
  const count = WORKLOAD[batch]!;
  const best: Record<string, { seconds: number; cpu: number }> = {};
  for (const engine of ['attn', 'tfjs'] as const) await pass(engine, batch, batch); // warm-up: first-call costs
  for (let r = 0; r < REPEATS; r++) {
    for (const engine of ['attn', 'tfjs'] as const) {
      const timing = await pass(engine, batch, count);
      if (!best[engine] || timing.seconds < best[engine]!.seconds) best[engine] = timing;
      process.stderr.write(
        `batch ${batch} ${engine}: pass ${r + 1}/${REPEATS} ${(count / timing.seconds).toFixed(1)} sentences/s\n`,
      );
    }
  }
  const rate = (engine: string): Rate => ({
    sentences_per_s: Number((count / best[engine]!.seconds).toFixed(1)),
    cpu_s: Number(best[engine]!.cpu.toFixed(2)),
  });
  const attn = rate('attn');
  const tfjs = rate('tfjs');
  results[`batch_${batch}`] = {
    sentences: count,
    attn,
    tfjs,
    ratio: Number((attn.sentences_per_s / tfjs.sentences_per_s).toFixed(3)),
  };
}
const maxAbsDiffFirst32 = await maxAbsDiff(32);
console.log(
  JSON.stringify({
    bench: 'encode',
    model: 'models/use-lite',
    data: 'sst2/dev.tsv',
    repeats: REPEATS,
    ...results,
    max_abs_diff_first_32: maxAbsDiffFirst32,
  }),
);
