// A classifier folder with an n-gram head (config.json ngram_head): the pipeline's scores are the weighted mean logit
// of the transformer and the n-grams, computed here independently from the model run alone and the head's own logit.
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PassThrough } from 'node:stream';
import { run as quantizeCommand } from '../../src/cli/commands/quantize.js';
import { runWith } from '../../src/cli/commands/run.js';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import {
  NgramClassifier,
  NgramHeadError,
  ngramFeatures,
  writeNgramHeadEntry,
} from '../../src/models/ngram/modeling_ngram.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { noGrad } from '../../src/tensor/engine.js';
import { Generator } from '../../src/tensor/random.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { tinyClassifier } from './tiny-models.js';

const made: string[] = [];
afterAll(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** A head whose words push towards POSITIVE or NEGATIVE, strongly enough to outvote a random tiny BERT. */
function wordHead(): NgramClassifier {
  const bits = 16;
  const weights = new Float32Array(2 ** bits);
  const generator = new Generator(5);
  weights.forEach((_, i) => (weights[i] = (generator.random() - 0.5) * 0.01));
  for (const f of ngramFeatures('great', 5, bits)) weights[f] = 1;
  for (const f of ngramFeatures('awful', 5, bits)) weights[f] = -1;
  return NgramClassifier.fromWeights(5, bits, weights, 0.1);
}

async function withHead(
  labels: string[],
  weight: number,
  temperature?: number,
): Promise<{ dir: string; head: NgramClassifier }> {
  const dir = await tinyClassifier(labels, 21);
  made.push(dir);
  const head = wordHead();
  await writeNgramHeadEntry(dir, await head.save(dir, weight, temperature));
  return { dir, head };
}

/** The transformer's own logits for one text, run alone. */
async function modelLogits(dir: string, text: string): Promise<number[]> {
  const [model, tokenizer] = await Promise.all([
    AutoModelForSequenceClassification.fromPretrained(dir),
    AutoTokenizer.fromPretrained(dir),
  ]);
  return Array.from(
    noGrad(() => (model as any).forward(tokenizer.encode([text], { returnTensors: true })).logits.data as Float32Array),
  );
}

const positiveScore = async (classify: any, text: string): Promise<number> =>
  ((await classify(text, { topK: null })) as ClassificationLabel[]).find((l) => l.label === 'POSITIVE')!.score;

describe('text-classification with an n-gram head', () => {
  it('scores sigmoid(((1 − w)(l1 − l0) + w·z) / t), and the transformer alone with ngramHead: false', async () => {
    const { dir, head } = await withHead(['NEGATIVE', 'POSITIVE'], 0.3, 0.8);
    const classify = await pipeline('sentiment-analysis', dir);
    const alone = await pipeline('sentiment-analysis', dir, { ngramHead: false });
    expect(classify.ngramHead?.weight).toBe(0.3);
    expect(alone.ngramHead).toBeNull();
    for (const text of ['a great movie', 'an awful movie', 'the story']) {
      const [l0, l1] = await modelLogits(dir, text);
      const z = head.logit(text);
      const ensemble = (0.7 * (l1! - l0!) + 0.3 * z) / 0.8;
      expect(await positiveScore(classify, text)).toBeCloseTo(1 / (1 + Math.exp(-ensemble)), 6);
      expect(await positiveScore(alone, text)).toBeCloseTo(1 / (1 + Math.exp(-(l1! - l0!))), 6);
    }
    // The head's words decide where the random transformer cannot.
    expect(((await classify('great great great')) as ClassificationLabel[])[0]!.label).toBe('POSITIVE');
    expect(((await classify('awful awful awful')) as ClassificationLabel[])[0]!.label).toBe('NEGATIVE');
  });

  it('refuses a head on a model that is not a two-label classifier, naming config.json', async () => {
    const { dir } = await withHead(['A', 'B', 'C'], 0.5);
    await expect(pipeline('text-classification', dir)).rejects.toThrow(NgramHeadError);
    await expect(pipeline('text-classification', dir)).rejects.toThrow(
      /config\.json: ngram_head is a binary classifier, but the model has 3 labels/,
    );
    await expect(pipeline('text-classification', dir, { ngramHead: false })).resolves.toBeDefined();
  });

  it('is left out when the transformer is saved, and carried over by attn quantize', async () => {
    const { dir } = await withHead(['NEGATIVE', 'POSITIVE'], 0.5);
    const saved = `${dir}-saved`;
    const quantized = `${dir}-int8`;
    made.push(saved, quantized);
    await (await AutoModelForSequenceClassification.fromPretrained(dir)).savePretrained(saved);
    expect(JSON.parse(readFileSync(join(saved, 'config.json'), 'utf8')).ngram_head).toBeUndefined();
    expect(existsSync(join(saved, 'ngram_head.safetensors'))).toBe(false);

    vi.spyOn(console, 'log').mockImplementation(() => {});
    expect(await quantizeCommand(['--model', dir, '--dtype', 'int8', '--out', quantized])).toBe(0);
    vi.restoreAllMocks();
    const config = JSON.parse(readFileSync(join(quantized, 'config.json'), 'utf8'));
    expect(config.ngram_head).toEqual(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')).ngram_head);
    expect(config.quantization_config.dtype).toBe('int8');
    const texts = ['great great great', 'awful awful awful'];
    const float = (await (await pipeline('sentiment-analysis', dir))(texts)) as ClassificationLabel[];
    const int8 = (await (await pipeline('sentiment-analysis', quantized))(texts)) as ClassificationLabel[];
    expect(int8.map((r) => r.label)).toEqual(float.map((r) => r.label));
  });

  it('attn run uses the head, and --no-ngram-head leaves it out', async () => {
    const { dir, head } = await withHead(['NEGATIVE', 'POSITIVE'], 0.5);
    const text = 'a great movie';
    const positiveFromCli = async (extra: string[]): Promise<number> => {
      const [stdin, stdout, stderr] = [new PassThrough(), new PassThrough(), new PassThrough()];
      let out = '';
      stdout.on('data', (chunk) => (out += chunk));
      stdin.end();
      const argv = ['sentiment-analysis', text, '--model', dir, '--json', '--top-k', '2', ...extra];
      expect(await runWith(argv, { stdin, stdout, stderr })).toBe(0);
      const { result } = JSON.parse(out) as { result: ClassificationLabel[] };
      return result.find((l) => l.label === 'POSITIVE')!.score;
    };
    const [l0, l1] = await modelLogits(dir, text);
    const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
    expect(await positiveFromCli([])).toBeCloseTo(sigmoid(0.5 * (l1! - l0!) + 0.5 * head.logit(text)), 5);
    expect(await positiveFromCli(['--no-ngram-head'])).toBeCloseTo(sigmoid(l1! - l0!), 5);
  });
});
