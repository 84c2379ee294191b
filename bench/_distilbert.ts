// The DistilBERT-base-shaped sequence classifier the infer and quantize benches measure: 6 layers, d768, 12 heads,
// BERT's 30,522-piece vocabulary, random weights built by attn (seed 13), so both benches time the same model.
import '../src/backends/register.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DistilBertConfig, DistilBertForSequenceClassification } from '../src/models/index.js';
import { manualSeed } from '../src/tensor/random.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../src/tokenizers/index.js';
import { sharedPath } from '../src/util/paths.js';

export async function distilbertBaseShaped(): Promise<{
  model: DistilBertForSequenceClassification;
  tokenizer: PreTrainedTokenizer;
}> {
  const vocab = sharedPath('tokenizers/bert-base-uncased');
  if (!existsSync(join(vocab, 'vocab.txt'))) throw new Error(`bench: needs the BERT vocabulary at ${vocab}/vocab.txt`);
  manualSeed(13);
  const config = new DistilBertConfig(
    { model_type: 'distilbert', id2label: { 0: 'NEGATIVE', 1: 'POSITIVE' } },
    'bench',
  );
  const model = new DistilBertForSequenceClassification(config).eval();
  return { model, tokenizer: await AutoTokenizer.fromPretrained(vocab) };
}
