// `npm run bench -- fp16 [--rows N] [--sentences N] [--rounds N] [--repeats N]`: fp16 weights against float32 and
// int8 on two shipped models, both shipped int8 (their float32 twin is the dequantized checkpoint, as
// `fromPretrained(dir, { dtype: 'float32' })` gives it; fp16 is that twin rounded, as `attn quantize --dtype fp16`
// writes it).
//   models/sentiment-ko: model.safetensors bytes; accuracy on the first --rows (1,000) reviews of
//     ../shared/data/nsmc/dev.tsv and top-label agreement with float32; batch-1 latency through the
//     text-classification pipeline (median of --repeats calls, the variants interleaved, best of --rounds rounds);
//     peak RSS of a child process per variant (load, then a batch of 8 reviews, three times).
//   models/translation-de-en: bytes; corpus BLEU on the first --sentences (100) pairs of ../shared/data/multi30k val
//     and identical outputs with float32; seconds for those sentences one by one; peak RSS of a child per variant.
// Variants: fp32 (the float32 folder), fp16 (the F16 folder), fp16-on-load (the float32 folder with dtype 'fp16'),
// fp16-widened (the F16 folder with dtype 'fp32': widened as read), int8 (the shipped folder). The last line is one JSON object with the fp16 / fp32 ratios.
import '../src/backends/register.js';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { copyTokenizerFiles } from '../src/hub/push.js';
import { corpusBleu } from '../src/metrics/bleu.js';
import { AutoModelForSeq2SeqLM, AutoModelForSequenceClassification } from '../src/models/index.js';
import type { PipelineFactoryOptions } from '../src/pipelines/index.js';
import { pipeline, type ClassificationLabel, type TextClassificationPipeline } from '../src/pipelines/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { peakRssMb } from './_peak_rss.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000' },
    sentences: { type: 'string', default: '100' },
    rounds: { type: 'string', default: '3' },
    repeats: { type: 'string', default: '30' },
  },
});

type Variant = 'fp32' | 'fp16' | 'fp16-on-load' | 'fp16-widened' | 'int8';
const VARIANTS: Variant[] = ['fp32', 'fp16', 'fp16-on-load', 'fp16-widened', 'int8'];
const ROOT = join(tmpdir(), 'attn-bench-fp16');

interface Folders {
  fp32: string;
  fp16: string;
  int8: string;
}

/**
 * The float32 twin (dequantized) and its F16 rounding of a shipped int8 model, written once per version of its
 * weights: the folders are named by the weights' hash, so a retrained default never meets a stale twin.
 */
async function folders(name: string, auto: typeof AutoModelForSequenceClassification): Promise<Folders> {
  const int8 = join(projectRoot, 'models', name);
  const version = createHash('sha256')
    .update(readFileSync(join(int8, 'model.safetensors')))
    .digest('hex')
    .slice(0, 12);
  const fp32 = join(ROOT, `${name}-${version}-fp32`);
  const fp16 = join(ROOT, `${name}-${version}-fp16`);
  if (!existsSync(join(fp16, 'model.safetensors'))) {
    mkdirSync(ROOT, { recursive: true });
    await (await auto.fromPretrained(int8, { dtype: 'float32' })).savePretrained(fp32);
    await copyTokenizerFiles(int8, fp32);
    await (await auto.fromPretrained(fp32, { dtype: 'float16' })).savePretrained(fp16);
    await copyTokenizerFiles(int8, fp16);
  }
  return { fp32, fp16, int8 };
}

function where(variant: Variant, dirs: Folders): [string, PipelineFactoryOptions] {
  if (variant === 'fp16-on-load') return [dirs.fp32, { dtype: 'fp16' }];
  if (variant === 'fp16-widened') return [dirs.fp16, { dtype: 'fp32' }];
  return [dirs[variant], {}];
}

function bytes(dir: string): number {
  return statSync(join(dir, 'model.safetensors')).size;
}

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function round(x: number, digits = 4): number {
  return Number(x.toFixed(digits));
}

function readTsvColumns(path: string, rows: number): string[][] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .slice(1, rows + 1)
    .map((line) => line.split('\t'));
}

const REVIEW = '연기도 좋고 스토리도 탄탄해서 두 시간이 금방 지나갔어요. 강력 추천합니다!';

/** Peak RSS (MB, VmHWM) of a child process that loads one variant and calls it three times on a batch of 8. */
function peakRss(task: string, variant: Variant, dirs: Folders, input: string): Promise<number> {
  const [dir, options] = where(variant, dirs);
  // Without the Korean default's n-gram head, which only its int8 folder has (see sentiment() below).
  const weightsOnly = task === 'text-classification' ? { ...options, ngramHead: false } : options;
  return peakRssMb({ task, dir, options: weightsOnly, input: Array.from({ length: 8 }, () => input), calls: 3 });
}

