// `npm run bench -- pipelines [--repeats N] [--tasks a,b]`: per task, on its default model, the first call's latency
// (loading the model and tokenizer, then one input) and the warm latency of batches of 1 and 16 inputs (median of
// N runs). Tasks whose default model is not installed are listed as skipped. Prints one JSON line last.
import '../src/backends/register.js';
import { parseArgs } from 'node:util';
import { defaultModelDir, pipeline, TASKS, type Pipeline, type Task } from '../src/pipelines/index.js';

const { values } = parseArgs({ options: { repeats: { type: 'string', default: '3' }, tasks: { type: 'string' } } });
const repeats = Number(values.repeats);
const tasks = (values.tasks?.split(',') ?? TASKS) as Task[];

/** An input and call options per task, typical of what a user sends. */
const WORKLOAD: Record<Task, { text: string; options: Record<string, unknown> }> = {
  'text-classification': { text: 'I love this movie, the acting is wonderful and the story is moving.', options: {} },
  'zero-shot-classification': {
    text: 'The striker scored twice as the home team won the cup final.',
    options: { candidateLabels: ['sports', 'business', 'politics', 'science'] },
  },
  summarization: {
    text: 'The city council met on Monday to discuss the new park. Residents had complained about the lack of green space for years. After a long debate, the council voted to fund the park. Construction will begin in the spring. The mayor said it would open next summer.',
    options: {},
  },
  translation: { text: 'Ein Mann schläft in einem grünen Raum auf einem Sofa.', options: {} },
  'text-generation': { text: 'Once upon a time', options: { maxNewTokens: 20 } },
  'feature-extraction': { text: 'A cat sleeps on the sofa in the afternoon sun.', options: { pooling: 'pooler' } },
  'fill-mask': { text: 'The cat sat on the [MASK].', options: {} },
  'token-classification': { text: 'Angela Merkel met Emmanuel Macron in Paris on Tuesday.', options: {} },
  'question-answering': {
    text: 'The Eiffel Tower was finished in 1889 for the World Fair in Paris.',
    options: { question: 'When was the Eiffel Tower finished?' },
  },
};

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const round = (ms: number) => Number(ms.toFixed(1));

async function timeCall(run: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await run();
  return performance.now() - started;
}

const results: Record<string, unknown> = {};
const skipped: Record<string, string> = {};
for (const task of tasks) {
  let model: string;
  try {
    model = defaultModelDir(task);
  } catch (err) {
    skipped[task] = (err as Error).message;
    continue;
  }
  const { text, options } = WORKLOAD[task];
  const call = (pipe: Pipeline, inputs: string | string[]) =>
    (pipe as unknown as (i: string | string[], o: object) => Promise<unknown>)(inputs, options);
  const loadStarted = performance.now();
  const pipe = await pipeline(task, undefined, { batchSize: 16 });
  const loadMs = performance.now() - loadStarted;
  const firstCallMs = await timeCall(() => call(pipe, text));
  const batch16 = Array.from({ length: 16 }, (_, i) => (i % 2 === 0 ? text : `${text} ${text}`));
  const warm1: number[] = [];
  const warm16: number[] = [];
  for (let r = 0; r < repeats; r++) {
    warm1.push(await timeCall(() => call(pipe, text)));
    warm16.push(await timeCall(() => call(pipe, batch16)));
  }
  pipe.dispose();
  results[task] = {
    model,
    load_ms: round(loadMs),
    first_call_ms: round(loadMs + firstCallMs),
    warm_batch1_ms: round(median(warm1)),
    warm_batch16_ms: round(median(warm16)),
    warm_batch16_per_input_ms: round(median(warm16) / 16),
  };
  console.error(`${task}: ${JSON.stringify(results[task])}`);
}
console.log(JSON.stringify({ bench: 'pipelines', repeats, tasks: results, skipped }));
