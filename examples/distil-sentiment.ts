/**
 * Distilling the shipped Korean sentiment model (models/sentiment-ko, shipped int8 and loaded as float32, the teacher)
 * into a student half its width,
 * with transformers' DistilBERT recipe: the student learns the teacher's softened predictions (temperature 2) as well
 * as the labels. Half the training rows are given without their label, as unlabelled text would be; the student
 * learns from the teacher alone there. For comparison, the same student is trained on the labelled half only.
 *
 *   npx tsx examples/distil-sentiment.ts [--train-rows 4000] [--epochs 2] [--dev-rows 2000]
 *
 * The same run from the command line: attn train with "distillation": { "teacher": "sentiment-ko", "temperature": 2,
 * "alpha": 0.5 } in the config (see attn train --help).
 */
import '../src/backends/register.js';
import { loadDataset } from '../src/data/index.js';
import { BertConfig, BertForSequenceClassification } from '../src/models/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { classificationMetrics, DistillationTrainer, Trainer, TrainingArguments } from '../src/training/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const teacherDir = `${projectRoot}/models/sentiment-ko`;
const trainRows = Number(option('train-rows', '4000'));
const devRows = Number(option('dev-rows', '2000'));
const tokenizer = await AutoTokenizer.fromPretrained(teacherDir);
const teacher = await BertForSequenceClassification.fromPretrained(teacherDir, { dtype: 'float32' });

const tokenize = (batch: { text: string[] }) => ({
  input_ids: (tokenizer.encode(batch.text, { truncation: true, maxLength: 64 }) as { inputIds: number[][] }).inputIds,
});
const all = (await loadDataset(sharedPath('data', 'nsmc', 'train.tsv'))).shuffle(0);
const train = all
  .select(Array.from({ length: Math.min(trainRows, all.numRows) }, (_, i) => i))
  .map(tokenize as never, { batched: true });
// Every other row loses its label: the unlabelled text a distillation run can also learn from.
const labels = train.column('label' as never) as unknown[];
const halfLabelled = train.addColumn(
  'label',
  labels.map((l, i) => (i % 2 === 0 ? l : null)),
);
const labelledOnly = train.select(Array.from({ length: Math.ceil(train.numRows / 2) }, (_, i) => 2 * i));
const dev = await loadDataset(sharedPath('data', 'nsmc', 'dev.tsv'));
const evalSet = dev
  .select(Array.from({ length: Math.min(devRows, dev.numRows) }, (_, i) => i))
  .map(tokenize as never, { batched: true });

/** A student half the teacher's width and one layer, with the same vocabulary and labels. */
function student(): BertForSequenceClassification {
  manualSeed(1);
  const t = teacher.config;
  return new BertForSequenceClassification(
    new BertConfig({
      model_type: 'bert',
      vocab_size: t.vocabSize,
      hidden_size: t.hiddenSize / 2,
      num_hidden_layers: 1,
      num_attention_heads: 2,
      intermediate_size: t.intermediateSize / 2,
      max_position_embeddings: t.maxPositionEmbeddings,
      id2label: t.id2label,
      label2id: t.label2id,
    }),
  );
}

const args = (name: string) =>
  new TrainingArguments({
    outputDir: `/tmp/attn-distil-sentiment/${name}`,
    numTrainEpochs: Number(option('epochs', '2')),
    perDeviceTrainBatchSize: 32,
    perDeviceEvalBatchSize: 128,
    learningRate: 3e-3,
    warmupRatio: 0.1,
    saveStrategy: 'no',
    loggingSteps: 50,
  });

const teacherScore = await new Trainer({
  model: teacher,
  args: args('teacher'),
  evalDataset: evalSet,
  computeMetrics: classificationMetrics,
}).evaluate();

const distilled = student();
const distiller = new DistillationTrainer({
  model: distilled,
  args: args('distilled'),
  trainDataset: halfLabelled,
  evalDataset: evalSet,
  computeMetrics: classificationMetrics,
  distillation: { teacher, temperature: 2, alpha: 0.5 },
});
await distiller.train();
const distilledScore = await distiller.evaluate();

const baseline = new Trainer({
  model: student(),
  args: args('labels-only'),
  trainDataset: labelledOnly,
  evalDataset: evalSet,
  computeMetrics: classificationMetrics,
});
await baseline.train();
const baselineScore = await baseline.evaluate();

const params = (n: number) => `${(n / 1e3).toFixed(0)}k parameters`;
const rows: Array<[string, number]> = [
  [`teacher (models/sentiment-ko, ${params(teacher.numParameters())})`, teacherScore.eval_accuracy!],
  [
    `student distilled on ${train.numRows} rows, half unlabelled (${params(distilled.numParameters())})`,
    distilledScore.eval_accuracy!,
  ],
  [`same student trained on the ${labelledOnly.numRows} labelled rows only`, baselineScore.eval_accuracy!],
];
console.log(`\nNSMC dev, first ${evalSet.numRows} reviews (accuracy)`);
for (const [what, accuracy] of rows) console.log(`  ${what.padEnd(68)} ${accuracy.toFixed(4)}`);
