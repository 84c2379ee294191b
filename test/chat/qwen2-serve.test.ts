// `attn serve --model <folder>` with a Qwen2-style checkpoint: a tiny random Qwen2ForCausalLM whose folder keeps
// its chat template in chat_template.jinja (Qwen3's real template, test/fixtures/chat-templates) and a byte-level
// tokenizer with ChatML's special tokens. The prompt is checked against the ChatML text written out by hand, and
// the streamed reply against greedy decoding of that prompt run directly on the model.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttnChatModel } from '../../src/chat/attn-models.js';
import { ChatClient } from '../../src/chat/client.js';
import type { ChatServer } from '../../src/chat/server.js';
import type { ChatMessage } from '../../src/chat/types.js';
import { startFromArgs } from '../../src/cli/commands/serve.js';
import { GenerationConfig } from '../../src/generation/configuration_utils.js';
import { generate } from '../../src/generation/utils.js';
import { AutoModelForCausalLM } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { manualSeed } from '../../src/tensor/random.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { BYTE_TO_CHAR } from '../../src/tokenizers/bytes.js';
import { projectRoot } from '../../src/util/paths.js';

const SPECIALS = ['<|endoftext|>', '<|im_start|>', '<|im_end|>']; // ids 256, 257, 258
const TEMPLATE = join(projectRoot, 'test', 'fixtures', 'chat-templates', 'qwen3.jinja');

/** A Qwen2 checkpoint folder laid out as the hub's: config, weights, generation config, tokenizer, chat_template.jinja. */
async function tinyQwen2Folder(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'attn-qwen2-chat-'));
  const vocab = Object.fromEntries([...BYTE_TO_CHAR.map((c, b) => [c, b]), ...SPECIALS.map((t, i) => [t, 256 + i])]);
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: SPECIALS.map((content, i) => ({
      id: 256 + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
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
  };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      eos_token: '<|im_end|>',
      pad_token: '<|endoftext|>',
      model_max_length: 512,
      tokenizer_class: 'Qwen2Tokenizer',
    }),
  );
  writeFileSync(join(dir, 'chat_template.jinja'), readFileSync(TEMPLATE, 'utf8'));
  const config = {
    model_type: 'qwen2',
    architectures: ['Qwen2ForCausalLM'],
    vocab_size: 259,
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 512,
    rope_theta: 1000000,
    tie_word_embeddings: true,
    bos_token_id: 256,
    eos_token_id: 258,
  };
  manualSeed(2024);
  const model = AutoModelForCausalLM.fromConfig(configFromJSON(config, join(dir, 'config.json')));
  model.generationConfig = GenerationConfig.fromJSON({
    bos_token_id: 256,
    eos_token_id: [258, 256],
    pad_token_id: 256,
  });
  await model.savePretrained(dir);
  return dir;
}

const CHAT = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'Name a colour.' },
] satisfies ChatMessage[];

describe('attn serve with a Qwen2 checkpoint and its chat_template.jinja', () => {
  let dir: string;
  let server: ChatServer;

  beforeAll(async () => {
    dir = await tinyQwen2Folder();
    server = await startFromArgs(['--model', dir, '--port', '0']);
  });
  afterAll(() => server?.close());

  it('reads chat_template.jinja and renders ChatML with the generation prompt', async () => {
    const tokenizer = AutoTokenizer.fromDirectory(dir);
    expect(tokenizer.config['chat_template']).toBe(readFileSync(TEMPLATE, 'utf8'));
    const model = await AttnChatModel.load(dir);
    expect(model.promptFor(CHAT)).toEqual({
      text: '<|im_start|>system\nYou are a terse assistant.<|im_end|>\n<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\n',
      addSpecialTokens: false,
    });
  });

  it('streams the greedy reply of the model to that prompt, in several pieces', async () => {
    const tokenizer = AutoTokenizer.fromDirectory(dir);
    const prompt = tokenizer.encodeIds((await AttnChatModel.load(dir)).promptFor(CHAT).text, {
      addSpecialTokens: false,
    });
    expect(prompt.slice(0, 1)).toEqual([257]); // <|im_start|> is one token, not its bytes
    const model = await AutoModelForCausalLM.fromPretrained(dir);
    const ids = generate(model, [prompt], { maxNewTokens: 12 }).sequences[0]!.slice(prompt.length);
    const expected = tokenizer.decode(ids, { skipSpecialTokens: true });

    const client = new ChatClient({ baseURL: server.baseURL, apiKey: 'unused', model: dir, maxRetries: 0 });
    let streamed = '';
    let pieces = 0;
    for await (const chunk of client.stream({ messages: CHAT, maxTokens: 12, temperature: 0 })) {
      streamed += chunk.delta;
      if (chunk.delta) pieces++;
    }
    expect(streamed).toBe(expected);
    expect(pieces).toBeGreaterThan(1);
  });
});
