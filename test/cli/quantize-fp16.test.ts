import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/quantize.js';
import { SafetensorsReader } from '../../src/io/safetensors.js';
import { AutoModelForSequenceClassification } from '../../src/models/index.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';

const out = mkdtempSync(join(tmpdir(), 'attn-cli-quantize-fp16-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

const TEXTS = ['i love this movie', 'the plot was dull and the acting awful'];

async function classify(dir: string, dtype?: 'fp16'): Promise<ClassificationLabel[][]> {
  const pipe = await pipeline('text-classification', dir, { dtype, onWarning: () => {} });
  try {
    return (await pipe(TEXTS, { topK: null })) as ClassificationLabel[][];
  } finally {
    pipe.dispose();
  }
}

/** Float tensors' storage types and bytes by name. */
async function floatEntries(dir: string): Promise<Map<string, { dtype: string; bytes: number }>> {
  const reader = await SafetensorsReader.open(join(dir, 'model.safetensors'));
  try {
    return new Map(
      [...reader.entries]
        .filter(([, e]) => e.dtype.startsWith('F') || e.dtype === 'BF16')
        .map(([name, e]) => [name, { dtype: e.dtype, bytes: e.end - e.begin }]),
    );
  } finally {
    await reader.close();
  }
}

describe('attn quantize --dtype fp16', () => {
  it('writes an F16 checkpoint of half the float bytes that loads and scores as the fp16 pipeline', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 31);
    const target = join(out, 'classifier-fp16');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['--model', model, '--dtype', 'fp16', '--out', target])).toBe(0);
    expect(String(log.mock.calls[0]![0])).toMatch(/weights \d+ bytes, \d+\.\d% of the \d+ bytes of/);
    expect(JSON.parse(readFileSync(join(target, 'config.json'), 'utf8')).quantization_config).toBeUndefined();
    const [before, after] = await Promise.all([floatEntries(model), floatEntries(target)]);
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [name, e] of after) {
      expect(e.dtype, name).toBe('F16');
      expect(2 * e.bytes, name).toBe(before.get(name)!.bytes);
    }
    // The folder is the fp16 pipeline of the float folder, written down: the same rounded weights, the same scores.
    const fromFile = await classify(target);
    const roundedOnLoad = await classify(model, 'fp16');
    const float = await classify(model);
    const scores = (r: ClassificationLabel[][]) => r.flat().map((l) => l.score);
    scores(fromFile).forEach((s, i) => expect(s).toBeCloseTo(scores(roundedOnLoad)[i]!, 6));
    expect(fromFile.map((r) => r[0]!.label)).toEqual(float.map((r) => r[0]!.label));
  });

  it('dequantizes an int8 model first (the weights its codes stand for, rounded to half)', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 32);
    const int8 = join(out, 'classifier-int8');
    const fp16 = join(out, 'classifier-int8-fp16');
    vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['--model', model, '--dtype', 'int8', '--out', int8])).toBe(0);
    expect(await run(['--model', int8, '--dtype', 'fp16', '--out', fp16])).toBe(0);
    expect(JSON.parse(readFileSync(join(fp16, 'config.json'), 'utf8')).quantization_config).toBeUndefined();
    const want = await AutoModelForSequenceClassification.fromPretrained(int8, { dtype: 'float16' });
    const got = await AutoModelForSequenceClassification.fromPretrained(fp16);
    const wanted = want.stateDict();
    for (const [name, t] of got.stateDict()) {
      if (t.dtype !== 'float32') continue;
      expect(Array.from(t.halfStorage!.bits), name).toEqual(Array.from(wanted.get(name)!.halfStorage!.bits));
    }
  });
});
