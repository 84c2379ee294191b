// What the studio tests share: the built web app, a tiny real Trainer run, a hub with a write token, and HF_* variables
// restored after each test.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';
import { Dataset } from '../../src/data/index.js';
import { TokenStore } from '../../src/hub/server/auth.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { AutoModelForCausalLM } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { BertConfig, BertForSequenceClassification } from '../../src/models/index.js';
import { DEFAULT_APP_DIR } from '../../src/studio/server.js';
import { manualSeed } from '../../src/tensor/index.js';
import { classificationMetrics, Trainer, TrainingArguments } from '../../src/training/index.js';
import { projectRoot } from '../../src/util/paths.js';
import { WORDPIECE_VOCAB } from '../pipelines/tiny-models.js';

export function scratch(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `attn-studio-${prefix}-`));
}

/** The web app as `npm run build` makes it; built here when a checkout has not been built yet. */
export async function ensureStudioBuilt(): Promise<void> {
  if (existsSync(join(DEFAULT_APP_DIR, 'index.html'))) return;
  const { build } = await import('vite');
  await build({ configFile: join(projectRoot, 'studio', 'vite.config.ts') });
}

const HF_KEYS = ['HF_ENDPOINT', 'HF_TOKEN', 'HF_HUB_CACHE', 'HF_HUB_OFFLINE'] as const;

/** Restores the HF_* variables that tests set (pipelines resolve hub names through them) after each test, or all. */
export function restoreHubEnvironment(after: typeof afterEach | typeof afterAll): void {
  const saved = Object.fromEntries(HF_KEYS.map((key) => [key, process.env[key]]));
  after(() => {
    for (const key of HF_KEYS) {
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    }
  });
}

/** An `attn hub serve` on 127.0.0.1 with alice's write token; pipelines pointed at it with an empty cache. */
export async function localHub(): Promise<{ hub: RunningHubServer; token: string }> {
  const work = scratch('hub');
  const token = await new TokenStore(join(work, 'data')).add('alice', 'write');
  const hub = await startHubServer({ dataDir: join(work, 'data') });
  Object.assign(process.env, { HF_ENDPOINT: hub.url, HF_HUB_CACHE: join(work, 'cache') });
  delete process.env.HF_TOKEN;
  return { hub, token };
}

/**
 * Label 1 when token 3 occurs: a tiny BERT learns it in a few dozen steps, so loss and accuracy move. Rows of 3 to
 * 7 tokens drawn from 4..19 by index arithmetic (no RNG state to share with other tests).
 */
function toyData(rows: number, offset: number): Dataset {
  const records = Array.from({ length: rows }, (_, row) => {
    const i = row + offset;
    const ids = Array.from({ length: 3 + (i % 5) }, (_, j) => 4 + ((i * 7 + j * 13) % 16));
    const label = (i * 5 + 1) % 3 === 0 ? 1 : 0;
    if (label === 1) ids[i % ids.length] = 3;
    return { input_ids: [2, ...ids], label };
  });
  return Dataset.fromRecords(records, 'toy');
}

/**
 * A real Trainer run of a tiny BERT classifier into `outputDir`, logging every 2 steps and evaluating every 6.
 * `pauseAtLogMs` holds each log that long, as a real model's slower steps would: compiled, the tiny run can finish
 * between two polls of a watcher in the same process, which then sees only the final state.
 */
export async function tinyTrainingRun(
  outputDir: string,
  learningRate: number,
  maxSteps = 24,
  pauseAtLogMs = 0,
): Promise<void> {
  manualSeed(0);
  const model = new BertForSequenceClassification(
    new BertConfig({
      vocab_size: 20,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 16,
    }),
  );
  const args = new TrainingArguments({
    outputDir,
    progress: false,
    learningRate,
    maxSteps,
    warmupSteps: 4,
    perDeviceTrainBatchSize: 8,
    saveStrategy: 'no',
    loggingSteps: 2,
    evalStrategy: 'steps',
    evalSteps: 6,
    seed: 3,
  });
  await new Trainer({
    model,
    args,
    trainDataset: toyData(96, 0),
    evalDataset: toyData(32, 1000),
    computeMetrics: classificationMetrics,
    callbacks:
      pauseAtLogMs > 0
        ? [{ onLog: () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, pauseAtLogMs) }]
        : [],
  }).train();
}

/**
 * A tiny GPT-2 over a whole-word vocabulary: every token it picks decodes to a word, so the text streamer sends a
 * piece per word (a byte-level model with random weights picks stray bytes, which stream only once decodable).
 */
export async function tinyWordLM(seed = 7): Promise<string> {
  const dir = scratch('word-lm');
  const config = {
    model_type: 'gpt2',
    vocab_size: WORDPIECE_VOCAB.length,
    n_embd: 16,
    n_head: 2,
    n_layer: 2,
    n_inner: 24,
    n_positions: 48,
    embd_pdrop: 0,
    attn_pdrop: 0,
    resid_pdrop: 0,
  };
  manualSeed(seed);
  await AutoModelForCausalLM.fromConfig(configFromJSON(config, join(dir, 'config.json'))).savePretrained(dir);
  writeFileSync(join(dir, 'vocab.txt'), WORDPIECE_VOCAB.join('\n') + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 48 }));
  return dir;
}
