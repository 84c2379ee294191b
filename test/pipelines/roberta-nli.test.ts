// roberta-large-mnli-style zero-shot classification: a tiny random RobertaForSequenceClassification with MNLI's
// labels and a byte-level tokenizer with RoBERTa's pair format (<s> A </s></s> B </s>, padding id 1). The pipeline
// batches premise/hypothesis pairs with padding; the reference encodes each pair by hand (bytes + 4) and runs it
// alone, so RoBERTa's position rule (padding does not shift positions) and the pair format are both checked.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { RobertaForSequenceClassification } from '../../src/models/roberta/modeling_roberta.js';
import { pipeline, tasksFor, type ZeroShotResult } from '../../src/pipelines/index.js';
import { readModelConfig } from '../../src/pipelines/load.js';
import { noGrad } from '../../src/tensor/engine.js';
import { manualSeed } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { BYTE_TO_CHAR } from '../../src/tokenizers/bytes.js';

const SPECIALS = ['<s>', '<pad>', '</s>', '<unk>'];

async function tinyRobertaNli(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'attn-roberta-nli-'));
  const vocab = Object.fromEntries([
    ...SPECIALS.map((t, i) => [t, i]),
    ...BYTE_TO_CHAR.map((c, b) => [c, b + SPECIALS.length]),
  ]);
  const byteLevel = { add_prefix_space: false, trim_offsets: true, use_regex: true };
  writeFileSync(
    join(dir, 'tokenizer.json'),
    JSON.stringify({
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: SPECIALS.map((content, id) => ({
        id,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      })),
      normalizer: null,
      pre_tokenizer: { type: 'ByteLevel', ...byteLevel },
      post_processor: { type: 'RobertaProcessing', sep: ['</s>', 2], cls: ['<s>', 0], ...byteLevel },
      decoder: { type: 'ByteLevel', ...byteLevel },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: '',
        end_of_word_suffix: '',
        fuse_unk: false,
        byte_fallback: false,
        vocab,
        merges: [],
      },
    }),
  );
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      bos_token: '<s>',
      eos_token: '</s>',
      cls_token: '<s>',
      sep_token: '</s>',
      pad_token: '<pad>',
      unk_token: '<unk>',
      model_max_length: 128,
    }),
  );
  const config = {
    model_type: 'roberta',
    architectures: ['RobertaForSequenceClassification'],
    vocab_size: 260,
    hidden_size: 16,
    num_hidden_layers: 2,
    num_attention_heads: 2,
    intermediate_size: 24,
    max_position_embeddings: 130,
    type_vocab_size: 1,
    pad_token_id: 1,
    bos_token_id: 0,
    eos_token_id: 2,
    id2label: { 0: 'CONTRADICTION', 1: 'NEUTRAL', 2: 'ENTAILMENT' },
    label2id: { CONTRADICTION: 0, NEUTRAL: 1, ENTAILMENT: 2 },
  };
  manualSeed(11);
  await AutoModelForSequenceClassification.fromConfig(configFromJSON(config, join(dir, 'config.json'))).savePretrained(
    dir,
  );
  return dir;
}

const bytes = (text: string) => [...Buffer.from(text, 'utf8')].map((b) => b + SPECIALS.length);

describe('zero-shot classification with a RoBERTa NLI checkpoint', () => {
  it('scores each label by the entailment logit of <s> premise </s></s> hypothesis </s>, softmaxed over labels', async () => {
    const dir = await tinyRobertaNli();
    const premise = 'the team won the game';
    const labels = ['sports', 'politics', 'music and art'];
    const zero = await pipeline('zero-shot-classification', dir);
    const result = (await zero(premise, { candidateLabels: labels })) as ZeroShotResult;

    const model = await RobertaForSequenceClassification.fromPretrained(dir);
    const entailment = labels.map((label) => {
      const ids = [0, ...bytes(premise), 2, 2, ...bytes(`This example is ${label}.`), 2];
      return noGrad(
        () => model.forward({ inputIds: new Tensor(Int32Array.from(ids), [1, ids.length]) }).logits.data[2]!,
      );
    });
    const max = Math.max(...entailment);
    const total = entailment.reduce((s, x) => s + Math.exp(x - max), 0);
    const expected = Object.fromEntries(labels.map((label, i) => [label, Math.exp(entailment[i]! - max) / total]));
    expect(result.labels).toHaveLength(3);
    result.labels.forEach((label, i) => expect(result.scores[i]).toBeCloseTo(expected[label]!, 5));
    expect(tasksFor(await readModelConfig(dir))).toContain('zero-shot-classification');
    zero.dispose();
  });
});
