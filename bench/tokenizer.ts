// Tokens/s encoding SST-2 train sentences: attn's batching layer (PreTrainedTokenizer.encode) vs calling
// @huggingface/tokenizers directly on the same tokenizer.json, one sentence at a time. Then the time to train a
// byte-level BPE tokenizer on the ~10 MB of Korean NSMC reviews, and whether it round-trips them. Progress goes to
// stderr; the last line on stdout is one JSON object.
import '../src/backends/register.js';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { AutoTokenizer, PreTrainedTokenizer, trainTokenizer } from '../src/tokenizers/index.js';
import { progress } from '../src/util/progress.js';
import { sharedPath } from '../src/util/paths.js';

const BATCH = 64;
/** Sentences per timing slice; the variants take turns on each slice, so load from other processes hits all alike. */
const SLICE = 2048;

type Pass = (texts: string[]) => number;

/** Tokens/s of each way of encoding, each with its own tokenizer instance (own BPE cache), interleaved by slice. */
function interleaved<K extends string>(
  name: string,
  texts: string[],
  variants: Record<K, Pass>,
): Record<K, { tokens: number; tokensPerS: number }> {
  const names = Object.keys(variants) as K[];
  const seconds = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  const tokens = Object.fromEntries(names.map((n) => [n, 0])) as Record<K, number>;
  for (const n of names) variants[n](texts.slice(0, SLICE)); // warm-up
  const bar = progress({ label: `${name} encoding`, unit: 'sentences', total: texts.length });
  for (let i = 0, turn = 0; i < texts.length; i += SLICE, turn++) {
    const part = texts.slice(i, i + SLICE);
    names.forEach((_, k) => {
      const n = names[(k + turn) % names.length]!; // rotate who goes first
      const start = performance.now();
      tokens[n] += variants[n](part);
      seconds[n] += (performance.now() - start) / 1000;
    });
    bar.tick(part.length);
  }
  bar.done();
  return Object.fromEntries(names.map((n) => [n, { tokens: tokens[n], tokensPerS: tokens[n] / seconds[n] }])) as Record<
    K,
    { tokens: number; tokensPerS: number }
  >;
}

function measure(name: string, ours: PreTrainedTokenizer, texts: string[]) {
  const direct = new Tokenizer(ours.json, { ...ours.config });
  const oursForTensors = new PreTrainedTokenizer(ours.json, ours.config);
  const {
    direct: d,
    attn: a,
    attnTensors: t,
  } = interleaved(name, texts, {
    direct: (part) => {
      let n = 0;
      for (const t of part) n += direct.encode(t).ids.length;
      return n;
    },
    attn: (part) => {
      let n = 0;
      for (let i = 0; i < part.length; i += BATCH) {
        for (const row of ours.encode(part.slice(i, i + BATCH)).inputIds) n += row.length;
      }
      return n;
    },
    attnTensors: (part) => {
      let n = 0;
      for (let i = 0; i < part.length; i += BATCH) {
        const out = oursForTensors.encode(part.slice(i, i + BATCH), { padding: true, returnTensors: true });
        for (const m of out.attentionMask.data) n += m;
      }
      return n;
    },
  });
  if (d.tokens !== a.tokens || d.tokens !== t.tokens)
    throw new Error(`${name}: token counts differ (${d.tokens}, ${a.tokens}, ${t.tokens})`);
  return {
    tokens: a.tokens,
    direct_tokens_per_s: Math.round(d.tokensPerS),
    attn_tokens_per_s: Math.round(a.tokensPerS),
    attn_padded_tensors_tokens_per_s: Math.round(t.tokensPerS),
    ratio: Number((a.tokensPerS / d.tokensPerS).toFixed(3)),
    ratio_padded_tensors: Number((t.tokensPerS / d.tokensPerS).toFixed(3)),
  };
}

/** The first column of a TSV file with a header row. */
function firstColumn(relPath: string): string[] {
  const lines = readFileSync(sharedPath(relPath), 'utf8').split('\n').slice(1);
  return lines.filter((l) => l.trim() !== '').map((l) => l.split('\t')[0]!);
}

function trainKorean() {
  const texts = [...firstColumn('data/nsmc/train.tsv'), ...firstColumn('data/nsmc/dev.tsv')];
  const megabytes = Buffer.byteLength(texts.join('\n')) / 1e6;
  const start = performance.now();
  const tokenizer = trainTokenizer({ type: 'bpe', texts, vocabSize: 16000, progress: true });
  const seconds = (performance.now() - start) / 1000;
  const sample = texts.filter((_, i) => i % 10 === 0);
  const lossless = sample.filter((t) => tokenizer.decode(tokenizer.encodeIds(t)) === t).length;
  return {
    megabytes: Number(megabytes.toFixed(2)),
    vocab_size: 16000,
    seconds: Number(seconds.toFixed(1)),
    round_trip_exact: `${lossless}/${sample.length}`,
  };
}

const texts = firstColumn('data/sst2/train.tsv');
const results: Record<string, ReturnType<typeof measure>> = {};
for (const name of ['gpt2', 'bert-base-uncased']) {
  process.stderr.write(`loading ${name}\n`);
  const tokenizer = await AutoTokenizer.fromPretrained(sharedPath('tokenizers', name));
  // GPT-2 has no pad token; padding with EOS is the usual choice.
  if (tokenizer.padToken === undefined) tokenizer.addSpecialTokens({ pad_token: tokenizer.eosToken! });
  results[name] = measure(name, tokenizer, texts);
}
process.stderr.write('training byte-level BPE on nsmc\n');
const train = trainKorean();
console.log(
  JSON.stringify({
    bench: 'tokenizer',
    data: 'sst2/train.tsv',
    sentences: texts.length,
    batch: BATCH,
    ...results,
    train_bpe_nsmc: train,
  }),
);
