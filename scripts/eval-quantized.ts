// Quantized against float on the shipped models:
//   sentiment-en, int8 (pipeline dtype 'q8') vs fp32 on SST-2 dev (../shared/data/sst2/dev.tsv, phrases): how often
//     the top label is the same, and each one's accuracy; also on the dev items of 20+ words (closer to full
//     sentences, see issue 17's note on the phrase split);
//   tinystories-llama, int8 (dtype 'q8') and q4 (dtype 'q4') vs fp32: greedy continuations of story openings
//     (identical first 20 tokens?), perplexity on the generator's held-out stories (scripts/train-stories.ts's 10%
//     of ../shared/data/tinystories) and milliseconds per new token of greedy decoding.
// Run: npx tsx scripts/eval-quantized.ts [--sst2 6735] [--prompts 20] [--stories 200]
// Progress goes to stderr; the last stdout line is one JSON object.
import '../src/backends/register.js';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { perplexity } from '../src/metrics/perplexity.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling_llama.js';
import { quantize } from '../src/models/quantization.js';
import { pipeline, type ClassificationLabel, type TextGenerationPipeline } from '../src/pipelines/index.js';
import { noGrad } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { progress } from '../src/util/progress.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { readTsv } from './eval-use.js';
import { storiesSplit } from './train-common.js';

const { values } = parseArgs({
  options: {
    sst2: { type: 'string', default: '6735' },
    prompts: { type: 'string', default: '20' },
    stories: { type: 'string', default: '200' },
  },
});

const round4 = (x: number): number => Number(x.toFixed(4));

async function sentiment(limit: number): Promise<Record<string, unknown>> {
  const dir = join(projectRoot, 'models/sentiment-en');
  const { texts, labels } = readTsv(sharedPath('data/sst2/dev.tsv'), { header: true, limit });
  const fp32 = await pipeline('sentiment-analysis', dir, { dtype: 'fp32', batchSize: 64 });
  const q8 = await pipeline('sentiment-analysis', dir, { dtype: 'q8', batchSize: 64 });
  const names = fp32.model.config.id2label;
  const gold = labels.map((l) => names[Number(l)]);
  const predictions = { fp32: [] as string[], q8: [] as string[] };
  const bar = progress({ label: 'sst2 dev', total: texts.length });
  for (let start = 0; start < texts.length; start += 256) {
    const chunk = texts.slice(start, start + 256);
    predictions.fp32.push(...((await fp32(chunk)) as ClassificationLabel[]).map((r) => r.label));
    predictions.q8.push(...((await q8(chunk)) as ClassificationLabel[]).map((r) => r.label));
    bar.tick(chunk.length);
  }
  bar.done();
  const score = (rows: number[]) => ({
    items: rows.length,
    agreement: round4(rows.filter((i) => predictions.fp32[i] === predictions.q8[i]).length / rows.length),
    accuracy_fp32: round4(rows.filter((i) => predictions.fp32[i] === gold[i]).length / rows.length),
    accuracy_q8: round4(rows.filter((i) => predictions.q8[i] === gold[i]).length / rows.length),
  });
  const all = texts.map((_, i) => i);
  return { all: score(all), words20plus: score(all.filter((i) => texts[i]!.split(/\s+/).length >= 20)) };
}

/**
 * Milliseconds per new token of greedy decoding (64 tokens after a short prompt) for each generator, one at a time:
 * the best of 3 rounds, each running every generator 3 times in turn, so that warm-up and load fall on all alike.
 */
async function msPerToken<K extends string>(generators: Record<K, TextGenerationPipeline>): Promise<Record<K, number>> {
  const tokens = 64;
  const best = Object.fromEntries(Object.keys(generators).map((k) => [k, Infinity])) as Record<K, number>;
  for (let round = 0; round < 3; round++)
    for (const [name, generator] of Object.entries(generators) as [K, TextGenerationPipeline][])
      for (let run = 0; run < 3; run++) {
        const started = performance.now();
        await generator('Once upon a time', { maxNewTokens: tokens, minNewTokens: tokens });
        best[name] = Math.min(best[name], (performance.now() - started) / tokens);
      }
  for (const name of Object.keys(best) as K[]) best[name] = round4(best[name]);
  return best;
}

async function stories(promptCount: number, storyCount: number): Promise<Record<string, unknown>> {
  const dir = join(projectRoot, 'models/tinystories-llama');
  // The generator's own held-out 10% (scripts/train-stories.ts, seed 42): stories it never trained on.
  const held = ((await storiesSplit(42)).validation.column('text') as string[])
    .map((s) => s.trim())
    .filter((s) => s.split(/\s+/).length >= 20);
  const sides = ['int8', 'q4'] as const;
  const fp32 = await pipeline('text-generation', dir);
  const quantized = {
    int8: await pipeline('text-generation', dir, { dtype: 'q8' }),
    q4: await pipeline('text-generation', dir, { dtype: 'q4' }),
  };
  const same = { int8: 0, q4: 0 };
  const prompts = held.slice(0, promptCount);
  const bar = progress({ label: 'greedy 20 tokens', total: prompts.length });
  for (const story of prompts) {
    const prompt = story.split(/\s+/).slice(0, 4).join(' ');
    const [want] = await fp32(prompt, { maxNewTokens: 20 });
    for (const side of sides) {
      const [got] = await quantized[side](prompt, { maxNewTokens: 20 });
      if (want!.generated_text === got!.generated_text) same[side]++;
    }
    bar.tick();
  }
  bar.done();
  // Timed before the perplexity models below exist, so only the three pipelines are in memory.
  const speed = await msPerToken({ fp32, ...quantized });
  const tokenizer = await AutoTokenizer.fromPretrained(dir);
  const models = {
    fp32: await LlamaForCausalLM.fromPretrained(dir),
    int8: quantize(await LlamaForCausalLM.fromPretrained(dir), { dtype: 'int8' }),
    q4: quantize(await LlamaForCausalLM.fromPretrained(dir), { dtype: 'q4' }),
  };
  const window = models.fp32.config.contextWindow ?? 128;
  const nll = { fp32: 0, int8: 0, q4: 0 };
  let tokens = 0;
  const scored = held.slice(promptCount, promptCount + storyCount);
  const ppl = progress({ label: 'perplexity', total: scored.length });
  for (const story of scored) {
    const ids = tokenizer.encode(story).inputIds[0]!.slice(0, window);
    const inputIds = new Tensor(Int32Array.from(ids), [1, ids.length]);
    for (const side of ['fp32', ...sides] as const) {
      const loss = noGrad(() => models[side].forward({ inputIds, labels: inputIds }).loss!);
      nll[side] += loss.data[0]! * (ids.length - 1);
    }
    tokens += ids.length - 1;
    ppl.tick();
  }
  ppl.done();
  const pplFp32 = perplexity(nll.fp32 / tokens);
  return {
    prompts: prompts.length,
    stories: scored.length,
    tokens,
    perplexity_fp32: round4(pplFp32),
    ms_per_token_fp32: speed.fp32,
    ...Object.fromEntries(
      sides.map((side) => [
        side,
        {
          greedy20_identical: same[side],
          perplexity: round4(perplexity(nll[side] / tokens)),
          perplexity_change: round4(perplexity(nll[side] / tokens) / pplFp32 - 1),
          ms_per_token: speed[side],
        },
      ]),
    ),
  };
}

const sst2 = await sentiment(Number(values.sst2));
const causal = await stories(Number(values.prompts), Number(values.stories));
console.log(JSON.stringify({ eval: 'quantized', sentiment_en_q8: sst2, tinystories: causal }));
