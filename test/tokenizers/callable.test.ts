import { describe, expect, it } from 'vitest';
import { Tensor } from '../../src/tensor/index.js';
import { trainTokenizer } from '../../src/tokenizers/index.js';

const texts = ['the cat sat', 'the dog ran far away', 'a cat and a dog'];

describe('calling a tokenizer, as in transformers and transformers.js', () => {
  const tokenizer = trainTokenizer({
    type: 'wordpiece',
    texts,
    vocabSize: 60,
    normalizer: 'lowercase',
    progress: false,
  });

  it('returns input_ids, attention_mask and token_type_ids equal to encode()', () => {
    const called = tokenizer(texts, { padding: true });
    const encoded = tokenizer.encode(texts, { padding: true });
    expect(called).toEqual({
      input_ids: encoded.inputIds,
      attention_mask: encoded.attentionMask,
      token_type_ids: encoded.tokenTypeIds,
    });
    expect(called.attention_mask[0]).toEqual(encoded.inputIds[0]!.map((id) => (id === tokenizer.padTokenId ? 0 : 1)));
  });

  it('gives one row for one text, and (B, T) tensors with returnTensors', () => {
    expect(tokenizer('the cat sat').input_ids).toEqual(tokenizer.encode('the cat sat').inputIds[0]);
    const tensors = tokenizer(texts, { padding: true, returnTensors: true });
    expect(tensors.input_ids).toBeInstanceOf(Tensor);
    expect([...tensors.input_ids.shape]).toEqual([3, tokenizer.encode(texts, { padding: true }).inputIds[0]!.length]);
  });

  it('takes the snake_case option names too, and refuses one option given both ways with different values', () => {
    const snake = tokenizer(texts, { truncation: true, max_length: 4, padding: 'max_length' } as never);
    expect(snake.input_ids.every((row: number[]) => row.length === 4)).toBe(true);
    expect(() => tokenizer(texts, { maxLength: 4, max_length: 5, truncation: true } as never)).toThrow(
      "tokenizer: 'max_length' and 'maxLength' are the same option with different values; give one",
    );
  });

  it('still has its methods and fields', () => {
    expect(typeof tokenizer).toBe('function');
    expect(tokenizer.decode(tokenizer.encodeIds('the cat'), { skipSpecialTokens: true })).toBe('the cat');
    expect(tokenizer.vocabSize).toBeGreaterThan(10);
  });
});
