import { beforeAll, expect, it } from 'vitest';
import { TextStreamer } from '../../src/generation/streamers.js';
import { generate } from '../../src/generation/utils.js';
import { loadLlama2cModel, loadLlama2cTokenizer } from '../../src/models/llama/convert_llama2c.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const KNOWN =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high';

describeWithShared(
  'stories260K generation',
  ['models/stories260K/stories260K.bin', 'models/stories260K/tok512.bin'],
  () => {
    const loadBoth = () =>
      Promise.all([
        loadLlama2cModel(sharedPath('models', 'stories260K', 'stories260K.bin')),
        loadLlama2cTokenizer(sharedPath('models', 'stories260K', 'tok512.bin')),
      ]);
    let load: ReturnType<typeof loadBoth>;
    beforeAll(() => {
      load = loadBoth();
    });

    it('greedy decoding from BOS streams the known 60-token text', async () => {
      const [model, tokenizer] = await load;
      let streamed = '';
      const out = generate(model, [[1]], {
        maxNewTokens: 60,
        eosTokenId: null,
        streamer: new TextStreamer(tokenizer, { skipPrompt: true, callback: (text) => (streamed += text) }),
      });
      expect(out.sequences[0]).toHaveLength(61);
      expect(tokenizer.decode(out.sequences[0]!.slice(1)).trim()).toBe(KNOWN);
      expect(streamed.trim()).toBe(KNOWN);
    });

    it('sampling with a seed is reproducible, and other seeds tell other stories', async () => {
      const [model] = await load;
      const opts = { maxNewTokens: 24, doSample: true, temperature: 0.9, topP: 0.95 };
      const a = generate(model, [[1]], { ...opts, seed: 7 }).sequences[0];
      expect(generate(model, [[1]], { ...opts, seed: 7 }).sequences[0]).toEqual(a);
      expect(generate(model, [[1]], { ...opts, seed: 8 }).sequences[0]).not.toEqual(a);
    });
  },
);
