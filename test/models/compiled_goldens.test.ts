import { describe, expect, it } from 'vitest';
import '../../src/models/index.js';
import { classByName } from '../../src/models/auto/registry.js';
import { loadPretrained } from '../../src/models/modeling_utils.js';
import {
  CompiledForward,
  encoderSpec,
  GeneralizeError,
  type Axis,
  type ForwardSpec,
} from '../../src/models/compiled.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose, goldenCase, ids, type Json } from './golden.js';

type Outputs = Record<string, Tensor | undefined>;
type Forward = (inputs: Record<string, Tensor | undefined>) => Outputs;

const camel = (name: string) => name.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());

/** The golden's output arrays that a forward pass gives (logits, last_hidden_state, start_logits, …). */
const OUTPUT_KEYS = [
  'logits',
  'last_hidden_state',
  'pooler_output',
  'start_logits',
  'end_logits',
  'encoder_last_hidden_state',
];

const BATCH: Axis = { size: 'batch' };

function spec(kind: 'encoder' | 'causal' | 'seq2seq', vocab: number, forward: Forward, outputs: string[]): ForwardSpec {
  const pick = (out: Outputs) => Object.fromEntries(outputs.map((k) => [k, out[camel(k)]!]));
  const encoder = encoderSpec(vocab, (x) =>
    pick(forward({ inputIds: x.inputIds, attentionMask: x.attentionMask, tokenTypeIds: x.tokenTypeIds })),
  );
  if (kind === 'encoder') return encoder;
  const inputs: ForwardSpec['inputs'] = {
    input_ids: encoder.inputs.input_ids!,
    attention_mask: encoder.inputs.attention_mask!,
  };
  if (kind === 'seq2seq') inputs.decoder_input_ids = { dtype: 'int32', axes: [BATCH, { size: 'target' }] };
  return {
    inputs,
    example: (name, shape) => encoder.example!(name === 'decoder_input_ids' ? 'input_ids' : name, shape),
    forward: (x) =>
      pick(forward({ inputIds: x.input_ids, attentionMask: x.attention_mask, decoderInputIds: x.decoder_input_ids })),
  };
}

interface Case {
  name: string;
  kind: 'encoder' | 'causal' | 'seq2seq';
}

const CASES: Case[] = [
  ...['bert', 'bert_mlm', 'bert_qa', 'bert_tokcls', 'bert_seqcls', 'distilbert_seqcls', 'roberta_seqcls'].map(
    (name) => ({ name, kind: 'encoder' as const }),
  ),
  ...['gpt2', 'llama', 'llama_rope_dynamic', 'llama_rope_linear', 'mistral', 'qwen2'].map((name) => ({
    name,
    kind: 'causal' as const,
  })),
  ...['bart', 'marian', 't5'].map((name) => ({ name, kind: 'seq2seq' as const })),
];

function feedsOf(inputs: Json): Record<string, Tensor> {
  const feeds: Record<string, Tensor> = {
    input_ids: ids(inputs.input_ids),
    attention_mask: ids(inputs.attention_mask),
  };
  feeds.token_type_ids = ids(inputs.token_type_ids ?? inputs.input_ids.map((row: number[]) => row.map(() => 0)));
  if (inputs.decoder_input_ids) feeds.decoder_input_ids = ids(inputs.decoder_input_ids);
  return feeds;
}

/**
 * Forward passes that cannot be one graph for every size, and are refused (they run eagerly) rather than compiled
 * wrong: T5's relative-position buckets and dynamic NTK rope's length-dependent frequencies are computed in JS.
 */
const REFUSED: Record<string, RegExp> = {
  t5: /constant '#c\d+' \(int32 \[5, 5\]\) depends on the input sizes/,
  llama_rope_dynamic: /constant '#c\d+' \(float32 \[1, 1, 5, 16\]\) depends on the input sizes/,
};

describe('every HF golden forward pass, compiled to one graph', () => {
  for (const { name, kind } of CASES) {
    it(`${name}${REFUSED[name] ? ' (refused with a clear error)' : ''}`, async () => {
      const { dir, inputs, expected } = goldenCase(name);
      const cls = classByName(expected.model_class)!;
      const model = await loadPretrained(cls, dir);
      const outputs = OUTPUT_KEYS.filter((k) => expected[k] !== undefined);
      const forward = (x: Record<string, Tensor | undefined>) =>
        (model as unknown as { forward(x: object): Outputs }).forward(x);
      const forwardSpec = spec(kind, model.config.rawField('vocab_size') as number, forward, outputs);
      if (REFUSED[name]) {
        expect(() => CompiledForward.compile(model, forwardSpec)).toThrow(GeneralizeError);
        expect(() => CompiledForward.compile(model, forwardSpec)).toThrow(REFUSED[name]!);
        return;
      }
      const compiled = CompiledForward.compile(model, forwardSpec);
      const out = compiled.run(feedsOf(inputs));
      for (const k of outputs) expectClose(out[k]!, expected[k]);
      expect(Object.keys(out).sort()).toEqual([...outputs].sort());
      compiled.dispose();
    });
  }
});
