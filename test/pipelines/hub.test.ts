// A pipeline from a hub repo id: the model is pushed to an attn hub server on 127.0.0.1, fetched into an empty
// cache by pipeline('org/name'), and then found in that cache with the hub gone (offline).
import { expect, it } from 'vitest';
import { NgramClassifier, writeNgramHeadEntry } from '../../src/models/ngram/modeling_ngram.js';
import { pipeline } from '../../src/pipelines/index.js';
import { publishToLocalHub } from '../helpers/hub.js';
import { tinyClassifier } from './tiny-models.js';

it('loads a pipeline by hub repo id, then from the cache when offline', async () => {
  const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 31);
  // With an n-gram head beside it, as the Korean default: the download brings it along.
  const weights = Float32Array.from({ length: 2 ** 10 }, (_, i) => ((i % 7) - 3) * 0.2);
  await writeNgramHeadEntry(model, await NgramClassifier.fromWeights(5, 10, weights, 0).save(model, 0.5));
  const hub = await publishToLocalHub(model, 'alice/tiny-sentiment');
  try {
    const fromHub = await pipeline('sentiment-analysis', 'alice/tiny-sentiment');
    expect(fromHub.ngramHead?.weight).toBe(0.5);
    const expected = await (await pipeline('sentiment-analysis', model))('i love this film');
    expect(await fromHub('i love this film')).toEqual(expected);
    await hub.stopServer();
    process.env.HF_HUB_OFFLINE = '1';
    expect(await (await pipeline('sentiment-analysis', 'alice/tiny-sentiment'))('i love this film')).toEqual(expected);
  } finally {
    await hub.close();
  }
});
