import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/export.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';

const out = mkdtempSync(join(tmpdir(), 'attn-cli-export-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

describe('attn export onnx', () => {
  it('writes a folder whose text classification in transformers.js matches attn', async () => {
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 13);
    const target = join(out, 'classifier');
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await run(['onnx', '--model', model, '--out', target])).toBe(0);
    expect(log).toHaveBeenCalledWith(join(target, 'onnx', 'model.onnx'));
    for (const file of ['onnx/model.onnx', 'config.json', 'tokenizer.json', 'tokenizer_config.json'])
      expect(existsSync(join(target, file))).toBe(true);

    const texts = ['i love this movie', 'the plot was dull and the acting awful'];
    const attn = (await (await pipeline('text-classification', model))(texts)) as ClassificationLabel[];
    const { env, pipeline: tjsPipeline } = await import('@huggingface/transformers');
    env.allowRemoteModels = false;
    env.localModelPath = dirname(target) + '/';
    const classify = await tjsPipeline('text-classification', basename(target), { dtype: 'fp32' });
    const tjs = (await classify(texts)) as ClassificationLabel[];
    await classify.dispose();
    tjs.forEach((r, i) => {
      expect(r.label).toBe(attn[i]!.label);
      expect(r.score).toBeCloseTo(attn[i]!.score, 5);
    });
  });

  it('refuses a missing format or flag with a usage error (exit 2)', async () => {
    const error = vi.spyOn(console, 'error').mockImplementation(() => {});
    expect(await run(['--model', 'x', '--out', 'y'])).toBe(2);
    expect(await run(['onnx', '--out', 'y'])).toBe(2);
    expect(error.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringContaining("expected the format 'onnx'"),
      expect.stringContaining('--model is required'),
    ]);
  });
});
