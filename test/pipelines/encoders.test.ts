// zero-shot-classification (both paths), feature-extraction and fill-mask, each against the model run directly.
import { beforeAll, describe, expect, it } from 'vitest';
import { AutoModel, AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { pipeline, type FillMaskCandidate } from '../../src/pipelines/index.js';
import { noGrad } from '../../src/tensor/engine.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { tinyClassifier, tinyEncoder, tinyMaskedLM } from './tiny-models.js';

const softmax = (xs: number[]) => {
  const exps = xs.map((x) => Math.exp(x - Math.max(...xs)));
  return exps.map((e) => e / exps.reduce((a, b) => a + b, 0));
};

describe('zero-shot-classification with an NLI model, as transformers scores it', () => {
  const labels = ['contradiction', 'neutral', 'entailment'];
  let dir: string;
  let pairLogits: (premise: string, hypothesis: string) => Promise<number[]>;
  beforeAll(async () => {
    dir = await tinyClassifier(labels, 11);
    const [model, tokenizer] = await Promise.all([
      AutoModelForSequenceClassification.fromPretrained(dir),
      AutoTokenizer.fromPretrained(dir),
    ]);
    pairLogits = async (premise, hypothesis) =>
      noGrad(() =>
        Array.from(
          (model as any).forward(tokenizer.encode([premise], { textPair: [hypothesis], returnTensors: true })).logits
            .data as Float32Array,
        ),
      );
  });

  it('softmaxes the entailment logits over the labels, and entailment vs contradiction per label when multiLabel', async () => {
    const classify = await pipeline('zero-shot-classification', dir);
    const text = 'the team won the game';
    const candidates = ['sports', 'politics', 'music'];
    const logits = await Promise.all(candidates.map((l) => pairLogits(text, `This example is ${l}.`)));
    const expected = softmax(logits.map((row) => row[2]!));
    const result = await classify(text, { candidateLabels: candidates });
    expect(result.sequence).toBe(text);
    expect([...result.labels].sort()).toEqual([...candidates].sort());
    result.labels.forEach((label, i) => expect(result.scores[i]).toBeCloseTo(expected[candidates.indexOf(label)]!, 5));
    expect(result.scores).toEqual([...result.scores].sort((a, b) => b - a));

    const multi = await classify(text, {
      candidateLabels: 'sports, politics ,music',
      multiLabel: true,
      hypothesisTemplate: 'This example is {}.',
    });
    multi.labels.forEach((label, i) => {
      const row = logits[candidates.indexOf(label)]!;
      expect(multi.scores[i]).toBeCloseTo(softmax([row[0]!, row[2]!])[1]!, 5);
    });
  });

  it('batches texts × labels and refuses bad label sets and templates', async () => {
    const classify = await pipeline('zero-shot-classification', dir, { batchSize: 4 });
    const texts = ['the vote on the law', 'a cat sat on the mat'];
    const both = await classify(texts, { candidateLabels: ['politics', 'science', 'sports'] });
    expect(both).toHaveLength(2);
    expect(both[1]).toEqual(await classify(texts[1]!, { candidateLabels: ['politics', 'science', 'sports'] }));
    await expect(classify('x', { candidateLabels: [] })).rejects.toThrow(
      'needs at least one candidate label; got none',
    );
    await expect(classify('x', { candidateLabels: ' , ' })).rejects.toThrow('at least one candidate label');
    await expect(classify('x', undefined as never)).rejects.toThrow('needs candidateLabels');
    await expect(classify('x', { candidateLabels: ['a'], hypothesisTemplate: 'no slot' })).rejects.toThrow(
      "hypothesisTemplate 'no slot' has no '{}'",
    );
  });

  it('refuses a classifier without an entailment label', async () => {
    const classify = await pipeline('zero-shot-classification', await tinyClassifier(['NEGATIVE', 'POSITIVE']));
    await expect(classify('x', { candidateLabels: ['a', 'b'] })).rejects.toThrow(
      "needs an NLI model whose labels include 'entailment'",
    );
  });
});

describe('feature-extraction and zero-shot by similarity with an encoder', () => {
  let dir: string;
  let hidden: (text: string) => Promise<{ data: Float32Array; t: number; c: number }>;
  beforeAll(async () => {
    dir = await tinyEncoder();
    const [model, tokenizer] = await Promise.all([AutoModel.fromPretrained(dir), AutoTokenizer.fromPretrained(dir)]);
    hidden = async (text) =>
      noGrad(() => {
        const out = (model as any).forward(tokenizer.encode([text], { returnTensors: true })).lastHiddenState;
        return { data: Float32Array.from(out.data), t: out.shape[1], c: out.shape[2] };
      });
  });

  const mean = (h: { data: Float32Array; t: number; c: number }) =>
    Array.from(
      { length: h.c },
      (_, j) => Array.from({ length: h.t }, (_, i) => h.data[i * h.c + j]!).reduce((a, b) => a + b, 0) / h.t,
    );
  const unit = (v: number[]) => v.map((x) => x / Math.hypot(...v));

  it('returns token vectors, and mean / cls pooling with normalization, padding excluded', async () => {
    const extract = await pipeline('feature-extraction', dir);
    const long = 'the dog sat on the mat and the cat sat on the dog';
    const h = await hidden(long);
    const tokens = (await extract(long)) as number[][];
    expect(tokens).toHaveLength(h.t);
    tokens[3]!.forEach((x, j) => expect(x).toBeCloseTo(h.data[3 * h.c + j]!, 4));
    const [short, longMean] = (await extract(['good', long], { pooling: 'mean', normalize: true })) as number[][];
    unit(mean(h)).forEach((x, j) => expect(longMean![j]).toBeCloseTo(x, 4));
    unit(mean(await hidden('good'))).forEach((x, j) => expect(short![j]).toBeCloseTo(x, 4));
    const cls = (await extract(long, { pooling: 'cls' })) as number[];
    cls.forEach((x, j) => expect(x).toBeCloseTo(h.data[j]!, 4));
    await expect(extract(long, { normalize: true })).rejects.toThrow('normalize needs pooled vectors');
    await expect(extract(long, { pooling: 'max' as never })).rejects.toThrow(
      "pooling must be one of none, mean, cls, pooler, got 'max'",
    );
  });

  it('scores labels by cosine similarity of mean embeddings when the model is an encoder', async () => {
    const classify = await pipeline('zero-shot-classification', dir);
    const text = 'i love this film';
    const labels = ['music', 'sports'];
    const textVector = unit(mean(await hidden(text)));
    const cosines = await Promise.all(
      labels.map(async (l) =>
        unit(mean(await hidden(`This example is ${l}.`))).reduce((s, x, j) => s + x * textVector[j]!, 0),
      ),
    );
    const expected = softmax(cosines.map((c) => c / 0.05));
    const result = await classify(text, { candidateLabels: labels });
    result.labels.forEach((label, i) => expect(result.scores[i]).toBeCloseTo(expected[labels.indexOf(label)]!, 4));
    const multi = await classify(text, { candidateLabels: labels, multiLabel: true });
    multi.labels.forEach((label, i) =>
      expect(multi.scores[i]).toBeCloseTo((1 + cosines[labels.indexOf(label)]!) / 2, 4),
    );
  });
});

describe('fill-mask', () => {
  it('ranks the vocabulary at the mask, fills the sequence, and lists candidates per mask', async () => {
    const fill = await pipeline('fill-mask', await tinyMaskedLM());
    const candidates = (await fill('the cat sat on the [MASK] .', { topK: 3 })) as FillMaskCandidate[];
    expect(candidates).toHaveLength(3);
    expect(candidates.map((c) => c.score)).toEqual([...candidates.map((c) => c.score)].sort((a, b) => b - a));
    for (const c of candidates) {
      expect(c.sequence).toBe(`the cat sat on the ${c.token_str} .`.replace(' .', '.'));
      expect(fill.tokenizer.convertIdsToTokens(c.token)).toBe(c.token_str);
    }
    const twoMasks = (await fill('[MASK] cat sat on the [MASK]', { topK: 2 })) as FillMaskCandidate[][];
    expect(twoMasks).toHaveLength(2);
    expect(twoMasks[0]).toHaveLength(2);
    await expect(fill('no mask here')).rejects.toThrow('text has no [MASK] to fill');
  });
});
