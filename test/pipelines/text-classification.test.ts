import { beforeAll, describe, expect, it } from 'vitest';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { pipeline, PipelineInputError, type ClassificationLabel } from '../../src/pipelines/index.js';
import { noGrad } from '../../src/tensor/engine.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { tinyClassifier } from './tiny-models.js';

/** The reference: the model run on one text alone, its logits through a softmax in float64. */
async function referenceProbs(dir: string, text: string): Promise<number[]> {
  const [model, tokenizer] = await Promise.all([
    AutoModelForSequenceClassification.fromPretrained(dir),
    AutoTokenizer.fromPretrained(dir),
  ]);
  const logits = noGrad(
    () => (model as any).forward(tokenizer.encode([text], { returnTensors: true })).logits.data as Float32Array,
  );
  const exps = Array.from(logits, (x) => Math.exp(x));
  return exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
}

describe('text-classification pipeline', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tinyClassifier(['NEGATIVE', 'NEUTRAL', 'POSITIVE']);
  });

  it('labels a text with the softmax of its logits, best first; sentiment-analysis is the same task', async () => {
    const classify = await pipeline('sentiment-analysis', dir);
    const text = 'this movie was very good';
    const probs = await referenceProbs(dir, text);
    const best = probs.indexOf(Math.max(...probs));
    const [top] = await classify(text);
    expect(top!.label).toBe(['NEGATIVE', 'NEUTRAL', 'POSITIVE'][best]);
    expect(top!.score).toBeCloseTo(probs[best]!, 6);
    const all = (await classify(text, { topK: null })) as ClassificationLabel[];
    expect(all.map((l) => l.label).sort()).toEqual(['NEGATIVE', 'NEUTRAL', 'POSITIVE']);
    expect(all.map((l) => l.score)).toEqual([...all.map((l) => l.score)].sort((a, b) => b - a));
    expect(all.reduce((s, l) => s + l.score, 0)).toBeCloseTo(1, 10);
    classify.dispose();
  });

  it('gives a padded batch, split across batches, the same scores as each text alone', async () => {
    const classify = await pipeline('text-classification', dir, { batchSize: 2 });
    const texts = ['good', 'i hate this boring film and it was not fun at all', 'the story is great', 'bad'];
    const batched = (await classify(texts, { topK: 2 })) as ClassificationLabel[][];
    expect(batched).toHaveLength(4);
    for (let i = 0; i < texts.length; i++) {
      const alone = await classify(texts[i]!, { topK: 2 });
      expect(batched[i]!.map((l) => l.label)).toEqual(alone.map((l) => l.label));
      batched[i]!.forEach((l, k) => expect(l.score).toBeCloseTo(alone[k]!.score, 5));
    }
    // topK 1 over a batch: one label per text, as transformers returns it.
    const flat = (await classify(texts)) as ClassificationLabel[];
    expect(flat.map((l) => typeof l.label)).toEqual(['string', 'string', 'string', 'string']);
  });

  it('truncates a 100,000-character text with a warning instead of failing', async () => {
    const warnings: string[] = [];
    const classify = await pipeline('text-classification', dir, { onWarning: (m) => warnings.push(m) });
    const [result] = await classify('the movie was good. '.repeat(5000));
    expect(result!.score).toBeGreaterThan(0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(
      /input 0 \(100000 characters\) is \d+ tokens long; the model takes 48, so only its first 48 tokens were used/,
    );
  });

  it('refuses empty text, bad topK, and use after dispose with messages that say what to do', async () => {
    const classify = await pipeline('text-classification', dir);
    await expect(classify('   ')).rejects.toThrow(new PipelineInputError('text is empty; give some text to work on'));
    await expect(classify(['fine', ''])).rejects.toThrow('text 1 is empty');
    await expect(classify([])).rejects.toThrow('expected at least one text, got an empty array');
    await expect(classify(42 as never)).rejects.toThrow('expected a text (string) or an array of them, got number');
    await expect(classify('fine', { topK: 0 })).rejects.toThrow('topK must be a whole number >= 1');
    classify.dispose();
    await expect(classify('fine')).rejects.toThrow(
      "this text-classification pipeline was disposed; create a new one with pipeline('text-classification')",
    );
  });
});
