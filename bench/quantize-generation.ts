// `npm run bench -- quantize-generation [--calls N] [--sizes]`: peak RSS of the generation pipelines on quantized
// checkpoints, each alone in a child process (bench/_peak_rss.ts), with the codes left in model.safetensors and read
// as stored by the compiled graphs (the default since their codes stay in the file) against the path before (codes
// read into JS as int32: `compiledWeights: 'packed'`):
// - text-generation on a GPT-2-small-shaped GPT2LMHeadModel (12 layers, d768, 12 heads, MLP 3072, 1024 positions,
//   tied embeddings, GPT-2's tokenizer and 50,257-piece vocabulary; 124M random weights built by attn, seed 17)
//   quantized by attn to int8 and to q4 (its Conv1D projections 4-bit MatMulNBits, the embeddings int8), 50 new greedy
//   tokens per call (the pipeline's default). Its model.safetensors sizes, int8 and q4 against the float32 one built
//   from the same weights, come first (alone with `--sizes`).
// - translation with the shipped int8 default models/translation-de-en (Marian, beam 4), on three sentences.
// Each variant runs once first, so the compile cache is warm as for any process after the first. With `--bleu`, the
// translation default also translates ../shared/data/multi30k/val (1014 pairs, beam 4) both ways in this process:
// corpus BLEU of each, how many translations differ (the graphs' 8-bit activation rounding is not the op-by-op one),
// and the time of each. The last line is one JSON object: peak RSS (MB) before and after, and the ratio after /
// before of each.
import '../src/backends/register.js';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GPT2Config, GPT2LMHeadModel } from '../src/models/index.js';
import { quantize } from '../src/models/quantization.js';
import type { QuantScheme } from '../src/nn/quantized.js';
import { corpusBleu } from '../src/metrics/bleu.js';
import { pipeline, type PipelineFactoryOptions } from '../src/pipelines/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';
import { peakRssMb, type PipelineRun } from './_peak_rss.js';

const { values } = parseArgs({
  options: {
    calls: { type: 'string', default: '2' },
    bleu: { type: 'boolean', default: false },
    sizes: { type: 'boolean', default: false },
  },
});
const calls = Number(values.calls);

type Variant = QuantScheme | 'fp32';

/** The float32, int8 and q4 folders of the GPT-2-small-shaped model, built once per machine. */
async function buildModels(): Promise<Record<Variant, string>> {
  const root = join(tmpdir(), 'attn-bench-quantize-generation');
  const dirs = {
    fp32: join(root, 'gpt2-small-shaped-fp32'),
    int8: join(root, 'gpt2-small-shaped-int8'),
    q4: join(root, 'gpt2-small-shaped-q4'),
  };
  if (Object.values(dirs).every((dir) => existsSync(join(dir, 'model.safetensors')))) return dirs;
  const vocab = sharedPath('tokenizers/gpt2');
  if (!existsSync(vocab)) throw new Error(`bench: needs the GPT-2 tokenizer at ${vocab}`);
  const tokenizer = await AutoTokenizer.fromPretrained(vocab);
  mkdirSync(root, { recursive: true });
  for (const variant of ['fp32', 'int8', 'q4'] as const) {
    manualSeed(17); // the same float weights for all three
    const config = new GPT2Config(
      {
        model_type: 'gpt2',
        vocab_size: 50257,
        n_embd: 768,
        n_layer: 12,
        n_head: 12,
        n_positions: 1024,
        bos_token_id: 50256,
        eos_token_id: 50256,
      },
      'bench',
    );
    const model = new GPT2LMHeadModel(config).eval();
    await (variant === 'fp32' ? model : quantize(model, { dtype: variant })).savePretrained(dirs[variant]);
    await tokenizer.savePretrained(dirs[variant]);
    console.error(`built ${dirs[variant]}`);
  }
  return dirs;
}

/** Peak RSS (MB) of `run` with the codes in the file (after) and read into JS (before), each after a warm-up. */
async function beforeAfter(run: Omit<PipelineRun, 'options'>): Promise<Record<string, number>> {
  const variants: Record<string, PipelineFactoryOptions> = { before: { compiledWeights: 'packed' }, after: {} };
  const peaks: Record<string, number> = {};
  for (const [name, options] of Object.entries(variants)) {
    await peakRssMb({ ...run, options, calls: 1 }); // compiles, and fills the compile cache
    peaks[name] = await peakRssMb({ ...run, options });
    console.error(JSON.stringify({ dir: run.dir, variant: name, peak_rss_mb: peaks[name] }));
  }
  return { ...peaks, ratio: Number((peaks.after! / peaks.before!).toFixed(3)) };
}

/** Multi30k val translated with the codes in the file (after) and read into JS, op by op (before). */
async function valBleu(dir: string): Promise<Record<string, number>> {
  const lines = (name: string) =>
    readFileSync(sharedPath(`data/multi30k/${name}`), 'utf8')
      .split('\n')
      .filter(Boolean);
  const [german, english] = [lines('val.de'), lines('val.en')];
  const translate = async (options: PipelineFactoryOptions) => {
    const translator = await pipeline('translation', dir, options);
    const started = performance.now();
    const out = (await translator(german)).map((r) => r.translation_text);
    const seconds = (performance.now() - started) / 1000;
    translator.dispose();
    return { out, seconds };
  };
  const before = await translate({ compiledWeights: 'packed' });
  const after = await translate({});
  return {
    pairs: german.length,
    bleu_before: Number(corpusBleu(before.out, english).score.toFixed(2)),
    bleu_after: Number(corpusBleu(after.out, english).score.toFixed(2)),
    differ: after.out.filter((text, i) => text !== before.out[i]).length,
    seconds_before: Number(before.seconds.toFixed(1)),
    seconds_after: Number(after.seconds.toFixed(1)),
  };
}

/** model.safetensors of each variant in MB, and int8's and q4's size over float32's. */
function fileSizes(dirs: Record<Variant, string>): Record<string, number> {
  const mb = (variant: Variant) => statSync(join(dirs[variant], 'model.safetensors')).size / 2 ** 20;
  const ratio = (variant: Variant) => Number((mb(variant) / mb('fp32')).toFixed(3));
  return {
    fp32_mb: Math.round(mb('fp32')),
    int8_mb: Math.round(mb('int8')),
    q4_mb: Math.round(mb('q4')),
    int8_ratio: ratio('int8'),
    q4_ratio: ratio('q4'),
  };
}

async function main(): Promise<void> {
  const lm = await buildModels();
  const sizes = { gpt2_small_shaped_file_mb: fileSizes(lm) };
  if (values.sizes) {
    console.log(JSON.stringify({ bench: 'quantize-generation', unit: 'model.safetensors MB', ...sizes }));
    return;
  }
  const story = { task: 'text-generation', input: 'Once upon a time', calls };
  const translationDir = join(projectRoot, 'models/translation-de-en');
  const results = {
    ...sizes,
    gpt2_small_shaped_int8: await beforeAfter({ ...story, dir: lm.int8 }),
    gpt2_small_shaped_q4: await beforeAfter({ ...story, dir: lm.q4 }),
    translation_de_en_int8: await beforeAfter({
      task: 'translation',
      dir: translationDir,
      input: ['Ein Mann fährt Fahrrad auf der Straße.', 'Zwei Hunde spielen im Schnee.', 'Ich habe heute keine Zeit.'],
      calls,
    }),
    ...(values.bleu ? { translation_de_en_val: await valBleu(translationDir) } : {}),
  };
  console.log(JSON.stringify({ bench: 'quantize-generation', unit: 'peak RSS MB (VmHWM of a child)', ...results }));
}

await main();
