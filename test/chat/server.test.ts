import { request as httpRequest } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatApiError, ChatClient, type ChatStreamChunk } from '../../src/chat/client.js';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { startChatServer, type ChatServer } from '../../src/chat/server.js';
import type { ChatModel, ChatGenerateOptions, GenerateResult } from '../../src/chat/types.js';
import { LexicalEmbedder } from '../../src/chat/lexical-embedder.js';
import { startFailingProxy } from './failing-proxy.js';

const SENTENCE = 'the quick brown fox jumps over the lazy dog';

async function collect(stream: AsyncIterable<ChatStreamChunk>): Promise<ChatStreamChunk[]> {
  const chunks: ChatStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

async function waitFor(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function rejection(promise: Promise<unknown>): Promise<ChatApiError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ChatApiError);
  return err as ChatApiError;
}

describe('attn serve API with ChatClient', () => {
  const slow = new EchoChatModel({ id: 'echo-slow', tokenDelayMs: 15 });
  let server: ChatServer;
  let client: ChatClient;

  beforeAll(async () => {
    server = await startChatServer({
      models: [new EchoChatModel(), slow],
      embedders: [new LexicalEmbedder(256)],
      maxConcurrent: 4,
      maxBodyBytes: 64 * 1024,
    });
    client = new ChatClient({
      baseURL: server.baseURL,
      apiKey: 'unused',
      model: 'echo',
      maxRetries: 0,
      retryBaseDelayMs: 10,
    });
  });
  afterAll(() => server.close());

  it('answers a plain chat completion with usage', async () => {
    const result = await client.chat({
      messages: [
        { role: 'system', content: 'You repeat things.' },
        { role: 'user', content: SENTENCE },
      ],
    });
    expect(result.text).toBe(SENTENCE);
    expect(result.finishReason).toBe('stop');
    expect(result.message).toEqual({ role: 'assistant', content: SENTENCE });
    // The echo model counts word pieces: 3 in the system message, 9 in the user message.
    expect(result.usage).toEqual({ promptTokens: 12, completionTokens: 9, totalTokens: 21 });
    expect(result.id).toMatch(/^chatcmpl-/);
  });

  it('streams the same text in pieces, then the finish reason and usage', async () => {
    const chunks = await collect(client.stream({ messages: [{ role: 'user', content: SENTENCE }] }));
    expect(chunks.map((c) => c.delta).join('')).toBe(SENTENCE);
    expect(chunks.filter((c) => c.delta !== '').length).toBe(9);
    expect(chunks.find((c) => c.finishReason !== null)?.finishReason).toBe('stop');
    expect(chunks.at(-1)?.usage).toEqual({ promptTokens: 9, completionTokens: 9, totalTokens: 18 });
  });

  it('stops at max tokens with finish reason length', async () => {
    const result = await client.chat({ messages: [{ role: 'user', content: SENTENCE }], maxTokens: 3 });
    expect(result.text).toBe('the quick brown');
    expect(result.finishReason).toBe('length');
  });

  it('cuts at the first stop string, also when it spans streamed pieces', async () => {
    const plain = await client.chat({ messages: [{ role: 'user', content: SENTENCE }], stop: ['lazy', 's ov'] });
    expect(plain.text).toBe('the quick brown fox jump');
    expect(plain.finishReason).toBe('stop');
    const chunks = await collect(client.stream({ messages: [{ role: 'user', content: SENTENCE }], stop: 'n fox' }));
    expect(chunks.map((c) => c.delta).join('')).toBe('the quick brow');
    expect(chunks.find((c) => c.finishReason !== null)?.finishReason).toBe('stop');
  });

  it('passes temperature and seed through to sampling', async () => {
    const ask = (seed: number) =>
      client.chat({ messages: [{ role: 'user', content: SENTENCE }], temperature: 0.8, seed, maxTokens: 12 });
    const [a, b, c] = await Promise.all([ask(7), ask(7), ask(8)]);
    expect(a.text).toBe(b.text);
    expect(a.text).not.toBe(c.text);
    expect(a.usage?.completionTokens).toBe(12);
  });

  it('serves raw text completions and lists models', async () => {
    const completion = await client.complete('one two three four', { maxTokens: 2 });
    expect(completion).toEqual({
      text: 'one two',
      finishReason: 'length',
      usage: { promptTokens: 4, completionTokens: 2, totalTokens: 6 },
    });
    expect(await client.listModels()).toEqual(['echo', 'echo-slow', 'attn-lexical-256']);
  });

  it('answers bad requests with 400, 404 and 413 and the server message', async () => {
    const badTemperature = await rejection(
      client.chat({ messages: [{ role: 'user', content: 'hi' }], temperature: 5 }),
    );
    expect(badTemperature.status).toBe(400);
    expect(badTemperature.message).toContain("'temperature' must be a number from 0 to 2, got 5");

    const badRole = await rejection(client.chat({ messages: [{ role: 'robot' as 'user', content: 'hi' }] }));
    expect(badRole.status).toBe(400);
    expect(badRole.providerMessage).toContain('messages[0].role must be one of');

    const missing = await rejection(client.chat({ model: 'gpt-nope', messages: [{ role: 'user', content: 'hi' }] }));
    expect(missing.status).toBe(404);
    expect(missing.code).toBe('model_not_found');
    expect(missing.message).toContain("The model 'gpt-nope' does not exist");
    expect(missing.message).toContain('check the model name');

    const huge = await rejection(client.chat({ messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }));
    expect(huge.status).toBe(413);
    expect(huge.code).toBe('request_too_large');
  });

  it('retries a 429 after its Retry-After and a 503 with backoff', async () => {
    const proxy = await startFailingProxy(server.baseURL);
    try {
      const retrying = new ChatClient({ baseURL: proxy.baseURL, model: 'echo', maxRetries: 2, retryBaseDelayMs: 10 });
      proxy.failNext(429, 0.2);
      const started = Date.now();
      const result = await retrying.chat({ messages: [{ role: 'user', content: 'again' }] });
      expect(result.text).toBe('again');
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);

      proxy.failNext(503);
      proxy.failNext(503);
      expect((await retrying.chat({ messages: [{ role: 'user', content: 'twice' }] })).text).toBe('twice');

      proxy.failNext(429, 0);
      const once = new ChatClient({ baseURL: proxy.baseURL, model: 'echo', maxRetries: 0 });
      const noRetries = await rejection(once.chat({ messages: [{ role: 'user', content: 'once' }] }));
      expect(noRetries.status).toBe(429);
      expect(noRetries.code).toBe('injected_failure');
    } finally {
      await proxy.close();
    }
  });

  it('times out a call that takes too long', async () => {
    const impatient = new ChatClient({ baseURL: server.baseURL, model: 'echo-slow', maxRetries: 0, timeoutMs: 100 });
    const err = await rejection(impatient.chat({ messages: [{ role: 'user', content: 'word '.repeat(40) }] }));
    expect(err.code).toBe('timeout');
    expect(err.message).toContain('timed out');
  });

  it('cancels the generation when the caller aborts or stops reading', async () => {
    const abortedBefore = slow.abortedGenerations;
    const controller = new AbortController();
    const seen: string[] = [];
    const reading = (async () => {
      for await (const chunk of client.stream({
        model: 'echo-slow',
        messages: [{ role: 'user', content: 'word '.repeat(200) }],
        signal: controller.signal,
      })) {
        seen.push(chunk.delta);
        if (seen.length === 3) controller.abort(new Error('user cancelled'));
      }
    })();
    await expect(reading).rejects.toThrow('user cancelled');
    await waitFor(() => slow.abortedGenerations === abortedBefore + 1, 'the aborted generation');

    for await (const chunk of client.stream({
      model: 'echo-slow',
      messages: [{ role: 'user', content: 'word '.repeat(200) }],
    })) {
      if (chunk.delta === 'word') break;
    }
    await waitFor(() => slow.abortedGenerations === abortedBefore + 2, 'the abandoned generation');
    await waitFor(() => server.stats().active === 0, 'the slots to be released');
    expect(server.stats().cancelled).toBeGreaterThanOrEqual(2);
  });
});

