/**
 * Trains the default story generator from scratch with attn: a byte-level BPE and a small Llama on the TinyStories
 * text in ../shared (90% of the stories for training, 10% held out), reporting validation perplexity and samples.
 *
 *   npx tsx scripts/train-stories.ts --out models/tinystories-llama [--threads 2] [--minutes 30]
 *
 * Options: --hidden 128 --layers 4 --heads 4 --vocab 2048 --context 128 --batch 16 --lr 2e-3 --epochs 10
 * --eval-every 200. The best checkpoint on the held-out stories is kept (the text is small: later epochs over-fit).
 */
import '../src/backends/register.js';
import { DataCollatorForLanguageModeling, type Dataset } from '../src/data/index.js';
import { generate } from '../src/generation/index.js';
import { perplexity } from '../src/metrics/index.js';
import { LlamaConfig, LlamaForCausalLM } from '../src/models/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { trainTokenizer } from '../src/tokenizers/index.js';
import { Trainer, TrainingArguments, type TrainableModel } from '../src/training/index.js';
import {
  commonOptions,
  minutesSince,
  option,
  storiesSplit,
  threadsNote,
  wallClockBudget,
  writeModelCard,
} from './train-common.js';

const { threads, out, minutes, seed } = commonOptions({ out: 'models/tinystories-llama', minutes: 30 });
const hidden = option('hidden', 128);
const layers = option('layers', 4);
const heads = option('heads', 4);
const vocabSize = option('vocab', 2048);
const context = option('context', 128);
const batchSize = option('batch', 16);
const learningRate = option('lr', 2e-3);
const started = performance.now();

// ---- data: one story per paragraph, held out by story ----
const { stories, train, validation } = await storiesSplit(seed);
const tokenizer = trainTokenizer({
  type: 'bpe',
  texts: train.column('text') as string[],
  vocabSize,
  specialTokens: ['<|endoftext|>'],
  modelMaxLength: context,
  progress: false,
});
const eos = tokenizer.getSpecialTokenId('eos_token')!;

/** Stories joined by <|endoftext|> and cut into windows of `context` tokens (HF's group_texts). */
function chunked(dataset: Dataset): Dataset {
  return dataset.map(
    ((batch: { text: string[] }) => {
      const ids = batch.text.flatMap((text) => [...tokenizer.encodeIds(text.trim()), eos]);
      const windows: number[][] = [];
      for (let start = 0; start + context <= ids.length; start += context)
        windows.push(ids.slice(start, start + context));
      return { input_ids: windows };
    }) as never,
    { batched: true, batchSize: 2000, removeColumns: ['text'] as never },
  );
}
const trainSet = chunked(train);
const validationSet = chunked(validation);

// ---- model ----
manualSeed(seed);
const config = new LlamaConfig({
  model_type: 'llama', // written out explicitly: savePretrained omits defaulted fields, and AutoModel needs it
  vocab_size: tokenizer.vocabSize,
  hidden_size: hidden,
  intermediate_size: Math.round((8 * hidden) / 3 / 32) * 32,
  num_hidden_layers: layers,
  num_attention_heads: heads,
  max_position_embeddings: context,
  tie_word_embeddings: true,
  bos_token_id: eos,
  eos_token_id: eos,
});
const model = new LlamaForCausalLM(config);
const args = new TrainingArguments({
  outputDir: `${out}.run`,
  numTrainEpochs: option('epochs', 10),
  perDeviceTrainBatchSize: batchSize,
  perDeviceEvalBatchSize: 32,
  learningRate,
  weightDecay: 0.1,
  adamBeta2: 0.95,
  warmupSteps: 100,
  lrSchedulerType: 'cosine',
  evalStrategy: 'steps',
  evalSteps: option('eval-every', 200),
  saveStrategy: 'steps',
  saveSteps: option('eval-every', 200),
  saveTotalLimit: 1,
  loggingSteps: 25,
  loadBestModelAtEnd: true,
  seed,
});
const trainer = new Trainer({
  model: model as unknown as TrainableModel,
  args,
  trainDataset: trainSet,
  evalDataset: validationSet,
  dataCollator: new DataCollatorForLanguageModeling({ padTokenId: eos, mlm: false }),
  tokenizer,
  callbacks: [wallClockBudget(minutes)],
});
const result = await trainer.train();
const trainMinutes = minutesSince(started);
const { eval_loss: validationLoss } = await trainer.evaluate();
const validationPerplexity = perplexity(validationLoss!);
await trainer.saveModel(out);

const prompts = ['Once upon a time', 'Tom and Lily went to the park', 'The little dog was sad because'];
const samples = prompts.map((prompt) => {
  const ids = [tokenizer.encodeIds(prompt)];
  const { sequences } = generate(model, ids, {
    maxNewTokens: Math.min(80, context - ids[0]!.length),
    doSample: true,
    temperature: 0.8,
    topK: 40,
    seed: 1,
  });
  return tokenizer.decode(sequences[0]!, { skipSpecialTokens: true });
});
const tokensPerSecond = result.metrics.train_tokens_per_second!;
console.log(
  JSON.stringify({
    validationLoss,
    validationPerplexity,
    steps: result.globalStep,
    trainMinutes,
    tokensPerSecond,
    params: model.numParameters(),
  }),
);

await writeModelCard(out, {
  title: 'attn default story generator (TinyStories, Llama architecture)',
  summary: `A small LlamaForCausalLM (${layers} layers, hidden ${hidden}, ${heads} heads, context ${context}, tied embeddings, ${(model.numParameters() / 1e6).toFixed(2)}M parameters) with a byte-level BPE (${tokenizer.vocabSize} pieces), both trained from scratch by attn.`,
  facts: [
    [
      'data',
      `the TinyStories validation subset in ../shared/data/tinystories (${stories.numRows} stories): ${train.numRows} for training (${trainSet.numRows} windows of ${context} tokens), ${validation.numRows} held out`,
    ],
    ['data license', 'CDLA-Sharing-1.0 (TinyStories)'],
    ['command', `\`npx tsx scripts/train-stories.ts ${process.argv.slice(2).join(' ')}\``],
    ['hardware', threadsNote(threads)],
    ['wall time', `${trainMinutes} (tokenizer, training, evaluation)`],
    [
      'optimizer steps',
      `${result.globalStep} (batch ${batchSize} × ${context} tokens, AdamW lr ${learningRate}, cosine schedule)`,
    ],
    ['throughput', `${Math.round(tokensPerSecond)} training tokens/s`],
  ],
  metrics: [
    ['validation loss (held-out stories, nats/token)', validationLoss!.toFixed(4)],
    ['validation perplexity (per BPE token)', validationPerplexity.toFixed(2)],
  ],
  sections: [
    '## Samples (temperature 0.8, top-k 40, seed 1)\n\n' +
      samples.map((s) => `> ${s.replace(/\n+/g, ' ')}`).join('\n\n'),
  ],
});
