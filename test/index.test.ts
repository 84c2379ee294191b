import { expect, it } from 'vitest';
import * as attn from '../src/index.js';

it('exports every part of the library as a namespace, and the common entry points at the top level', () => {
  for (const part of [
    'tensor',
    'nn',
    'optim',
    'models',
    'tokenizers',
    'generation',
    'pipelines',
    'data',
    'metrics',
    'training',
    'hub',
  ] as const) {
    expect(Object.keys(attn[part]).length, part).toBeGreaterThan(0);
  }
  expect(attn.pipeline).toBe(attn.pipelines.pipeline);
  expect(attn.AutoTokenizer).toBe(attn.tokenizers.AutoTokenizer);
  expect(attn.Trainer).toBe(attn.training.Trainer);
  expect(attn.tensor.Tensor).toBe(attn.Tensor);
  expect(typeof attn.ChatClient).toBe('function');
  expect(typeof attn.startChatServer).toBe('function');
});
