/**
 * Greedy generation speed, with and without the KV cache: a GPT-2-small-shaped random GPT2LMHeadModel (the twin of
 * ../shared/reference/torch_generate_bench.py, whose PyTorch numbers come from the same run, best of 1 and 2 threads,
 * when /usr/bin/python3 has torch) and the real stories260K Llama (when ../shared/models/stories260K is there).
 * Prints progress on stderr and one JSON line last; `ratio` = ours / PyTorch tokens/s with the cache.
 * Usage: npm run bench -- generate [--layers 12 --d 768 --heads 12 --vocab 50257 --prompt 16 --new 128 --threads 0]
 */
import '../src/backends/register.js';
import { existsSync } from 'node:fs';
import { generate } from '../src/generation/utils.js';
import { loadLlama2cModel } from '../src/models/llama/convert_llama2c.js';
import type { CausalLM } from '../src/models/modeling_outputs.js';
import { GPT2Config } from '../src/models/gpt2/configuration_gpt2.js';
import { GPT2LMHeadModel } from '../src/models/gpt2/modeling_gpt2.js';
import { setNumThreads } from '../src/tensor/engine.js';
import { Generator, manualSeed } from '../src/tensor/random.js';
import { sharedPath } from '../src/util/paths.js';
import { runTwin } from './_twin.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

const cfg = {
  layers: arg('layers', 12),
  d: arg('d', 768),
  heads: arg('heads', 12),
  vocab: arg('vocab', 50257),
  ctx: arg('ctx', 1024),
  prompt: arg('prompt', 16),
  new: arg('new', 128),
  threads: arg('threads', 0),
};

/** Tokens per second generating `n` tokens greedily after a short warm-up (as the PyTorch twin measures). */
function tokensPerSecond(model: CausalLM, prompt: number[], n: number, useCache: boolean): number {
  // eosTokenId null: every run generates exactly n tokens.
  const options = { maxNewTokens: n, useCache, eosTokenId: null, minLength: 0 };
  generate(model, [prompt], { ...options, maxNewTokens: 4 });
  const start = performance.now();
  const out = generate(model, [prompt], options);
  const seconds = (performance.now() - start) / 1000;
  if (out.sequences[0]!.length !== prompt.length + n) throw new Error('bench: generation stopped early');
  return +(n / seconds).toFixed(2);
}

function measure(
  name: string,
  model: CausalLM,
  prompt: number[],
  n: number,
): { tokens_per_s_cache: number; tokens_per_s_nocache: number } {
  const cache = tokensPerSecond(model, prompt, n, true);
  console.error(JSON.stringify({ model: name, cache: true, tokens_per_s: cache }));
  const nocache = tokensPerSecond(model, prompt, n, false);
  console.error(JSON.stringify({ model: name, cache: false, tokens_per_s: nocache }));
  return { tokens_per_s_cache: cache, tokens_per_s_nocache: nocache };
}

if (cfg.threads > 0) setNumThreads(cfg.threads);
const result: Record<string, unknown> = { bench: 'generate', impl: 'attn', config: cfg };

const stories = sharedPath('models', 'stories260K', 'stories260K.bin');
if (existsSync(stories)) {
  const model = await loadLlama2cModel(stories);
  result.stories260K = measure('stories260K', model, [1], cfg.new);
}

manualSeed(0);
const gpt2 = new GPT2LMHeadModel(
  new GPT2Config(
    {
      model_type: 'gpt2',
      vocab_size: cfg.vocab,
      n_positions: cfg.ctx,
      n_embd: cfg.d,
      n_layer: cfg.layers,
      n_head: cfg.heads,
    },
    'bench config',
  ),
).eval();
const rng = new Generator(0);
const prompt = Array.from({ length: cfg.prompt }, () => rng.randint(cfg.vocab));
result.gpt2 = measure('gpt2', gpt2, prompt, cfg.new);

// The twin at 1 and 2 threads, the faster kept (best against best).
const twin = runTwin(
  'torch_generate_bench.py',
  (['layers', 'd', 'heads', 'vocab', 'ctx', 'prompt', 'new'] as const).flatMap((k) => [`--${k}`, String(cfg[k])]),
  'tokens_per_s_cache',
);
if (twin) {
  result.torch = {
    tokens_per_s_cache: twin.best.tokens_per_s_cache,
    tokens_per_s_nocache: twin.best.tokens_per_s_nocache,
    threads: twin.best.threads,
    runs: twin.runs,
  };
  result.ratio = +(
    (result.gpt2 as { tokens_per_s_cache: number }).tokens_per_s_cache / twin.best.tokens_per_s_cache!
  ).toFixed(3);
}
console.log(JSON.stringify(result));
