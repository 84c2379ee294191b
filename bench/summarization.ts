// `npm run bench -- summarization [--data FILE.jsonl] [--model M] [--limit N]`: ROUGE-1/2/L F1 (×100, rouge_score's
// definitions, no stemming) of the default summarizer on DialogSum's dev split (../shared/data/dialogsum), beside
// LEAD-2 (the first two utterances, as written) measured in the same run. The score is also given for the even and
// odd dialogues apart: the extractive defaults were chosen on the even ones, so the odd ones are unseen by tuning.
// Each line of --data is {"dialogue", "summary"} (a "summary1".."summaryN" set is scored best-of, as the test
// split's three references are). Prints one JSON line last.
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { rougeScores, type RougeSummary } from '../src/metrics/rouge.js';
import { pipeline, type SummarizationResult } from '../src/pipelines/index.js';
import { sharedPath } from '../src/util/paths.js';
import { progress } from '../src/util/progress.js';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: sharedPath('data', 'dialogsum', 'dialogsum.dev.jsonl') },
    model: { type: 'string' },
    limit: { type: 'string' },
  },
});

interface Example {
  dialogue: string;
  references: string[];
}

function readExamples(path: string): Example[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const row = JSON.parse(line) as Record<string, unknown>;
      const references = Object.keys(row)
        .filter((k) => /^summary\d*$/.test(k))
        .map((k) => row[k]);
      if (
        typeof row.dialogue !== 'string' ||
        references.length === 0 ||
        references.some((r) => typeof r !== 'string')
      ) {
        throw new Error(
          `${path} line ${i + 1}: expected {"dialogue": string, "summary": string}, got keys ${Object.keys(row).join(', ')}`,
        );
      }
      return { dialogue: row.dialogue, references: references as string[] };
    });
}

/** ROUGE-1 F1 of each prediction against its best-matching reference. */
function rouge1PerExample(predictions: string[], examples: Example[]): number[] {
  return predictions.map((prediction, i) =>
    Math.max(...examples[i]!.references.map((r) => rougeScores(prediction, r).rouge1.fmeasure)),
  );
}

/** Mean over examples of each ROUGE F1 (×100), each example scored against its best-matching reference. */
function corpusRouge(predictions: string[], examples: Example[]): RougeSummary {
  const sums = { rouge1: 0, rouge2: 0, rougeL: 0 };
  predictions.forEach((prediction, i) => {
    const scores = examples[i]!.references.map((reference) => rougeScores(prediction, reference));
    for (const key of ['rouge1', 'rouge2', 'rougeL'] as const)
      sums[key] += Math.max(...scores.map((s) => s[key].fmeasure));
  });
  const mean = (x: number) => Number(((100 * x) / predictions.length).toFixed(2));
  return { rouge1: mean(sums.rouge1), rouge2: mean(sums.rouge2), rougeL: mean(sums.rougeL) };
}

/** The mean per-example ROUGE-1 gain over LEAD-2 (×100) and its standard error: how sure the gap is. */
function pairedGain(ours: number[], baseline: number[]): { mean: number; standard_error: number } {
  const gains = ours.map((x, i) => 100 * (x - baseline[i]!));
  const mean = gains.reduce((a, b) => a + b, 0) / gains.length;
  const variance = gains.reduce((s, g) => s + (g - mean) ** 2, 0) / (gains.length - 1);
  return { mean: Number(mean.toFixed(2)), standard_error: Number(Math.sqrt(variance / gains.length).toFixed(2)) };
}

const all = readExamples(values.data!);
const examples = values.limit !== undefined ? all.slice(0, Number(values.limit)) : all;
const summarize = await pipeline('summarization', values.model, { batchSize: 32 });
const bar = progress({ label: 'summarize', total: examples.length, unit: 'dialogue' });
const started = performance.now();
const results: SummarizationResult[] = [];
for (let i = 0; i < examples.length; i += 16) {
  results.push(...(await summarize(examples.slice(i, i + 16).map((e) => e.dialogue))));
  bar.tick(Math.min(16, examples.length - i));
}
bar.done();
const seconds = (performance.now() - started) / 1000;
const summaries = results.map((r) => r.summary_text);
const lead2 = examples.map((e) =>
  e.dialogue
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, 2)
    .join(' '),
);
const halves = (predictions: string[]) => {
  const pick = (parity: number) => (_: unknown, i: number) => i % 2 === parity;
  return {
    all: corpusRouge(predictions, examples),
    even_tuned: corpusRouge(predictions.filter(pick(0)), examples.filter(pick(0))),
    odd_unseen: corpusRouge(predictions.filter(pick(1)), examples.filter(pick(1))),
  };
};
const scores = { default: halves(summaries), lead2: halves(lead2) };
const gain = pairedGain(rouge1PerExample(summaries, examples), rouge1PerExample(lead2, examples));
const words = (texts: string[]) =>
  Number((texts.reduce((s, t) => s + t.split(/\s+/).length, 0) / texts.length).toFixed(1));
for (const [name, s] of Object.entries(scores)) {
  console.error(
    `${name.padEnd(8)} ROUGE-1/2/L ${s.all.rouge1} / ${s.all.rouge2} / ${s.all.rougeL}  (even ${s.even_tuned.rouge1}, odd ${s.odd_unseen.rouge1})`,
  );
}
console.error(`ROUGE-1 gain over LEAD-2: ${gain.mean} ± ${gain.standard_error} (standard error over dialogues)`);
console.error(`example: ${summaries[0]}`);
console.log(
  JSON.stringify({
    bench: 'summarization',
    data: values.data,
    examples: examples.length,
    method: results[0]?.method,
    rouge: scores,
    rouge1_over_lead2: Number((scores.default.all.rouge1 / scores.lead2.all.rouge1).toFixed(3)),
    rouge1_gain: gain,
    mean_words: { default: words(summaries), lead2: words(lead2) },
    seconds: Number(seconds.toFixed(1)),
  }),
);
