// `npm run bench -- quantize [--rounds N] [--repeats N]`: a DistilBERT-base-shaped sequence classifier (6 layers,
// d768, 12 heads, vocab 30,522; random weights built by attn) in fp32 and quantized to int8 by attn, both run
// through attn's text-classification pipeline (compiled graphs) in this process: weights' size on disk, and batch-1
// latency on a ~128-token text (median of the repeats, the two models interleaved; best round of each), and the
// peak RSS of each pipeline alone in a child process (also int8 with its codes read into JS as int32, 'packed':
// how int8 checkpoints ran before their codes stayed in the file). Then the
// shipped stories model (models/tinystories-llama) in fp32 and q4: size, and greedy decoding time per token.
// The last line is one JSON object with ratio_size (int8 / fp32, <= 0.30 is the goal), speedup (fp32 / int8
// latency, >= 1.5 is the goal) and the causal LM's q4 figures.
import '../src/backends/register.js';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { LlamaForCausalLM } from '../src/models/index.js';
import { quantize } from '../src/models/quantization.js';
import { pipeline, type PipelineFactoryOptions } from '../src/pipelines/index.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { projectRoot } from '../src/util/paths.js';
import { distilbertBaseShaped } from './_distilbert.js';
import { peakRssMb } from './_peak_rss.js';

const { values } = parseArgs({
  options: { rounds: { type: 'string', default: '3' }, repeats: { type: 'string', default: '15' } },
});

const LONG_SENTENCE =
  'The film opens slowly, but the second half is gripping and the music carries every scene to the end.';
/** About 128 tokens with [CLS] and [SEP]. */
const LONG = Array.from({ length: 6 }, () => LONG_SENTENCE).join(' ');

/** The fp32 and int8 folders, built once per machine. */
async function buildModels(): Promise<{ fp32: string; int8: string }> {
  const root = join(tmpdir(), 'attn-bench-quantize');
  const fp32 = join(root, 'distilbert-base-shaped');
  const int8 = join(root, 'distilbert-base-shaped-int8');
  if (existsSync(join(int8, 'model.safetensors'))) return { fp32, int8 };
  const { model, tokenizer } = await distilbertBaseShaped();
  mkdirSync(root, { recursive: true });
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

/** fp32 vs q4 greedy decoding of the stories model: weights' size and milliseconds per new token (best round). */
async function causalLm(rounds: number, repeats: number): Promise<Record<string, number>> {
  const fp32 = join(projectRoot, 'models/tinystories-llama');
  const q4 = join(tmpdir(), 'attn-bench-quantize', 'tinystories-llama-q4');
  await quantize(await LlamaForCausalLM.fromPretrained(fp32), { dtype: 'q4' }).savePretrained(q4);
  const sides = {
    fp32: await pipeline('text-generation', fp32),
    q4: await pipeline('text-generation', fp32, { dtype: 'q4' }),
  };
  const newTokens = 32;
  const best = { fp32: Infinity, q4: Infinity };
  for (const generate of Object.values(sides)) await generate('Once upon a time', { maxNewTokens: newTokens });
  for (let r = 0; r < rounds; r++) {
    const times: Record<keyof typeof sides, number[]> = { fp32: [], q4: [] };
    for (let i = 0; i < repeats; i++) {
      for (const side of i % 2 === 0 ? (['fp32', 'q4'] as const) : (['q4', 'fp32'] as const)) {
        const started = performance.now();
        await sides[side]('Once upon a time', { maxNewTokens: newTokens });
        times[side].push((performance.now() - started) / newTokens);
      }
    }
    for (const side of ['fp32', 'q4'] as const) best[side] = Math.min(best[side], median(times[side]));
  }
  const fp32Bytes = statSync(join(fp32, 'model.safetensors')).size;
  const q4Bytes = statSync(join(q4, 'model.safetensors')).size;
  return {
    fp32_ms_per_token: Number(best.fp32.toFixed(2)),
    q4_ms_per_token: Number(best.q4.toFixed(2)),
    speedup_q4: Number((best.fp32 / best.q4).toFixed(3)),
    ratio_size_q4: Number((q4Bytes / fp32Bytes).toFixed(3)),
  };
}

async function main(): Promise<void> {
  const { fp32, int8 } = await buildModels();
  const fp32Bytes = statSync(join(fp32, 'model.safetensors')).size;
  const int8Bytes = statSync(join(int8, 'model.safetensors')).size;
  const sides = {
    fp32: await pipeline('text-classification', fp32),
    int8: await pipeline('text-classification', int8),
  };
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
  // Each alone in a child; the compile cache is warm from the calls above, as for any process after the first.
  const rssOf = (dir: string, options: PipelineFactoryOptions = {}) =>
    peakRssMb({ task: 'text-classification', dir, options, input: LONG, calls: 3 });
  const peakRss = {
    fp32: await rssOf(fp32),
    int8: await rssOf(int8),
    int8_codes_in_js: await rssOf(int8, { compiledWeights: 'packed' }),
  };
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
      peak_rss_mb: peakRss,
      tinystories_llama: await causalLm(Number(values.rounds), Math.max(3, Math.floor(Number(values.repeats) / 3))),
    }),
  );
}

await main();
