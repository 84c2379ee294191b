// Tiny random BERT checkpoints with the heads of issue 16 (question answering, token classification), saved as
// folders with a WordPiece vocabulary, so pipelines and `attn run` load them as users' folders.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoModelForQuestionAnswering, AutoModelForTokenClassification } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { manualSeed } from '../../src/tensor/random.js';
import { WORDPIECE_VOCAB } from './tiny-models.js';

async function save(
  head: 'questionAnswering' | 'tokenClassification',
  extra: Record<string, unknown>,
  seed: number,
): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'attn-heads-'));
  const json = {
    model_type: 'bert',
    vocab_size: WORDPIECE_VOCAB.length,
    hidden_size: 16,
    num_attention_heads: 2,
    num_hidden_layers: 1,
    intermediate_size: 24,
    max_position_embeddings: 48,
    ...extra,
  };
  manualSeed(seed);
  const auto = head === 'questionAnswering' ? AutoModelForQuestionAnswering : AutoModelForTokenClassification;
  await auto.fromConfig(configFromJSON(json, join(dir, 'config.json'))).savePretrained(dir);
  writeFileSync(join(dir, 'vocab.txt'), WORDPIECE_VOCAB.join('\n') + '\n');
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ do_lower_case: true, model_max_length: 48 }));
  return dir;
}

export const tinyQuestionAnswering = (seed = 7): Promise<string> => save('questionAnswering', {}, seed);

/** Labels O, B-X, I-X. */
export const tinyTokenClassifier = (seed = 8): Promise<string> =>
  save(
    'tokenClassification',
    { id2label: { 0: 'O', 1: 'B-X', 2: 'I-X' }, label2id: { O: 0, 'B-X': 1, 'I-X': 2 } },
    seed,
  );