/** A model that fails after producing some text, as a real model might (out of memory, a bad weight file). */
class BreakingModel implements ChatModel {
  readonly id = 'breaking';
  async generate(
    _prompt: unknown,
    _opts: ChatGenerateOptions,
    onText?: (delta: string) => void,
  ): Promise<GenerateResult> {
    onText?.('partial');
    await new Promise((resolve) => setTimeout(resolve, 5));
    throw new Error('weights went missing');
  }
}

describe('attn serve failures', () => {
  it('reports a generation failure as a 500, or as an error event once streaming', async () => {
    const server = await startChatServer({ models: [new BreakingModel()] });
    const client = new ChatClient({ baseURL: server.baseURL, model: 'breaking', maxRetries: 0 });
    try {
      const plain = await rejection(client.chat({ messages: [{ role: 'user', content: 'go' }] }));
      expect(plain.status).toBe(500);
      expect(plain.message).toContain('weights went missing');
      const deltas: string[] = [];
      const streamed = (async () => {
        for await (const chunk of client.stream({ messages: [{ role: 'user', content: 'go' }] }))
          deltas.push(chunk.delta);
      })();
      const err = await rejection(streamed);
      expect(err.message).toContain('generation failed: weights went missing');
      expect(deltas.join('')).toBe('partial');
    } finally {
      await server.close();
    }
  });

  it('retries network errors, then names the address it could not reach', async () => {
    const server = await startChatServer({ models: [new EchoChatModel()] });
    const baseURL = server.baseURL;
    await server.close();
    const client = new ChatClient({
      baseURL,
      model: 'echo',
      maxRetries: 1,
      retryBaseDelayMs: 5,
      apiKey: 'sk-secret-value',
    });
    const err = await rejection(client.chat({ messages: [{ role: 'user', content: 'anyone?' }] }));
    expect(err.code).toBe('network');
    expect(err.message).toContain(`cannot reach ${baseURL}/chat/completions: ECONNREFUSED`);
    expect(err.message).not.toContain('sk-secret-value');
  });
});

