// `npm run bench -- quantize [--rounds N] [--repeats N]`: a DistilBERT-base-shaped sequence classifier (6 layers,
// d768, 12 heads, vocab 30,522; random weights built by attn) in fp32 and quantized to int8 by attn, both run
// through attn's text-classification pipeline (compiled graphs) in this process: weights' size on disk, and batch-1
// latency on a ~128-token text (median of the repeats, the two models interleaved; best round of each). The last
// line is one JSON object with ratio_size (int8 / fp32, <= 0.30 is the goal) and speedup (fp32 / int8 latency,
// >= 1.5 is the goal).
import '../src/backends/register.js';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DistilBertConfig, DistilBertForSequenceClassification } from '../src/models/index.js';
import { quantize } from '../src/models/quantization.js';
import { pipeline } from '../src/pipelines/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { sharedPath } from '../src/util/paths.js';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' }, repeats: { type: 'string', default: '15' } } });

const LONG_SENTENCE = 'The film opens slowly, but the second half is gripping and the music carries every scene to the end.';
/** About 128 tokens with [CLS] and [SEP]. */
const LONG = Array.from({ length: 6 }, () => LONG_SENTENCE).join(' ');

/** The fp32 and int8 folders, built once per machine. */
async function buildModels(): Promise<{ fp32: string; int8: string }> {
  const root = join(tmpdir(), 'attn-bench-quantize');
  const fp32 = join(root, 'distilbert-base-shaped');
  const int8 = join(root, 'distilbert-base-shaped-int8');
  if (existsSync(join(int8, 'model.safetensors'))) return { fp32, int8 };
  const vocab = sharedPath('tokenizers/bert-base-uncased');
  if (!existsSync(join(vocab, 'vocab.txt'))) throw new Error(`quantize bench: needs the BERT vocabulary at ${vocab}/vocab.txt`);
  mkdirSync(root, { recursive: true });
  manualSeed(13);
  const config = new DistilBertConfig({ model_type: 'distilbert', id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } }, 'bench');
  const model = new DistilBertForSequenceClassification(config).eval();
  const tokenizer = await AutoTokenizer.fromPretrained(vocab);
  await model.savePretrained(fp32);
  await tokenizer.savePretrained(fp32);
  await quantize(model, { dtype: 'int8' }).savePretrained(int8);
  await tokenizer.savePretrained(int8);
  return { fp32, int8 };
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function main(): Promise<void> {
  const { fp32, int8 } = await buildModels();
  const fp32Bytes = statSync(join(fp32, 'model.safetensors')).size;
  const int8Bytes = statSync(join(int8, 'model.safetensors')).size;
  const sides = { fp32: await pipeline('text-classification', fp32), int8: await pipeline('text-classification', int8) };
  for (const classify of Object.values(sides)) await classify(LONG); // compiles
  const best = { fp32: Infinity, int8: Infinity };
  for (let r = 0; r < Number(values.rounds); r++) {
    const times: Record<keyof typeof sides, number[]> = { fp32: [], int8: [] };
    for (let i = 0; i < Number(values.repeats); i++) {
      for (const side of i % 2 === 0 ? (['fp32', 'int8'] as const) : (['int8', 'fp32'] as const)) {
        const started = performance.now();
        await sides[side](LONG);
        times[side].push(performance.now() - started);
      }
    }
    for (const side of ['fp32', 'int8'] as const) best[side] = Math.min(best[side], median(times[side]));
    console.error(`round ${r + 1}: fp32 ${median(times.fp32).toFixed(1)} ms, int8 ${median(times.int8).toFixed(1)} ms`);
  }
  const tokens = (await AutoTokenizer.fromPretrained(fp32)).encode(LONG).inputIds[0]!.length;
  console.log(
    JSON.stringify({
      bench: 'quantize',
      model: 'distilbert-base-shaped sequence classification, compiled pipeline, batch 1',
      tokens,
      rounds: Number(values.rounds),
      repeats: Number(values.repeats),
      fp32: { bytes: fp32Bytes, long_ms: Number(best.fp32.toFixed(1)) },
      int8: { bytes: int8Bytes, long_ms: Number(best.int8.toFixed(1)) },
      ratio_size: Number((int8Bytes / fp32Bytes).toFixed(3)),
      speedup: Number((best.fp32 / best.int8).toFixed(3)),
    }),
  );
}

await main();
