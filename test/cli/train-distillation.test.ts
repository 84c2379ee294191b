import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/train.js';
import { BertConfig, BertForSequenceClassification } from '../../src/models/index.js';
import { manualSeed } from '../../src/tensor/index.js';
import { trainTokenizer } from '../../src/tokenizers/index.js';

const root = mkdtempSync(join(tmpdir(), 'attn-cli-distil-'));
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

describe('attn train with "distillation"', () => {
  it("trains the student on the teacher's soft targets (unlabelled rows too) and takes the teacher's labels", async () => {
    await tinyClassifier('teacher', 32, { 0: 'neg', 1: 'pos' });
    await tinyClassifier('student', 16);
    // Every other row unlabelled (an empty label cell).
    writeFileSync(
      join(root, 'train.tsv'),
      'text\tlabel\n' +
        texts.map((t, i) => `${t}\t${i % 2 === 0 ? (t.includes('great') ? 'pos' : 'neg') : ''}`).join('\n') +
        '\n',
    );
    writeFileSync(
      join(root, 'dev.tsv'),
      'text\tlabel\n' + texts.map((t) => `${t}\t${t.includes('great') ? 'pos' : 'neg'}`).join('\n') + '\n',
    );
    const file = writeConfig('distil.json', {
      task: 'sequence-classification',
      model: './student',
      data: { train: 'train.tsv', eval: 'dev.tsv' },
      args: {
        outputDir: 'out',
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
    expect(JSON.parse(readFileSync(join(root, 'out', 'config.json'), 'utf8')).id2label).toEqual({ 0: 'neg', 1: 'pos' });
  });

  it('names a bad distillation field', async () => {
    const base = {
      task: 'sequence-classification',
      model: './student',
      data: { train: 'train.tsv' },
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
