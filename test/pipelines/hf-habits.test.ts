// The calls a transformers.js or Python user writes from habit, each against attn's own spelling of the same call.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { pipeline } from '../../src/pipelines/index.js';
import { tinyCausalLM, tinyClassifier, tinyEncoder } from './tiny-models.js';

describe('pipelines as transformers.js and transformers users call them', () => {
  it('zero-shot takes the labels as the second argument, as well as { candidateLabels }', async () => {
    const classify = await pipeline('zero-shot-classification', await tinyEncoder());
    const text = 'the team won the match';
    const byOption = await classify(text, { candidateLabels: ['sports', 'politics'], multiLabel: true });
    expect(await classify(text, ['sports', 'politics'], { multiLabel: true })).toEqual(byOption);
    expect(await classify(text, 'sports,politics', { multi_label: true } as never)).toEqual(byOption);
  });

  it('takes snake_case option names (max_new_tokens, top_k, candidate_labels)', async () => {
    const generator = await pipeline('text-generation', await tinyCausalLM());
    const camel = await generator('the cat', { maxNewTokens: 4, doSample: false });
    expect(await generator('the cat', { max_new_tokens: 4, do_sample: false } as never)).toEqual(camel);
    const classify = await pipeline('text-classification', await tinyClassifier(['NEGATIVE', 'POSITIVE']));
    expect(await classify('fine', { top_k: 2 } as never)).toEqual(await classify('fine', { topK: 2 }));
  });

  it('passes hub options on: localFilesOnly finds nothing in an empty cache and says so, without the network', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'attn-empty-cache-'));
    const loading = pipeline('text-classification', 'nobody/never-downloaded', {
      cacheDir,
      localFilesOnly: true,
      revision: 'main',
    });
    await expect(loading).rejects.toThrow(/nobody\/never-downloaded/);
    await expect(loading).rejects.toThrow(/offline|cache/i);
  });
});
