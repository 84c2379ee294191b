import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { help, run } from '../../src/cli/commands/train.js';
import { BertConfig, BertForSequenceClassification } from '../../src/models/index.js';
import { manualSeed } from '../../src/tensor/index.js';
import { trainTokenizer } from '../../src/tokenizers/index.js';

const root = mkdtempSync(join(tmpdir(), 'attn-cli-train-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const texts = [
  'a great film',
  'a dull film',
  'great acting',
  'dull plot',
  'truly great',
  'truly dull',
  'great fun',
  'dull and long',
];

async function tinyBase(): Promise<string> {
  const dir = join(root, 'base');
  const tokenizer = trainTokenizer({
    type: 'wordpiece',
    texts,
    vocabSize: 40,
    normalizer: 'lowercase',
    progress: false,
  });
  manualSeed(0);
  const model = new BertForSequenceClassification(
    new BertConfig({
      model_type: 'bert',
      vocab_size: tokenizer.vocabSize,
      hidden_size: 16,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: 32,
      max_position_embeddings: 32,
    }),
  );
  await model.savePretrained(dir);
  await tokenizer.savePretrained(dir);
  return dir;
}

function writeConfig(name: string, config: object): string {
  const file = join(root, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('attn train', () => {
  it('fine-tunes from a JSON config and saves the model with the labels it found', async () => {
    await tinyBase();
    writeFileSync(
      join(root, 'train.tsv'),
      'sentence\tsentiment\n' + texts.map((t) => `${t}\t${t.includes('great') ? 'pos' : 'neg'}`).join('\n') + '\n',
    );
    const file = writeConfig('config.json', {
      task: 'sequence-classification',
      model: './base',
      data: { train: 'train.tsv', evalFraction: 0.25, textColumn: 'sentence', labelColumn: 'sentiment', maxLength: 16 },
      args: {
        outputDir: 'out',
        maxSteps: 3,
        perDeviceTrainBatchSize: 4,
        saveStrategy: 'no',
        progress: false,
        learningRate: 1e-3,
      },
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await run([file])).toBe(0);
      const summary = JSON.parse(String(log.mock.calls.at(-1)![0]));
      expect(summary.globalStep).toBe(3);
      expect(summary).toHaveProperty('eval_accuracy');
    } finally {
      log.mockRestore();
      warn.mockRestore();
    }
    const saved = JSON.parse(readFileSync(join(root, 'out', 'config.json'), 'utf8'));
    expect(saved.id2label).toEqual({ 0: 'neg', 1: 'pos' });
    expect(existsSync(join(root, 'out', 'model.safetensors'))).toBe(true);
    expect(existsSync(join(root, 'out', 'tokenizer.json'))).toBe(true);
  });

  it('answers a bad config with exit code 2 and a message naming the field', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const file = writeConfig('bad.json', {
        task: 'classify',
        model: 'x',
        data: { train: 'a.tsv' },
        args: { outputDir: 'o' },
      });
      expect(await run([file])).toBe(2);
      expect(String(error.mock.calls.at(-1)![0])).toMatch(
        /bad.json: 'task' must be one of sequence-classification, causal-lm, masked-lm, seq2seq, got "classify"/,
      );
      const noOutput = writeConfig('bad2.json', { task: 'causal-lm', model: 'x', data: { train: 'a.txt' }, args: {} });
      expect(await run([noOutput])).toBe(2);
      expect(String(error.mock.calls.at(-1)![0])).toMatch(/'args.outputDir' must be a folder path/);
      expect(await run([])).toBe(2);
    } finally {
      error.mockRestore();
    }
  });

  it('names unknown fields in the config and in args with a suggestion, and prints a help example that is JSON', async () => {
    const example = /\n(\{\n[\s\S]*?\n\})\n/.exec(help)![1]!;
    expect(JSON.parse(example)).toMatchObject({ task: 'sequence-classification', model: 'sentiment-en' });
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const base = { task: 'causal-lm', model: 'x', data: { train: 'a.txt' }, args: { outputDir: 'o' } };
    try {
      const cases: Array<[object, string]> = [
        [{ ...base, modle: 'x' }, "unknown field 'modle' (did you mean 'model'?)"],
        [
          { ...base, data: { train: 'a.txt', textColum: 'x' } },
          "unknown field 'data.textColum' (did you mean 'textColumn'?)",
        ],
        [
          { ...base, args: { outputDir: 'o', learning_rate: 1e-3 } },
          "unknown field 'learning_rate' (did you mean 'learningRate'?)",
        ],
      ];
      for (const [config, message] of cases) {
        expect(await run([writeConfig('unknown.json', config)])).toBe(2);
        expect(String(error.mock.calls.at(-1)![0])).toContain(message);
        expect(String(error.mock.calls.at(-1)![0])).toMatch(/; see 'attn train --help'$/);
      }
    } finally {
      error.mockRestore();
    }
  });

  it('refuses to overwrite checkpoints silently and continues from the last complete one with --resume', async () => {
    await tinyBase();
    writeFileSync(
      join(root, 'resume.tsv'),
      'text\tlabel\n' + texts.map((t) => `${t}\t${t.includes('great') ? 1 : 0}`).join('\n') + '\n',
    );
    // A constant learning rate: the first run's schedule would otherwise be laid out for its own 2 steps.
    const config = (maxSteps: number, outputDir = 'resumed') =>
      writeConfig(`${outputDir}.json`, {
        task: 'sequence-classification',
        model: './base',
        data: { train: 'resume.tsv', evalFraction: 0.25, maxLength: 16 },
        args: {
          outputDir,
          maxSteps,
          perDeviceTrainBatchSize: 2,
          saveSteps: 2,
          progress: false,
          learningRate: 1e-3,
          lrSchedulerType: 'constant',
        },
      });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await run([config(2)])).toBe(0);
      expect(existsSync(join(root, 'resumed', 'checkpoint-2'))).toBe(true);
      expect(await run([config(4)])).toBe(2);
      expect(String(error.mock.calls.at(-1)![0])).toContain(
        'already holds checkpoint-2: pass --resume to continue from it',
      );
      expect(await run([config(4), '--resume'])).toBe(0);
      expect(JSON.parse(String(log.mock.calls.at(-1)![0])).globalStep).toBe(4);
      // 2 steps + resume + 2 steps is the same run as 4 steps straight: it continued, it did not start again.
      expect(await run([config(4, 'straight')])).toBe(0);
      const weights = (dir: string) => readFileSync(join(root, dir, 'model.safetensors'));
      expect(weights('resumed').equals(weights('straight'))).toBe(true);
    } finally {
      log.mockRestore();
      error.mockRestore();
      warn.mockRestore();
    }
  });

  it('resolves a model installed with attn by its name, as attn run does', async () => {
    writeFileSync(
      join(root, 'named.tsv'),
      'text\tlabel\n' + texts.map((t) => `${t}\t${t.includes('great') ? 1 : 0}`).join('\n') + '\n',
    );
    const file = writeConfig('named.json', {
      task: 'sequence-classification',
      model: 'sentiment-en',
      data: { train: 'named.tsv', evalFraction: 0.25, maxLength: 16 },
      args: { outputDir: 'named-out', maxSteps: 1, perDeviceTrainBatchSize: 2, saveStrategy: 'no', progress: false },
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await run([file])).toBe(0);
      expect(JSON.parse(String(log.mock.calls.at(-1)![0])).globalStep).toBe(1);
    } finally {
      log.mockRestore();
      warn.mockRestore();
    }
  });
});
