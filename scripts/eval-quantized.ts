// Quantized against float on the shipped models:
//   sentiment-en, int8 (pipeline dtype 'q8') vs fp32 on SST-2 dev (../shared/data/sst2/dev.tsv, phrases): how often
//     the top label is the same, and each one's accuracy; also on the dev items of 20+ words (closer to full
//     sentences, see issue 17's note on the phrase split);
//   tinystories-llama, q4 (dtype 'q4') vs fp32: greedy continuations of story openings (identical first 20 tokens?)
//     and perplexity on held-out stories (../shared/data/tinystories/tinystories_val_subset.txt).
// Run: npx tsx scripts/eval-quantized.ts [--sst2 6735] [--prompts 20] [--stories 200]
// Progress goes to stderr; the last stdout line is one JSON object.
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { perplexity } from '../src/metrics/perplexity.js';
import { LlamaForCausalLM } from '../src/models/llama/modeling_llama.js';
import { quantize } from '../src/models/quantization.js';
import { pipeline, type ClassificationLabel } from '../src/pipelines/index.js';
import { noGrad } from '../src/tensor/engine.js';
import { Tensor } from '../src/tensor/tensor.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { progress } from '../src/util/progress.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { readTsv } from './eval-use.js';

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

async function stories(promptCount: number, storyCount: number): Promise<Record<string, unknown>> {
  const dir = join(projectRoot, 'models/tinystories-llama');
  const held = readFileSync(sharedPath('data/tinystories/tinystories_val_subset.txt'), 'utf8')
    .split(/\n\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s.split(/\s+/).length >= 20);
  const fp32 = await pipeline('text-generation', dir);
  const q4 = await pipeline('text-generation', dir, { dtype: 'q4' });
  let same = 0;
  const bar = progress({ label: 'greedy 20 tokens', total: promptCount });
  for (const story of held.slice(0, promptCount)) {
    const prompt = story.split(/\s+/).slice(0, 4).join(' ');
    const [want] = await fp32(prompt, { maxNewTokens: 20 });
    const [got] = await q4(prompt, { maxNewTokens: 20 });
    if (want!.generated_text === got!.generated_text) same++;
    bar.tick();
  }
  bar.done();
  const tokenizer = await AutoTokenizer.fromPretrained(dir);
  const models = {
    fp32: await LlamaForCausalLM.fromPretrained(dir),
    q4: quantize(await LlamaForCausalLM.fromPretrained(dir), { dtype: 'q4' }),
  };
  const window = models.fp32.config.contextWindow ?? 128;
  const nll = { fp32: 0, q4: 0 };
  let tokens = 0;
  const ppl = progress({ label: 'perplexity', total: storyCount });
  for (const story of held.slice(promptCount, promptCount + storyCount)) {
    const ids = tokenizer.encode(story).inputIds[0]!.slice(0, window);
    const inputIds = new Tensor(Int32Array.from(ids), [1, ids.length]);
    for (const side of ['fp32', 'q4'] as const) {
      const loss = noGrad(() => models[side].forward({ inputIds, labels: inputIds }).loss!);
      nll[side] += loss.data[0]! * (ids.length - 1);
    }
    tokens += ids.length - 1;
    ppl.tick();
  }
  ppl.done();
  const pplFp32 = perplexity(nll.fp32 / tokens);
  const pplQ4 = perplexity(nll.q4 / tokens);
  return {
    prompts: promptCount,
    greedy20_identical: same,
    stories: storyCount,
    tokens,
    perplexity_fp32: round4(pplFp32),
    perplexity_q4: round4(pplQ4),
    perplexity_change: round4(pplQ4 / pplFp32 - 1),
  };
}

const sst2 = await sentiment(Number(values.sst2));
const causal = await stories(Number(values.prompts), Number(values.stories));
console.log(JSON.stringify({ eval: 'quantized', sentiment_en_q8: sst2, tinystories_q4: causal }));
