/**
 * Fine-tuning a sentiment classifier on SST-2, step by step, the way the Hugging Face course does it:
 * load → split → tokenize with map → model with a fresh head → TrainingArguments → train → evaluate → save → use.
 *
 *   npm run build
 *   node dist/examples/fine-tune-sentiment.js [--base models/use-lite] [--train-rows 2000] [--epochs 1] [--threads 1]
 *
 * --base is any folder with a pretrained encoder and its tokenizer (config.json, model.safetensors, tokenizer.json)
 * whose model_type has a sequence-classification class. The default, the Universal Sentence Encoder Lite, was never
 * trained on SST-2 and has no classification head, so fromPretrained adds a fresh one (and says so) and the run
 * shows real fine-tuning. A couple of thousand rows and one epoch keep it to minutes on a laptop CPU.
 */
import '../src/backends/register.js';
import { loadDataset } from '../src/data/index.js';
import { AutoModelForSequenceClassification } from '../src/models/index.js';
import { setNumThreads } from '../src/tensor/engine.js';
import { noGrad } from '../src/tensor/index.js';
import { AutoTokenizer } from '../src/tokenizers/index.js';
import { classificationMetrics, Trainer, TrainingArguments, type TrainableModel } from '../src/training/index.js';
import { projectRoot, sharedPath } from '../src/util/paths.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(`--${name}`);
  return at >= 0 ? process.argv[at + 1]! : fallback;
}

const base = option('base', `${projectRoot}/models/use-lite`);
const trainRows = Number(option('train-rows', '2000'));
setNumThreads(Number(option('threads', '1')));

// 1. Load the data: SST-2 has a 'sentence' and a 'label' (0 negative, 1 positive) column.
const sst2 = await loadDataset(sharedPath('data', 'sst2', 'train.tsv'));
console.log(`loaded ${sst2.numRows} rows with columns ${sst2.columnNames.join(', ')}`);

// 2. Split off a validation set, keeping the label balance, and take a subset to keep the example quick.
const { train: fullTrain, test: validation } = sst2.trainTestSplit({
  testSize: 500,
  seed: 0,
  stratifyByColumn: 'label',
}).splits;
const train = fullTrain.shuffle(0).select(Array.from({ length: Math.min(trainRows, fullTrain.numRows) }, (_, i) => i));

// 3. Tokenize with a batched map; padding happens later, per batch, in the Trainer's collator.
const tokenizer = await AutoTokenizer.fromPretrained(base);
const tokenize = (batch: { sentence: string[] }) => ({
  input_ids: (tokenizer.encode(batch.sentence, { truncation: true, maxLength: 64 }) as { inputIds: number[][] })
    .inputIds,
});
const tokenizedTrain = train.map(tokenize as never, { batched: true });
const tokenizedValidation = validation.map(tokenize as never, { batched: true });

// 4. The pretrained encoder with a fresh two-class head.
const model = (await AutoModelForSequenceClassification.fromPretrained(base, {
  numLabels: 2,
  id2label: { 0: 'negative', 1: 'positive' },
})) as unknown as TrainableModel;

// 5. How to train.
const args = new TrainingArguments({
  outputDir: option('out', '/tmp/attn-fine-tune-sentiment'),
  numTrainEpochs: Number(option('epochs', '1')),
  perDeviceTrainBatchSize: 32,
  perDeviceEvalBatchSize: 128,
  learningRate: 5e-4,
  weightDecay: 0.01,
  warmupRatio: 0.1,
  evalStrategy: 'epoch',
  saveStrategy: 'no',
  loggingSteps: 20,
});

// 6. Train and evaluate: accuracy and F1 on the validation split.
const trainer = new Trainer({
  model,
  args,
  trainDataset: tokenizedTrain,
  evalDataset: tokenizedValidation,
  tokenizer,
  computeMetrics: classificationMetrics,
});
const before = await trainer.evaluate();
await trainer.train();
const after = await trainer.evaluate();
console.log(
  `validation accuracy: ${before.eval_accuracy!.toFixed(3)} before, ${after.eval_accuracy!.toFixed(3)} after fine-tuning`,
);

// 7. Save in Hugging Face format (config.json, model.safetensors, tokenizer files) and load it back.
const saved = `${args.outputDir}/final`;
await trainer.saveModel(saved);
const reloaded = (await AutoModelForSequenceClassification.fromPretrained(saved)) as unknown as TrainableModel;
const reloadedTokenizer = await AutoTokenizer.fromPretrained(saved);

// 8. Use it.
for (const text of ['a gorgeous, witty and moving film', 'the plot is a tired mess']) {
  const { inputIds } = reloadedTokenizer.encode([text], { returnTensors: true }) as {
    inputIds: import('../src/tensor/index.js').Tensor;
  };
  const probs = noGrad(() => reloaded.forward({ inputIds }).logits.softmax(-1).data);
  const label = probs[1]! > probs[0]! ? 'positive' : 'negative';
  console.log(`${JSON.stringify(text)} → ${label} (${Math.max(probs[0]!, probs[1]!).toFixed(3)})`);
}
