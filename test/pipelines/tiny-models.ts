// Tiny random-weight model folders (config.json + model.safetensors + tokenizer) saved the way users' folders
// are, so the pipelines are tested through the same loading path as real checkpoints.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
} from '../../src/models/auto/index.js';
import { configFromJSON, type PretrainedConfig } from '../../src/models/configuration_utils.js';
import { manualSeed } from '../../src/tensor/random.js';
import { trainTokenizer } from '../../src/tokenizers/train/train.js';

const SPECIALS = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
const WORDS = (
  'the a movie film story was is it i this that and but not very good great bad awful love hate fun boring ' +
  'sports politics science music game team won lost vote law cat dog sat on mat . , ! ? ##s ##ed ##ing'
).split(' ');
export const WORDPIECE_VOCAB = [...SPECIALS, ...WORDS];

const ENCODER = {
  hidden_size: 16,
  num_attention_heads: 2,
  num_hidden_layers: 1,
  intermediate_size: 24,
  max_position_embeddings: 48,
  hidden_dropout_prob: 0,
  attention_probs_dropout_prob: 0,
};

function scratch(): string {
  return mkdtempSync(join(tmpdir(), 'attn-pipelines-'));
}

type AutoClass = { fromConfig(config: PretrainedConfig): { savePretrained(dir: string): Promise<void> } };

async function saveModel(
  auto: AutoClass,
  configJson: Record<string, unknown>,
  dir: string,
  seed: number,
): Promise<string> {
  manualSeed(seed);
  await auto.fromConfig(configFromJSON(configJson, join(dir, 'config.json'))).savePretrained(dir);
  return dir;
}

function writeWordPiece(dir: string, modelMaxLength = 48): void {
  writeFileSync(join(dir, 'vocab.txt'), WORDPIECE_VOCAB.join('\n') + '\n');
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({ do_lower_case: true, model_max_length: modelMaxLength }),
  );
}

/** A BERT sequence classifier with the given labels (e.g. NEGATIVE/POSITIVE, or an NLI label set). */
export async function tinyClassifier(labels: string[], seed = 1): Promise<string> {
  const dir = scratch();
  const id2label = Object.fromEntries(labels.map((l, i) => [String(i), l]));
  const label2id = Object.fromEntries(labels.map((l, i) => [l, i]));
  await saveModel(
    AutoModelForSequenceClassification,
    { model_type: 'bert', vocab_size: WORDPIECE_VOCAB.length, ...ENCODER, id2label, label2id },
    dir,
    seed,
  );
  writeWordPiece(dir);
  return dir;
}

/** A bare BERT encoder (feature extraction, similarity zero-shot, extractive summarization). */
export async function tinyEncoder(seed = 2): Promise<string> {
  const dir = scratch();
  await saveModel(AutoModel, { model_type: 'bert', vocab_size: WORDPIECE_VOCAB.length, ...ENCODER }, dir, seed);
  writeWordPiece(dir);
  return dir;
}

export async function tinyMaskedLM(seed = 3): Promise<string> {
  const dir = scratch();
  await saveModel(
    AutoModelForMaskedLM,
    { model_type: 'bert', vocab_size: WORDPIECE_VOCAB.length, ...ENCODER },
    dir,
    seed,
  );
  writeWordPiece(dir);
  return dir;
}

/** A Marian encoder–decoder; `extra` adds config fields such as task_specific_params. */
export async function tinySeq2Seq(extra: Record<string, unknown> = {}, seed = 4): Promise<string> {
  const dir = scratch();
  const pad = WORDPIECE_VOCAB.indexOf('[PAD]');
  const eos = WORDPIECE_VOCAB.indexOf('[SEP]');
  const config = {
    model_type: 'marian',
    vocab_size: WORDPIECE_VOCAB.length,
    d_model: 16,
    encoder_layers: 1,
    decoder_layers: 1,
    encoder_attention_heads: 2,
    decoder_attention_heads: 2,
    encoder_ffn_dim: 24,
    decoder_ffn_dim: 24,
    max_position_embeddings: 48,
    dropout: 0,
    pad_token_id: pad,
    eos_token_id: eos,
    decoder_start_token_id: pad,
    forced_eos_token_id: eos,
    ...extra,
  };
  await saveModel(AutoModelForSeq2SeqLM, config, dir, seed);
  writeWordPiece(dir);
  return dir;
}

const STORIES = [
  'the cat sat on the mat and the dog sat on the log.',
  'once upon a time there was a little girl who loved to play.',
  'the dog was happy and the cat was sad, but they played together.',
];

/** A GPT-2 with a byte-level BPE tokenizer trained on a few sentences; `chatTemplate` adds one to its config. */
export async function tinyCausalLM(options: { chatTemplate?: string } = {}, seed = 5): Promise<string> {
  const dir = scratch();
  const tokenizer = trainTokenizer({
    type: 'bpe',
    texts: STORIES,
    vocabSize: 300,
    minFrequency: 1,
    modelMaxLength: 64,
    progress: false,
  });
  await tokenizer.savePretrained(dir);
  const eos = tokenizer.eosTokenId!;
  await saveModel(
    AutoModelForCausalLM,
    {
      model_type: 'gpt2',
      vocab_size: tokenizer.vocabSize,
      n_embd: 16,
      n_head: 2,
      n_layer: 1,
      n_inner: 24,
      n_positions: 64,
      embd_pdrop: 0,
      attn_pdrop: 0,
      resid_pdrop: 0,
      bos_token_id: eos,
      eos_token_id: eos,
    },
    dir,
    seed,
  );
  if (options.chatTemplate) {
    const path = join(dir, 'tokenizer_config.json');
    writeFileSync(
      path,
      JSON.stringify({ ...JSON.parse(readFileSync(path, 'utf8')), chat_template: options.chatTemplate }),
    );
  }
  return dir;
}
