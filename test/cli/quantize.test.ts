import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/quantize.js';
import { runWith } from '../../src/cli/commands/run.js';
import { copyTokenizerFiles } from '../../src/hub/push.js';
import { AutoModelForSequenceClassification } from '../../src/models/index.js';
import { quantizationConfigOf } from '../../src/models/quantization.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';

const out = mkdtempSync(join(tmpdir(), 'attn-cli-quantize-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('attn quantize', () => {
  it('writes an int8 folder that pipelines load and that labels as the float model does', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 13);
    const target = join(out, 'classifier-int8');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['--model', model, '--dtype', 'int8', '--out', target])).toBe(0);
    expect(String(log.mock.calls[0]![0])).toMatch(/weights \d+ bytes, \d+\.\d% of the \d+ bytes of/);
    expect(JSON.parse(readFileSync(join(target, 'config.json'), 'utf8')).quantization_config.dtype).toBe('int8');
    const texts = ['i love this movie', 'the plot was dull and the acting awful'];
    const float = (await (await pipeline('text-classification', model))(texts)) as ClassificationLabel[];
    const int8 = (await (await pipeline('text-classification', target))(texts)) as ClassificationLabel[];
    expect(int8.map((r) => r.label)).toEqual(float.map((r) => r.label));
    // dtype 'fp32' dequantizes it: float layers holding what the codes stand for, as the model saved by
    // fromPretrained(target, { dtype: 'float32' }) holds.
    const fp32 = await pipeline('text-classification', target, { dtype: 'fp32' });
    expect(quantizationConfigOf(fp32.model)).toBeNull();
    const dequantized = join(out, 'classifier-dequantized');
    const loaded = await AutoModelForSequenceClassification.fromPretrained(target, { dtype: 'float32' });
    await loaded.savePretrained(dequantized);
    await copyTokenizerFiles(target, dequantized);
    const fromFloat = (await (await pipeline('text-classification', dequantized))(texts)) as ClassificationLabel[];
    expect((await fp32(texts)) as ClassificationLabel[]).toEqual(fromFloat);
    expect(fromFloat.map((r) => r.label)).toEqual(float.map((r) => r.label));
  });

  it('quantizes an int8 folder again from the weights its codes stand for, with a note', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 14);
    const [once, twice] = [join(out, 'once-int8'), join(out, 'twice-int8')];
    vi.spyOn(console, 'log').mockImplementation(() => {});
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await run(['--model', model, '--dtype', 'int8', '--out', once])).toBe(0);
    expect(await run(['--model', once, '--dtype', 'int8', '--out', twice])).toBe(0);
    expect(String(error.mock.calls.at(-1)![0])).toMatch(/is int8 already: dequantized first, then quantized to int8/);
    const texts = ['i love this movie', 'the plot was dull and the acting awful'];
    const first = (await (await pipeline('text-classification', once))(texts)) as ClassificationLabel[];
    const second = (await (await pipeline('text-classification', twice))(texts)) as ClassificationLabel[];
    expect(second.map((r) => r.label)).toEqual(first.map((r) => r.label));
    second.forEach((r, i) => expect(r.score).toBeCloseTo(first[i]!.score, 2));
  });

  it('refuses a missing or unknown dtype with a usage error (exit 2)', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await run(['--model', 'x', '--out', 'y'])).toBe(2);
    expect(await run(['--model', 'x', '--dtype', 'int4', '--out', 'y'])).toBe(2);
    expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringContaining('--dtype is required (int8, q4, fp16)'),
      expect.stringContaining("--dtype is 'int4'; expected one of int8, q4, fp16"),
    ]);
  });
});

describe('attn run --dtype', () => {
  it('quantizes on load (q8) with the same labels, and names a bad dtype (exit 2)', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 13);
    const attnRun = async (argv: string[]) => {
      const [stdin, stdout, stderr] = [new PassThrough(), new PassThrough(), new PassThrough()];
      let out = '';
      let err = '';
      stdout.on('data', (chunk) => (out += chunk));
      stderr.on('data', (chunk) => (err += chunk));
      stdin.end();
      const code = await runWith(argv, { stdin, stdout, stderr });
      return { code, out, err };
    };
    const texts = ['i love this movie', 'the plot was dull and the acting awful'];
    const float = await attnRun(['sentiment-analysis', '--model', model, '--json', ...texts]);
    const q8 = await attnRun(['sentiment-analysis', '--model', model, '--json', '--dtype', 'q8', ...texts]);
    expect(q8.code).toBe(0);
    const labels = (out: string) =>
      out
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).result[0].label);
    expect(labels(q8.out)).toEqual(labels(float.out));
    const bad = await attnRun(['sentiment-analysis', '--model', model, '--dtype', 'int4', 'x']);
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--dtype is 'int4'; expected one of fp32, fp16, q8, q4/);
  });
});