describe('attn serve limits', () => {
  it('checks the API key and never echoes it', async () => {
    const server = await startChatServer({ models: [new EchoChatModel()], apiKey: 'sk-right-key' });
    try {
      const wrongKey = 'sk-wrong-key-123456';
      const err = await rejection(
        new ChatClient({ baseURL: server.baseURL, apiKey: wrongKey, model: 'echo', maxRetries: 0 }).chat({
          messages: [{ role: 'user', content: 'hi' }],
        }),
      );
      expect(err.status).toBe(401);
      expect(err.code).toBe('invalid_api_key');
      expect(err.message).toContain('Incorrect API key provided');
      expect(`${err.message} ${err.stack} ${JSON.stringify(err)}`).not.toContain(wrongKey);

      const noKey = await rejection(
        new ChatClient({ baseURL: server.baseURL, apiKey: '', model: 'echo', maxRetries: 0 }).chat({
          messages: [{ role: 'user', content: 'hi' }],
        }),
      );
      expect(noKey.status).toBe(401);
      expect(noKey.code).toBe('missing_api_key');

      const ok = await new ChatClient({ baseURL: server.baseURL, apiKey: 'sk-right-key', model: 'echo' }).chat({
        messages: [{ role: 'user', content: 'hi' }],
      });
      expect(ok.text).toBe('hi');
    } finally {
      await server.close();
    }
  });

  it('queues beyond the concurrency limit and answers 429 when the queue is full', async () => {
    const server = await startChatServer({
      models: [new EchoChatModel({ tokenDelayMs: 10 })],
      maxConcurrent: 1,
      maxQueued: 1,
    });
    const client = new ChatClient({ baseURL: server.baseURL, model: 'echo', maxRetries: 0 });
    try {
      const first = client.stream({ messages: [{ role: 'user', content: 'a b c d e f g h' }] })[Symbol.asyncIterator]();
      await first.next(); // the first request holds the only slot
      const queued = client.chat({ messages: [{ role: 'user', content: 'queued' }] });
      await waitFor(() => server.stats().queued === 1, 'the second request to queue');
      const busy = await rejection(client.chat({ messages: [{ role: 'user', content: 'no room' }] }));
      expect(busy.status).toBe(429);
      expect(busy.code).toBe('server_busy');
      let rest = '';
      for (let step = await first.next(); !step.done; step = await first.next()) rest += step.value.delta;
      expect(rest).toBe(' b c d e f g h');
      expect((await queued).text).toBe('queued');
    } finally {
      await server.close();
    }
  });

  it('drops a client that stops reading without holding up others', async () => {
    const server = await startChatServer({
      models: [new EchoChatModel()],
      maxConcurrent: 2,
      maxTokensLimit: 1_000_000,
      maxUnreadBytes: 64 * 1024,
    });
    try {
      // A raw streaming request whose response is never read: TCP backpressure fills the server's buffer.
      const stalled = httpRequest(`${server.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
      });
      stalled.on('response', (res) => res.pause());
      stalled.on('error', () => {}); // the server hangs up on it
      stalled.end(
        JSON.stringify({
          model: 'echo',
          stream: true,
          temperature: 1,
          seed: 1,
          max_tokens: 1_000_000,
          messages: [{ role: 'user', content: 'never read this' }],
        }),
      );
      await waitFor(() => server.stats().active === 1, 'the stalled stream to start');

      const other = await new ChatClient({ baseURL: server.baseURL, model: 'echo' }).chat({
        messages: [{ role: 'user', content: 'still served' }],
      });
      expect(other.text).toBe('still served');
      await waitFor(() => server.stats().cancelled === 1, 'the stalled client to be dropped');
      expect(server.stats().active).toBe(0);
      stalled.destroy();
    } finally {
      await server.close();
    }
  });
});

describe('the official openai package against attn serve', () => {
  let server: ChatServer;
  let openai: OpenAI;

  beforeAll(async () => {
    server = await startChatServer({
      models: [new EchoChatModel()],
      embedders: [new LexicalEmbedder(64)],
      apiKey: 'sk-test',
    });
    openai = new OpenAI({ baseURL: server.baseURL, apiKey: 'sk-test', maxRetries: 0 });
  });
  afterAll(() => server.close());

  it('completes a chat', async () => {
    const completion = await openai.chat.completions.create({
      model: 'echo',
      messages: [{ role: 'user', content: 'hello from openai' }],
    });
    expect(completion.object).toBe('chat.completion');
    expect(completion.choices[0]?.message.content).toBe('hello from openai');
    expect(completion.choices[0]?.finish_reason).toBe('stop');
    expect(completion.usage?.completion_tokens).toBe(3);
  });

  it('streams a chat', async () => {
    const stream = await openai.chat.completions.create({
      model: 'echo',
      messages: [{ role: 'user', content: 'stream me please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      usage = chunk.usage ?? usage;
    }
    expect(text).toBe('stream me please');
    expect(finish).toBe('stop');
    expect(usage?.total_tokens).toBe(6);
  });

  it('uses completions, embeddings (its default base64 encoding) and models', async () => {
    const completion = await openai.completions.create({
      model: 'echo',
      prompt: 'a b c d e f g h i j k l m n o p q r s',
    });
    expect(completion.choices[0]?.text).toBe('a b c d e f g h i j k l m n o p'); // 16 tokens by default
    const pieces: string[] = [];
    for await (const chunk of await openai.completions.create({ model: 'echo', prompt: 'x y z', stream: true })) {
      pieces.push(chunk.choices[0]?.text ?? '');
    }
    expect(pieces.join('')).toBe('x y z');
    const embedded = await openai.embeddings.create({
      model: 'attn-lexical-64',
      input: ['vector index', 'chat server'],
    });
    const expected = await new LexicalEmbedder(64).embed(['vector index', 'chat server']);
    expect(embedded.data.map((d) => d.embedding)).toEqual(expected.map((v) => Array.from(v)));
    const models = [];
    for await (const model of openai.models.list()) models.push(model.id);
    expect(models).toEqual(['echo', 'attn-lexical-64']);
  });

  it('reports errors as the openai package expects', async () => {
    const err = await openai.chat.completions
      .create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.NotFoundError);
    expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
  });
});
