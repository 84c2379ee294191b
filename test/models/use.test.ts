// Universal Sentence Encoder Lite: attn's module against the original TF.js graph (tfjs-backend-cpu), fed by the
// original tokenizer; loading through the Auto classes; gradients through encode; a classification head.
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTfjsUse, type TfjsUse } from '../../scripts/use-tfjs-reference.js';
import { AutoModel, AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { UseConfig } from '../../src/models/use/configuration_use.js';
import { tokenizeLikeOriginal, UseForSequenceClassification, UseModel } from '../../src/models/use/modeling_use.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { USE_LITE_DIR } from './use-fixtures.js';

const LONG = Array.from({ length: 90 }, (_, i) => `word${i % 7} and more`).join(' '); // > 128 tokens: clipped

/** Varied on purpose: lengths from 0 to past the 128-token limit, case, digits, punctuation, accents, CJK, emoji. */
const SENTENCES = [
  'Hello world.',
  'The quick brown fox jumps over the lazy dog.',
  '',
  '   ',
  'a',
  'I love this movie!',
  'I hate this movie.',
  'This film is neither good nor bad, just painfully average.',
  'What time is it? It is 10:30 now.',
  'Stocks fell 3.5% on Tuesday after the Federal Reserve raised interest rates by 0.25 percentage points.',
  'The team scored twice in the final minutes to win the championship 2-1.',
  'NASA launched a new telescope to study distant galaxies.',
  'Café, naïve, résumé, jalapeño — accents everywhere.',
  '東京は日本の首都です。',
  'Emoji: 😀🎉👍 and symbols ©®™ € £ ¥',
  'ALL CAPS SENTENCE SHOUTING AT YOU',
  'mIxEd CaSe WoRdS',
  'numbers 1234567890 and 3.14159',
  'http://example.com/path?query=1&x=y',
  'user@example.com wrote: "quoted text"',
  "Don't won't can't shouldn't it's",
  'Tab\tseparated\tvalues',
  'Line one\nLine two',
  'Multiple     spaces    between   words',
  'Ünïcödé ßtraße Øresund Ålesund',
  'Привет, как дела?',
  'مرحبا بالعالم',
  'The cat sat on the mat.',
  'A cat was sitting on a rug.',
  'How do I reset my password?',
  'What are the steps to change my login credentials?',
  'The weather today is sunny with a chance of rain in the evening.',
  'Quantum entanglement links particles across arbitrary distances.',
  'Pizza is my favourite food.',
  'He said, "I will be there at 5 p.m."',
  '!!!???...',
  '12:00',
  'sentence-with-hyphens_and_underscores',
  'CamelCaseIdentifiersAreHardToTokenize',
  'The movie was terrible; the acting was wooden and the plot made no sense.',
  'An absolute masterpiece, beautifully shot and wonderfully acted.',
  'Apple unveiled its latest iPhone at an event in Cupertino.',
  'The Prime Minister met with European leaders to discuss trade.',
  'Researchers found a new species of frog in the Amazon rainforest.',
  'I',
  'Is this the real life? Is this just fantasy?',
  'To be, or not to be, that is the question.',
  'Ceci n’est pas une pipe.',
  LONG,
  'Short.',
];

function maxAbsDiff(ours: Tensor, row: number, theirs: ArrayLike<number>): number {
  const width = ours.shape[1]!;
  let max = 0;
  for (let j = 0; j < width; j++) max = Math.max(max, Math.abs(ours.data[row * width + j]! - theirs[j]!));
  return max;
}

describe('UseModel against the TF.js graph', () => {
  let model: UseModel;
  let reference: TfjsUse;

  beforeAll(async () => {
    model = await UseModel.fromPretrained(USE_LITE_DIR);
    reference = await loadTfjsUse();
  });

  it('tokenizes the 50 sentences exactly as the original tokenizer', () => {
    expect(SENTENCES).toHaveLength(50);
    const tokenizer = model.getTokenizer();
    for (const text of SENTENCES)
      expect(tokenizeLikeOriginal(tokenizer, text), JSON.stringify(text)).toEqual(reference.tokenize(text));
    expect(reference.tokenize(LONG).length).toBeGreaterThan(128);
  });

  it('matches the normalized embeddings within 1e-4 (batches of 8, padded)', async () => {
    const ours = noGrad(() => model.encode(SENTENCES, { batchSize: 8 }));
    expect(ours.shape).toEqual([50, 512]);
    // One sentence per graph call: tfjs-backend-cpu slows down sharply on batches holding a 128-token row.
    const theirs: Float32Array[] = [];
    for (const text of SENTENCES) theirs.push(...(await reference.embed([text])));
    const worst = Math.max(...theirs.map((row, i) => maxAbsDiff(ours, i, row)));
    expect(worst).toBeLessThan(1e-4);
  });

  it('matches the tanh layer before normalisation (normalize: false)', async () => {
    const texts = SENTENCES.slice(0, 6);
    const ours = noGrad(() => model.encode(texts, { normalize: false, batchSize: 4 }));
    const theirs = await reference.embed(texts, { normalize: false });
    theirs.forEach((row, i) => expect(maxAbsDiff(ours, i, row)).toBeLessThan(1e-4));
    const norms = texts.map((_, i) => Math.hypot(...ours.data.slice(i * 512, (i + 1) * 512)));
    expect(norms.some((n) => Math.abs(n - 1) > 0.1)).toBe(true);
  });

  it('gives the same embedding for a text alone and inside a padded batch', () => {
    const texts = SENTENCES.slice(0, 12);
    const batched = noGrad(() => model.encode(texts, { batchSize: 12 }));
    const single = noGrad(() => model.encode([texts[9]!], { batchSize: 1 }));
    expect(maxAbsDiff(batched, 9, single.data)).toBeLessThan(1e-5);
  });
});

describe('UseModel loading, gradients and heads', () => {
  it('loads through AutoModel and finds its tokenizer beside config.json', async () => {
    const model = await AutoModel.fromPretrained(USE_LITE_DIR);
    expect(model).toBeInstanceOf(UseModel);
    expect(model.numParameters()).toBe(6_975_744);
    const out = noGrad(() => (model as UseModel).encode(['a sentence', 'another one']));
    expect(out.shape).toEqual([2, 512]);
  });

  it('rejects a bad batch size and a model with no tokenizer, naming what is missing', async () => {
    const model = await UseModel.fromPretrained(USE_LITE_DIR);
    expect(() => model.encode(['x'], { batchSize: 0 })).toThrow(/batchSize must be a whole number >= 1, got 0/);
    const fresh = new UseModel(new UseConfig());
    expect(() => fresh.encode(['x'])).toThrow(/no tokenizer: .*tokenizer\.json does not exist/);
    expect(noGrad(() => model.encode([])).shape).toEqual([0, 512]);
  });

  it('back-propagates from the embeddings to every weight, matching a finite-difference directional derivative', async () => {
    const model = await UseModel.fromPretrained(USE_LITE_DIR);
    const texts = ['gradients flow through the encoder', 'a second, longer sentence to force padding here'];
    const direction = new Tensor(
      Float32Array.from({ length: 2 * 512 }, (_, i) => Math.sin(i)),
      [2, 512],
    );
    const loss = () => ops.sum(ops.mul(model.encode(texts), direction));
    loss().backward();
    for (const [name, p] of model.namedParameters()) {
      expect(p.grad, name).not.toBeNull();
      expect(
        p.grad!.data.some((g) => g !== 0),
        name,
      ).toBe(true);
    }
    // Along the gradient of the deepest weight, dL/dε = |g|: a large, well-conditioned signal for float32 differences
    // (single elements drown in rounding and ReLU kinks).
    const weight = model.encoder.layer[0]!.attention.qkv.weight;
    const gradient = Float32Array.from(weight.grad!.data);
    const norm = Math.sqrt(gradient.reduce((sum, g) => sum + g * g, 0));
    const saved = Float32Array.from(weight.data);
    const lossAt = (eps: number) => {
      weight.data.set(saved.map((w, i) => w + (eps * gradient[i]!) / norm));
      return noGrad(() => loss().item());
    };
    const eps = 1e-2;
    const numeric = (lossAt(eps) - lossAt(-eps)) / (2 * eps);
    weight.data.set(saved);
    expect(Math.abs(numeric - norm) / norm).toBeLessThan(0.02);
  });

  it('fine-tunes as the base of AutoModelForSequenceClassification', async () => {
    const warnings: string[] = [];
    const model = (await AutoModelForSequenceClassification.fromPretrained(USE_LITE_DIR, {
      numLabels: 2,
      onWarning: (m) => warnings.push(m),
    })) as UseForSequenceClassification;
    expect(model).toBeInstanceOf(UseForSequenceClassification);
    expect(model.loadingInfo!.newlyInitialized.sort()).toEqual(['classifier.bias', 'classifier.weight']);
    expect(warnings.join('\n')).toMatch(/newly initialized: classifier/);
    const base = await UseModel.fromPretrained(USE_LITE_DIR);
    expect(model.use.encoder.layer[1]!.ffn.output.weight.data).toEqual(base.encoder.layer[1]!.ffn.output.weight.data);

    const tokenizer = base.getTokenizer();
    const rows = ['a wonderful, moving film', 'dull and lifeless'].map((t) => tokenizeLikeOriginal(tokenizer, t));
    const t = Math.max(...rows.map((r) => r.length));
    const inputIds = new Tensor(Int32Array.from(rows.flatMap((r) => [...r, ...new Array(t - r.length).fill(0)])), [
      2,
      t,
    ]);
    const attentionMask = new Tensor(
      Int32Array.from(rows.flatMap((r) => [...r.map(() => 1), ...new Array(t - r.length).fill(0)])),
      [2, t],
    );
    const labels = new Tensor(Int32Array.from([1, 0]), [2]);
    model.eval();
    const before = noGrad(() => model.forward({ inputIds, attentionMask, labels }).loss!.item());
    for (let step = 0; step < 2; step++) {
      model.zeroGrad();
      model.forward({ inputIds, attentionMask, labels }).loss!.backward();
      noGrad(() => {
        for (const p of model.parameters()) if (p.grad) p.data.set(ops.sub(p, ops.mul(p.grad, 0.05)).data);
      });
    }
    const after = noGrad(() => model.forward({ inputIds, attentionMask, labels }).loss!.item());
    expect(after).toBeLessThan(before);
  });

  it('applies hidden_dropout_prob to the residual branches only in training mode (0 by default: the published graph)', () => {
    const raw = {
      vocab_size: 50,
      embedding_size: 8,
      hidden_size: 16,
      intermediate_size: 32,
      num_attention_heads: 2,
      num_hidden_layers: 2,
    };
    const config = new UseConfig(raw);
    expect(config.hiddenDropoutProb).toBe(0);
    const inputIds = new Tensor(Int32Array.from([3, 7, 9, 11, 4, 2]), [1, 6]);
    const attentionMask = new Tensor(Int32Array.from([1, 1, 1, 1, 1, 1]), [1, 6]);
    const model = new UseModel(config);
    const run = (m: UseModel): Float32Array =>
      noGrad(() => m.forward({ inputIds, attentionMask }).lastHiddenState.data as Float32Array);
    model.train();
    const withoutDropout = run(model);
    const dropping = new UseModel(new UseConfig({ ...raw, hidden_dropout_prob: 0.5 }));
    dropping.loadStateDict(model.stateDict());
    dropping.eval();
    expect(run(dropping)).toEqual(withoutDropout);
    dropping.train();
    const trained = run(dropping);
    const changed = trained.filter((v, i) => Math.abs(v - withoutDropout[i]!) > 1e-6).length;
    expect(changed).toBeGreaterThan(trained.length / 2);
  });
});
