import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Tensor } from '../../src/tensor/index.js';
import { AutoTokenizer, trainTokenizer, type PreTrainedTokenizer } from '../../src/tokenizers/index.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';
import { goldenPath } from '../models/golden.js';

const scratch = mkdtempSync(join(tmpdir(), 'attn-tokenizer-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('BERT (vocab.txt) batching', () => {
  let bert: PreTrainedTokenizer;
  beforeAll(async () => {
    bert = await AutoTokenizer.fromPretrained(goldenPath('tokenizers', 'bert-base-uncased'));
  });

  it('returns int32 (B, T) tensors with right padding by default', () => {
    const out = bert.encode(['hello world', 'hi'], { padding: true, returnTensors: true });
    expect(out.inputIds.shape).toEqual([2, 4]);
    expect(out.inputIds.dtype).toBe('int32');
    expect(Array.from(out.inputIds.data)).toEqual([101, 7592, 2088, 102, 101, 7632, 102, 0]);
    expect(Array.from(out.attentionMask.data)).toEqual([1, 1, 1, 1, 1, 1, 1, 0]);
    expect(Array.from(out.tokenTypeIds.data)).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
  });

  it('pads on the left when asked, and to a multiple', () => {
    const out = bert.encode(['hello world', 'hi'], { padding: true, paddingSide: 'left', padToMultipleOf: 3 });
    expect(out.inputIds).toEqual([
      [0, 0, 101, 7592, 2088, 102],
      [0, 0, 0, 101, 7632, 102],
    ]);
    expect(out.attentionMask[1]).toEqual([0, 0, 0, 1, 1, 1]);
  });

  it('truncates pairs longest-first and keeps segment ids', () => {
    const out = bert.encode(['one two three four five'], { textPair: ['six'], truncation: true, maxLength: 6 });
    // [CLS] one two [SEP] six [SEP]: the longer first sequence loses tokens until the pair fits.
    expect(bert.convertIdsToTokens(out.inputIds[0]!)).toEqual(['[CLS]', 'one', 'two', '[SEP]', 'six', '[SEP]']);
    expect(out.tokenTypeIds[0]).toEqual([0, 0, 0, 0, 1, 1]);
  });

  it('truncates from the side a call asks for, leaving the shared tokenizer as it was', () => {
    const side = bert.truncationSide;
    const out = bert.encode(['one two three four five'], { truncation: true, maxLength: 4, truncationSide: 'left' });
    expect(bert.convertIdsToTokens(out.inputIds[0]!)).toEqual(['[CLS]', 'four', 'five', '[SEP]']);
    expect(bert.truncationSide).toBe(side);
    const kept = bert.encode(['one two three four five'], { truncation: true, maxLength: 4 });
    expect(bert.convertIdsToTokens(kept.inputIds[0]!)).toEqual(
      side === 'left' ? ['[CLS]', 'four', 'five', '[SEP]'] : ['[CLS]', 'one', 'two', '[SEP]'],
    );
  });

  it('refuses a text longer than maxLength without truncation instead of cutting it', () => {
    expect(() => bert.encode(['one two three four five'], { maxLength: 4 })).toThrow(
      /text 0 is 7 tokens long, more than maxLength 4; pass truncation: true/,
    );
  });

  it('warns once when a text exceeds model_max_length and no maxLength is given', async () => {
    const limited = await AutoTokenizer.fromPretrained(goldenPath('tokenizers', 'bert-base-uncased'), {
      config: { model_max_length: 3 },
    });
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    limited.encode(['one two three']);
    limited.encode(['one two three']);
    expect(warn).toHaveBeenCalledTimes(1);
    expect(String(warn.mock.calls[0]![0])).toMatch(/5 tokens long, more than the model's 3/);
    warn.mockRestore();
  });

  it('refuses tensors for ragged rows', () => {
    expect(() => bert.encode(['hello world', 'hi'], { returnTensors: true })).toThrow(
      /equal length; pass padding: true/,
    );
  });

  it('converts tokens and ids both ways, unknown tokens to [UNK]', () => {
    expect(bert.convertTokensToIds(['hello', '##ing', 'not-a-token'])).toEqual([7592, 2075, 100]);
    expect(bert.convertIdsToTokens([101, 7592])).toEqual(['[CLS]', 'hello']);
    expect(() => bert.convertIdsToTokens(999999)).toThrow(/outside the vocabulary/);
    expect(bert.clsTokenId).toBe(101);
    expect(bert.allSpecialIds.sort((a, b) => a - b)).toEqual([0, 100, 101, 102, 103]);
  });

  it('batch-decodes a tensor, skipping special tokens and padding', () => {
    const out = bert.encode(['Hello, world!', 'hi'], { padding: true, returnTensors: true });
    expect(bert.batchDecode(out.inputIds, { skipSpecialTokens: true })).toEqual(['hello, world!', 'hi']);
    expect(bert.decode(Tensor.from([101, 7632, 102], [3], 'int32'))).toBe('[CLS] hi [SEP]');
    expect(bert.decode([])).toBe('');
  });

  it('adds tokens that are never split', () => {
    const before = bert.vocabSize;
    expect(bert.addTokens(['<new_tok>'])).toBe(1);
    expect(bert.vocabSize).toBe(before + 1);
    expect(bert.tokenize('a <new_tok> b')).toEqual(['a', '<new_tok>', 'b']);
    expect(bert.encodeIds('<new_tok>', { addSpecialTokens: false })).toEqual([before]);
  });

  it('saves tokenizer.json + config and reloads to the same ids', async () => {
    const dir = join(scratch, 'bert-saved');
    await bert.savePretrained(dir);
    const again = await AutoTokenizer.fromPretrained(dir);
    const texts = ['Hello, world!', 'The <new_tok> café', '한국어'];
    expect(again.encode(texts).inputIds).toEqual(bert.encode(texts).inputIds);
    expect(again.padToken).toBe('[PAD]');
    expect(again.decode(again.encodeIds('Hello, world!'))).toBe(bert.decode(bert.encodeIds('Hello, world!')));
  });
});

describe('GPT-2 (encoder.json + vocab.bpe)', () => {
  it('needs a pad token to pad, and takes the eos token as one', async () => {
    const gpt2 = await AutoTokenizer.fromPretrained(goldenPath('tokenizers', 'gpt2'));
    expect(() => gpt2.encode(['a b', 'a'], { padding: true })).toThrow(
      /padding needs a pad token, and .*gpt2 defines none/,
    );
    expect(gpt2.addSpecialTokens({ pad_token: gpt2.eosToken! })).toBe(0);
    const out = gpt2.encode(['Hello world', 'Hi'], { padding: true, paddingSide: 'left' });
    expect(out.inputIds).toEqual([
      [15496, 995],
      [50256, 17250],
    ]);
    expect(out.attentionMask).toEqual([
      [1, 1],
      [0, 1],
    ]);
  });
});

describeWithShared('T5 (tokenizer.json, Unigram)', ['tokenizers/t5-small/tokenizer.json'], () => {
  it('encodes with the published t5-small ids and appends </s>', async () => {
    const t5 = await AutoTokenizer.fromPretrained(sharedPath('tokenizers/t5-small'), {
      config: { eos_token: '</s>', pad_token: '<pad>' },
    });
    expect(t5.vocabSize).toBe(32100);
    // The ids transformers' documentation shows for t5-small.
    expect(t5.encodeIds('translate English to German: The house is wonderful.')).toEqual([
      13959, 1566, 12, 2968, 10, 37, 629, 19, 1627, 5, 1,
    ]);
    expect(t5.tokenize('Hello world')).toEqual(['▁Hello', '▁world']);
    expect(t5.decode([8774, 296, 1], { skipSpecialTokens: true })).toBe('Hello world');
    const batch = t5.encode(['Hello world', 'Hi'], { padding: true });
    expect(batch.inputIds[1]).toEqual([2018, 1, 0]);
  });
});

describeWithShared('Llama-2 (tokenizer.model)', ['tokenizers/llama2/tokenizer.model'], () => {
  it('reads the SentencePiece protobuf: BOS added, byte fallback, special tokens', async () => {
    const llama = await AutoTokenizer.fromPretrained(sharedPath('tokenizers/llama2'));
    expect(llama.vocabSize).toBe(32000);
    expect([llama.bosToken, llama.eosToken, llama.unkToken]).toEqual(['<s>', '</s>', '<unk>']);
    expect(llama.encodeIds('Hello world')).toEqual([1, 15043, 3186]);
    expect(llama.tokenize('😊')).toEqual(['▁', '<0xF0>', '<0x9F>', '<0x98>', '<0x8A>']);
    expect(llama.decode([1, 15043, 3186], { skipSpecialTokens: true })).toBe('Hello world');
  });
});

describe('chat templates', () => {
  const template =
    '{{ bos_token }}{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{{ eos_token }}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}';
  const tok = trainTokenizer({
    type: 'bpe',
    texts: ['hello there', 'how are you', 'fine thanks'],
    vocabSize: 300,
    specialTokens: ['<s>', '</s>', '<|user|>', '<|assistant|>'],
  });
  const messages = [{ role: 'user', content: 'hello' }];

  it('renders the config template with special tokens and the generation prompt', () => {
    tok.config['chat_template'] = template;
    expect(tok.applyChatTemplate(messages, { addGenerationPrompt: true })).toBe('<s><|user|>hello</s><|assistant|>');
    expect(tok.applyChatTemplate(messages)).toBe('<s><|user|>hello</s>');
  });

  it('tokenizes without adding special tokens twice', () => {
    tok.config['chat_template'] = template;
    const ids = tok.applyChatTemplate(messages, { tokenize: true, addGenerationPrompt: true });
    expect(ids[0]).toBe(tok.bosTokenId);
    expect(tok.decode(ids)).toBe('<s><|user|>hello</s><|assistant|>');
  });

  it('says where the template is missing', () => {
    delete tok.config['chat_template'];
    expect(() => tok.applyChatTemplate(messages)).toThrow(/has no chat_template in tokenizer_config.json/);
  });
});
