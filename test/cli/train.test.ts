import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { help, run } from '../../src/cli/commands/train.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { BertConfig, BertForSequenceClassification, quantize } from '../../src/models/index.js';
import { manualSeed } from '../../src/tensor/index.js';
import { trainTokenizer } from '../../src/tokenizers/index.js';
import { Dataset } from '../../src/data/index.js';
import { Trainer, TrainingArguments, TrainingError } from '../../src/training/index.js';

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

/** A tiny BERT classifier in `name`, all sharing one tokenizer (a teacher and its student must). */
async function tinyClassifier(name: string, hidden: number, id2label?: Record<number, string>): Promise<void> {
  const tokenizer = trainTokenizer({
    type: 'wordpiece',
    texts,
    vocabSize: 40,
    normalizer: 'lowercase',
    progress: false,
  });
  manualSeed(hidden);
  const config = {
    model_type: 'bert',
    vocab_size: tokenizer.vocabSize,
    hidden_size: hidden,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    intermediate_size: 2 * hidden,
    max_position_embeddings: 32,
  };
  const model = new BertForSequenceClassification(new BertConfig({ ...config, ...(id2label ? { id2label } : {}) }));
  await model.savePretrained(join(root, name));
  await tokenizer.savePretrained(join(root, name));
}

function writeConfig(name: string, config: object): string {
  const file = join(root, name);
  writeFileSync(file, JSON.stringify(config));
  return file;
}

describe('attn train', () => {
  it('fine-tunes from a JSON config and saves the model with the labels it found', async () => {
    await tinyClassifier('base', 16);
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
    await tinyClassifier('base', 16);
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

  it('fine-tunes an int8-quantized model: dequantized with a note on stderr, saved as float', async () => {
    await tinyClassifier('float-base', 16);
    const quantized = quantize(await BertForSequenceClassification.fromPretrained(join(root, 'float-base')), {
      dtype: 'int8',
    });
    await quantized.savePretrained(join(root, 'int8-base'));
    // A Trainer that is to train refuses quantized layers (inference-only), naming the first and the way out, when
    // built or, quantized since, when training starts; one that evaluates takes them.
    const args = new TrainingArguments({ outputDir: join(root, 'not-trained'), progress: false });
    const rows = Dataset.fromRecords([
      { input_ids: [2, 5, 3], label: 0 },
      { input_ids: [2, 6, 3], label: 1 },
    ]);
    const refusal =
      "BertForSequenceClassification holds quantized layers ('classifier' is int8), which are inference-only; " +
      "load it with fromPretrained(dir, { dtype: 'float32' }) or call dequantize(model) to train it";
    expect(() => new Trainer({ model: quantized, args, trainDataset: rows })).toThrow(TrainingError);
    expect(() => new Trainer({ model: quantized, args, trainDataset: rows })).toThrow(refusal);
    const evaluated = await new Trainer({ model: quantized, args, evalDataset: rows }).evaluate();
    expect(evaluated.eval_loss).toBeGreaterThan(0);
    const later = await BertForSequenceClassification.fromPretrained(join(root, 'float-base'));
    const trainer = new Trainer({ model: later, args, trainDataset: rows });
    quantize(later, { dtype: 'int8' });
    await expect(trainer.train()).rejects.toThrow(refusal);
    writeFileSync(
      join(root, 'int8.tsv'),
      'text\tlabel\n' + texts.map((t) => `${t}\t${t.includes('great') ? 'pos' : 'neg'}`).join('\n') + '\n',
    );
    const file = writeConfig('int8.json', {
      task: 'sequence-classification',
      model: './int8-base',
      tokenizer: './float-base',
      data: { train: 'int8.tsv', evalFraction: 0.25, maxLength: 16 },
      args: { outputDir: 'int8-out', maxSteps: 2, perDeviceTrainBatchSize: 2, saveStrategy: 'no', progress: false },
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await run([file])).toBe(0);
      expect(JSON.parse(String(log.mock.calls.at(-1)![0])).globalStep).toBe(2);
      expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
        expect.stringMatching(/^attn train: .*int8-base is int8-quantized; training its dequantized float weights/),
      ]);
    } finally {
      log.mockRestore();
      error.mockRestore();
      warn.mockRestore();
    }
    const saved = JSON.parse(readFileSync(join(root, 'int8-out', 'config.json'), 'utf8'));
    expect(saved).not.toHaveProperty('quantization_config');
    const reader = await SafetensorsReader.open(join(root, 'int8-out', 'model.safetensors'));
    expect(reader.entries.get('bert.encoder.layer.0.attention.self.query.weight')!.dtype).toBe('F32');
    await reader.close();
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

describe('attn train with "distillation"', () => {
  it("trains the student on the teacher's soft targets (unlabelled rows too) and takes the teacher's labels", async () => {
    await tinyClassifier('teacher', 32, { 0: 'neg', 1: 'pos' });
    await tinyClassifier('student', 16);
    // Every other row unlabelled (an empty label cell).
    writeFileSync(
      join(root, 'distil-train.tsv'),
      'text\tlabel\n' +
        texts.map((t, i) => `${t}\t${i % 2 === 0 ? (t.includes('great') ? 'pos' : 'neg') : ''}`).join('\n') +
        '\n',
    );
    writeFileSync(
      join(root, 'distil-dev.tsv'),
      'text\tlabel\n' + texts.map((t) => `${t}\t${t.includes('great') ? 'pos' : 'neg'}`).join('\n') + '\n',
    );
    const file = writeConfig('distil.json', {
      task: 'sequence-classification',
      model: './student',
      data: { train: 'distil-train.tsv', eval: 'distil-dev.tsv' },
      args: {
        outputDir: 'distil-out',
        maxSteps: 3,
        perDeviceTrainBatchSize: 4,
        saveStrategy: 'no',
        progress: false,
        learningRate: 1e-3,
      },
      distillation: { teacher: './teacher', temperature: 2, alpha: 0.5 },
    });
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      expect(await run([file])).toBe(0);
      expect(JSON.parse(String(log.mock.calls.at(-1)![0]))).toMatchObject({
        globalStep: 3,
        eval_accuracy: expect.any(Number),
      });
    } finally {
      log.mockRestore();
      warn.mockRestore();
    }
    expect(JSON.parse(readFileSync(join(root, 'distil-out', 'config.json'), 'utf8')).id2label).toEqual({
      0: 'neg',
      1: 'pos',
    });
  });

  it('names a bad distillation field', async () => {
    const base = {
      task: 'sequence-classification',
      model: './student',
      data: { train: 'distil-train.tsv' },
      args: { outputDir: 'out2' },
    };
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await run([writeConfig('bad1.json', { ...base, distillation: { teacher: './teacher', alpha: 2 } })])).toBe(
        2,
      );
      expect(
        await run([writeConfig('bad2.json', { ...base, distillation: { teacher: './teacher', temprature: 2 } })]),
      ).toBe(2);
      expect(
        await run([writeConfig('bad3.json', { ...base, task: 'causal-lm', distillation: { teacher: './teacher' } })]),
      ).toBe(2);
      const messages = error.mock.calls.map((c) => String(c[0]));
      expect(messages[0]).toMatch(/'distillation.alpha' must be a number between 0 and 1, got 2/);
      expect(messages[1]).toMatch(/unknown field 'distillation.temprature'/);
      expect(messages[2]).toMatch(/'distillation' must be absent unless task is sequence-classification/);
    } finally {
      error.mockRestore();
    }
  });
});
