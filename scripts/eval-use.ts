// Semantic sanity of the converted Universal Sentence Encoder Lite, on frozen embeddings:
//   SST-2: logistic regression trained on the first N phrases of train.tsv, accuracy on dev.tsv;
//   AG News: zero-shot, each text gets the label whose description embedding is most cosine-similar.
// Run: npx tsc -p . && node dist/scripts/eval-use.js [--train 8000] [--sst2-dev 6735] [--agnews 10000]
// Progress goes to stderr; the last stdout line is one JSON object.
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import { UseModel } from '../src/models/use/modeling_use.js';
import { noGrad } from '../src/tensor/engine.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';

export interface LabelledTexts {
  texts: string[];
  labels: string[];
}

/** The first two columns of a TSV file (text, label), optionally skipping a header line. */
export function readTsv(file: string, options: { header: boolean; limit?: number }): LabelledTexts {
  const lines = readFileSync(file, 'utf8')
    .split('\n')
    .slice(options.header ? 1 : 0)
    .filter((l) => l.trim() !== '');
  const rows = lines.slice(0, options.limit ?? lines.length).map((line, i) => {
    const [text, label] = line.split('\t');
    if (text === undefined || label === undefined)
      throw new Error(`${file}: line ${i + (options.header ? 2 : 1)} has no tab-separated label`);
    return [text, label.trim()] as const;
  });
  return { texts: rows.map(([t]) => t), labels: rows.map(([, l]) => l) };
}

/** Frozen, L2-normalised embeddings as one Float32Array per text, computed in batches with progress on stderr. */
export function embed(model: UseModel, texts: string[], label: string): Float32Array[] {
  const chunk = 512;
  const out: Float32Array[] = [];
  for (let start = 0; start < texts.length; start += chunk) {
    const batch = noGrad(() => model.encode(texts.slice(start, start + chunk), { batchSize: 64 }));
    const width = batch.shape[1]!;
    for (let i = 0; i < batch.shape[0]!; i++) out.push(batch.data.slice(i * width, (i + 1) * width) as Float32Array);
    process.stderr.write(`${label}: ${Math.min(start + chunk, texts.length)}/${texts.length}\n`);
  }
  return out;
}

export interface LogisticRegression {
  weights: Float64Array;
  bias: number;
}

/**
 * Binary logistic regression by full-batch gradient descent with L2 regularisation. Plain arrays on purpose: this
 * measures the embeddings, so the classifier should be the textbook one with no moving parts.
 */
export function fitLogisticRegression(
  x: Float32Array[],
  y: number[],
  options: { epochs?: number; learningRate?: number; l2?: number } = {},
): LogisticRegression {
  const { epochs = 300, learningRate = 2, l2 = 1e-4 } = options;
  const dim = x[0]!.length;
  const weights = new Float64Array(dim);
  let bias = 0;
  const gradient = new Float64Array(dim);
  for (let epoch = 0; epoch < epochs; epoch++) {
    gradient.fill(0);
    let biasGradient = 0;
    x.forEach((row, i) => {
      const error = sigmoid(dot(weights, row) + bias) - y[i]!;
      for (let j = 0; j < dim; j++) gradient[j] += error * row[j]!;
      biasGradient += error;
    });
    for (let j = 0; j < dim; j++) weights[j] -= learningRate * (gradient[j]! / x.length + l2 * weights[j]!);
    bias -= (learningRate * biasGradient) / x.length;
  }
  return { weights, bias };
}

export function predictLogisticRegression(model: LogisticRegression, x: Float32Array[]): number[] {
  return x.map((row) => (dot(model.weights, row) + model.bias > 0 ? 1 : 0));
}

/** For each (normalised) embedding, the index of the most similar of the (normalised) label embeddings. */
export function nearestLabel(x: Float32Array[], labelEmbeddings: Float32Array[]): number[] {
  return x.map((row) => {
    const scores = labelEmbeddings.map((l) => dot(l, row));
    return scores.indexOf(Math.max(...scores));
  });
}

export function accuracy(predicted: number[], expected: number[]): number {
  return predicted.filter((p, i) => p === expected[i]).length / expected.length;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

/** AG News labels and the descriptions they are matched against (written once, not tuned on the dev set). */
export const AGNEWS_DESCRIPTIONS: Record<string, string> = {
  World: 'World news about international politics, governments, war and diplomacy.',
  Sports: 'Sports news about games, teams, players and championships.',
  Business: 'Business news about companies, markets, the economy and stocks.',
  'Sci/Tech': 'Science and technology news about computers, the internet, software and research.',
};

export function evaluateSst2(model: UseModel, train: LabelledTexts, dev: LabelledTexts): number {
  const classifier = fitLogisticRegression(embed(model, train.texts, 'sst2 train'), train.labels.map(Number));
  return accuracy(predictLogisticRegression(classifier, embed(model, dev.texts, 'sst2 dev')), dev.labels.map(Number));
}

export function evaluateAgNewsZeroShot(model: UseModel, data: LabelledTexts): number {
  const names = Object.keys(AGNEWS_DESCRIPTIONS);
  const labelEmbeddings = embed(model, Object.values(AGNEWS_DESCRIPTIONS), 'agnews labels');
  const expected = data.labels.map((l) => {
    const index = names.indexOf(l);
    if (index < 0) throw new Error(`agnews: unknown label '${l}'; expected one of ${names.join(', ')}`);
    return index;
  });
  return accuracy(nearestLabel(embed(model, data.texts, 'agnews'), labelEmbeddings), expected);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { train: { type: 'string', default: '8000' }, 'sst2-dev': { type: 'string' }, agnews: { type: 'string' } },
  });
  const limit = (v: string | undefined) => (v === undefined ? undefined : Number(v));
  const model = await UseModel.fromPretrained(`${projectRoot}/models/use-lite`);
  const started = performance.now();
  const train = readTsv(sharedPath('data/sst2/train.tsv'), { header: true, limit: Number(values.train) });
  const dev = readTsv(sharedPath('data/sst2/dev.tsv'), { header: true, limit: limit(values['sst2-dev']) });
  const agnews = readTsv(sharedPath('data/agnews/dev.tsv'), { header: false, limit: limit(values.agnews) });
  const sst2Accuracy = evaluateSst2(model, train, dev);
  const agnewsAccuracy = evaluateAgNewsZeroShot(model, agnews);
  console.log(
    JSON.stringify({
      sst2: { train: train.texts.length, dev: dev.texts.length, accuracy: sst2Accuracy },
      agnews_zero_shot: { texts: agnews.texts.length, accuracy: agnewsAccuracy },
      seconds: (performance.now() - started) / 1000,
    }),
  );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await main();
