// Model files are data too: NaN weights must give an error naming the model, not "negative, score NaN" with exit 0.
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { runWith } from '../../src/cli/commands/run.js';
import { loadSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { NonFiniteOutputError } from '../../src/generation/finite-outputs.js';
import { pipeline } from '../../src/pipelines/index.js';
import { tinyCausalLM, tinyClassifier, tinyEncoder } from '../pipelines/tiny-models.js';

/** Sets every value of the tensors whose names match `pattern` to `value` in the folder's model.safetensors. */
async function poison(dir: string, pattern: RegExp, value: number): Promise<void> {
  const file = join(dir, 'model.safetensors');
  const { tensors } = await loadSafetensors(file);
  const names = [...tensors.keys()].filter((name) => pattern.test(name));
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) tensors.get(name)!.data.fill(value);
  await saveSafetensors(file, tensors);
}

function sink(): Writable & { text: string } {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      stream.text += chunk.toString();
      done();
    },
  }) as Writable & { text: string };
  stream.text = '';
  return stream;
}

describe('non-finite model outputs', () => {
  it('text classification with NaN weights is an error naming the model folder', async () => {
    const dir = await tinyClassifier(['negative', 'positive']);
    await poison(dir, /^classifier\.weight$/, Number.NaN);
    const classify = await pipeline('text-classification', dir);
    try {
      await expect(classify('the cat sat')).rejects.toThrow(NonFiniteOutputError);
      await expect(classify('the cat sat')).rejects.toThrow(new RegExp(`${dir}.*NaN.*'logits'`));
    } finally {
      classify.dispose();
    }
  });

  it('attn run exits 1 with the message instead of printing a NaN score', async () => {
    const dir = await tinyClassifier(['negative', 'positive']);
    await poison(dir, /^classifier\.bias$/, Number.POSITIVE_INFINITY);
    const stdout = sink();
    const stderr = sink();
    const code = await runWith(['text-classification', '--model', dir, 'the cat sat'], {
      stdin: Readable.from([]),
      stdout,
      stderr,
    });
    expect(code).toBe(1);
    expect(stdout.text).toBe('');
    expect(stderr.text).toMatch(/produced (NaN|Infinity|-Infinity) in its 'logits' output/);
  });

  it('feature extraction with NaN weights is an error too', async () => {
    const dir = await tinyEncoder();
    await poison(dir, /LayerNorm\.weight$/, Number.NaN);
    const embed = await pipeline('feature-extraction', dir);
    try {
      await expect(embed('the cat sat')).rejects.toThrow(NonFiniteOutputError);
    } finally {
      embed.dispose();
    }
  });

  it('text generation with NaN weights is an error, not token 0 repeated', async () => {
    const dir = await tinyCausalLM();
    await poison(dir, /ln_f\.weight$/, Number.NaN);
    const generate = await pipeline('text-generation', dir);
    try {
      await expect(generate('the cat', { maxNewTokens: 4 })).rejects.toThrow(
        /generate: .* produced NaN in its 'logits' output/,
      );
    } finally {
      generate.dispose();
    }
  });
});