async function sentiment(): Promise<Record<string, unknown>> {
  const dirs = await folders('sentiment-ko', AutoModelForSequenceClassification);
  const data = readTsvColumns(sharedPath('data', 'nsmc', 'dev.tsv'), Number(values.rows));
  const texts = data.map(([text]) => text!);
  const gold = data.map(([, label]) => (label === '1' ? 'positive' : 'negative'));
  const pipes = Object.fromEntries(
    await Promise.all(
      VARIANTS.map(async (v) => {
        const [dir, options] = where(v, dirs);
        // The BERT alone: the default's n-gram head (int8 on every side) would blur the weights' dtype comparison.
        return [v, await pipeline('text-classification', dir, { ...options, batchSize: 32, ngramHead: false })];
      }),
    ),
  ) as Record<Variant, TextClassificationPipeline>;
  const labels: Partial<Record<Variant, string[]>> = {};
  for (const v of VARIANTS) {
    labels[v] = ((await pipes[v](texts)) as ClassificationLabel[]).map((r) => r.label);
  }
  const accuracy = (v: Variant) => round(labels[v]!.filter((l, i) => l === gold[i]).length / gold.length);
  const agreement = (v: Variant) => round(labels[v]!.filter((l, i) => l === labels.fp32![i]).length / gold.length);
  const best = Object.fromEntries(VARIANTS.map((v) => [v, Infinity])) as Record<Variant, number>;
  for (const v of VARIANTS) await pipes[v](REVIEW);
  for (let r = 0; r < Number(values.rounds); r++) {
    const times = Object.fromEntries(VARIANTS.map((v) => [v, [] as number[]])) as Record<Variant, number[]>;
    for (let i = 0; i < Number(values.repeats); i++) {
      for (const v of VARIANTS) {
        const start = performance.now();
        await pipes[v](REVIEW);
        times[v].push(performance.now() - start);
      }
    }
    for (const v of VARIANTS) best[v] = Math.min(best[v], median(times[v]));
  }
  for (const v of VARIANTS) pipes[v].dispose();
  const out: Record<string, unknown> = {};
  for (const v of VARIANTS) {
    out[v] = {
      bytes: bytes(where(v, dirs)[0]),
      accuracy: accuracy(v),
      agreement: agreement(v),
      batch1Ms: round(best[v], 3),
      peakRssMb: await peakRss('text-classification', v, dirs, REVIEW),
    };
    console.log(`sentiment-ko ${v}: ${JSON.stringify(out[v])}`);
  }
  return out;
}

async function translation(): Promise<Record<string, unknown>> {
  const dirs = await folders('translation-de-en', AutoModelForSeq2SeqLM as typeof AutoModelForSequenceClassification);
  const n = Number(values.sentences);
  const read = (lang: string) => readFileSync(sharedPath('data', 'multi30k', `val.${lang}`), 'utf8').split('\n');
  const sources = read('de').slice(0, n);
  const references = read('en').slice(0, n);
  const outputs: Partial<Record<Variant, string[]>> = {};
  const out: Record<string, unknown> = {};
  for (const v of VARIANTS) {
    const translate = await pipeline('translation_de_to_en', ...where(v, dirs));
    const start = performance.now();
    const texts: string[] = [];
    for (const s of sources)
      texts.push(((await translate(s)) as Array<{ translation_text: string }>)[0]!.translation_text);
    const seconds = (performance.now() - start) / 1000;
    translate.dispose();
    outputs[v] = texts;
    out[v] = {
      bytes: bytes(where(v, dirs)[0]),
      bleu: round(corpusBleu(texts, references).score, 2),
      identicalToFp32: round(texts.filter((t, i) => t === outputs.fp32![i]).length / n),
      seconds: round(seconds, 2),
      peakRssMb: await peakRss('translation_de_to_en', v, dirs, sources[0]!),
    };
    console.log(`translation-de-en ${v}: ${JSON.stringify(out[v])}`);
  }
  return out;
}

const ko = (await sentiment()) as Record<Variant, Record<string, number>>;
const de = (await translation()) as Record<Variant, Record<string, number>>;
console.log(
  JSON.stringify({
    bench: 'fp16',
    sentiment_ko: ko,
    translation_de_en: de,
    ratio_size: round(ko.fp16!.bytes! / ko.fp32!.bytes!),
    ratio_batch1: round(ko.fp16!.batch1Ms! / ko.fp32!.batch1Ms!),
    ratio_peak_rss: round(ko.fp16!.peakRssMb! / ko.fp32!.peakRssMb!),
    translation_ratio_seconds: round(de.fp16!.seconds! / de.fp32!.seconds!),
    translation_ratio_peak_rss: round(de.fp16!.peakRssMb! / de.fp32!.peakRssMb!),
  }),
);
