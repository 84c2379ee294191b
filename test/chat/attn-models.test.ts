/**
 * attn's own models behind `attn serve` and RAG: the installed tinystories-llama served over /v1/chat/completions
 * and /v1/completions (through ChatClient and the official openai package, on 127.0.0.1), and the installed
 * use-lite sentence encoder behind /v1/embeddings and RAG retrieval. References are computed independently:
 * greedy text from the text-generation pipeline, vectors from UseModel.encode.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AttnChatModel, AttnEmbedder, defaultEmbedderName, fitContextWindow } from '../../src/chat/attn-models.js';
import { ChatClient } from '../../src/chat/client.js';
import { loadChatModel, loadEmbedder, startChatServer, type ChatServer } from '../../src/chat/server.js';
import type { ChatMessage, ChatModel, ChatGenerateOptions, GenerateResult } from '../../src/chat/types.js';
import { UseModel } from '../../src/models/use/modeling_use.js';
import { installedModelsDir, pipeline, type TextGenerationPipeline } from '../../src/pipelines/index.js';
import { retrieve } from '../../src/rag/ask.js';
import { indexFolder } from '../../src/rag/indexer.js';
import { VectorStore } from '../../src/rag/store.js';
import { noGrad } from '../../src/tensor/engine.js';
import { describeWithFiles } from '../helpers/shared.js';
import { QUESTIONS, writeDocuments } from '../rag/fixtures.js';

const LLAMA_DIR = join(installedModelsDir, 'tinystories-llama');
const USE_LITE_DIR = join(installedModelsDir, 'use-lite');

/** A describe block that needs an installed model: skipped, with a message naming the folder, where it is missing. */
function describeWithModel(name: string, dir: string, fn: () => void): void {
  describeWithFiles(name, [join(dir, 'config.json')], fn);
}

/** Forwards to a real model and keeps each generation's result, so a test can see what the server's abort did. */
class RecordingModel implements ChatModel {
  readonly results: GenerateResult[] = [];
  constructor(private readonly inner: ChatModel) {}
  get id(): string {
    return this.inner.id;
  }
  async generate(
    prompt: string | ChatMessage[],
    opts: ChatGenerateOptions,
    onText?: (delta: string) => void,
  ): Promise<GenerateResult> {
    const result = await this.inner.generate(prompt, opts, onText);
    this.results.push(result);
    return result;
  }
}

// Roles as literal types, so the same messages type-check as attn's ChatMessage[] and as the openai package's params.
const STORY = [
  { role: 'system', content: 'You tell short stories for children.' },
  { role: 'user', content: 'Once upon a time there was a cat' },
] satisfies ChatMessage[];

describe('fitContextWindow', () => {
  it('keeps the newest prompt tokens and at least half the window for the prompt', () => {
    expect(fitContextWindow([1, 2, 3], 5, 128)).toEqual({ promptIds: [1, 2, 3], maxNewTokens: 5 });
    // max_tokens far beyond the window: the prompt keeps its half, the reply gets the rest.
    const long = Array.from({ length: 200 }, (_, i) => i);
    expect(fitContextWindow(long, 2048, 128)).toEqual({ promptIds: long.slice(136), maxNewTokens: 64 });
    expect(fitContextWindow([7, 8], 2048, 128)).toEqual({ promptIds: [7, 8], maxNewTokens: 126 });
    expect(() => fitContextWindow([], 4, 128)).toThrow(/prompt is empty/);
  });
});

describeWithModel('attn serve with tinystories-llama', LLAMA_DIR, () => {
  let model: AttnChatModel;
  let recording: RecordingModel;
  let reference: TextGenerationPipeline;
  let server: ChatServer;
  let client: ChatClient;
  let openai: OpenAI;

  /** What greedy decoding gives for `prompt` through the text-generation pipeline (the independent reference). */
  async function greedy(prompt: string, maxNewTokens: number): Promise<string> {
    const [out] = await reference(prompt, { maxNewTokens, doSample: false, returnFullText: false });
    return out!.generated_text;
  }

  beforeAll(async () => {
    model = (await loadChatModel()) as AttnChatModel; // no name: the installed text-generation default
    recording = new RecordingModel(model);
    reference = await pipeline('text-generation', LLAMA_DIR);
    server = await startChatServer({ models: [recording] });
    client = new ChatClient({ baseURL: server.baseURL, apiKey: 'unused', model: 'tinystories-llama', maxRetries: 0 });
    openai = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(() => server?.close());

  it('loads the installed default as an AttnChatModel and formats chats as a transcript (no chat template)', () => {
    expect(model).toBeInstanceOf(AttnChatModel);
    expect(model.id).toBe('tinystories-llama');
    expect(model.promptFor(STORY).text).toBe(
      'system: You tell short stories for children.\nuser: Once upon a time there was a cat\nassistant:',
    );
  });

  it('answers a chat with the greedy text, plain and streamed, through ChatClient', async () => {
    const expected = await greedy(model.promptFor(STORY).text, 12);
    expect(expected.trim().length).toBeGreaterThan(0);
    const plain = await client.chat({ messages: STORY, maxTokens: 12, temperature: 0 });
    expect(plain.text).toBe(expected);
    expect(plain.finishReason).toBe('length');
    expect(plain.usage?.completionTokens).toBe(12);
    expect(plain.usage?.promptTokens).toBe(model['generator'].tokenizer.encodeIds(model.promptFor(STORY).text).length);

    let streamed = '';
    let pieces = 0;
    for await (const chunk of client.stream({ messages: STORY, maxTokens: 12, temperature: 0 })) {
      streamed += chunk.delta;
      if (chunk.delta) pieces++;
    }
    expect(streamed).toBe(expected);
    expect(pieces).toBeGreaterThan(1); // text arrives as it is generated, not in one piece
  });

  it('answers through the official openai package: chat, stream and raw completion', async () => {
    const completion = await openai.chat.completions.create({
      model: 'tinystories-llama',
      messages: STORY,
      max_tokens: 8,
      temperature: 0,
    });
    expect(completion.choices[0]?.message.content).toBe(await greedy(model.promptFor(STORY).text, 8));

    const stream = await openai.chat.completions.create({
      model: 'tinystories-llama',
      messages: STORY,
      max_tokens: 8,
      temperature: 0,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe(completion.choices[0]?.message.content);

    const prompt = 'Once upon a time, there was a little dog named';
    const raw = await openai.completions.create({ model: 'tinystories-llama', prompt, max_tokens: 8, temperature: 0 });
    expect(raw.choices[0]?.text).toBe(await greedy(prompt, 8));
  });

  it('cuts the text at a stop string', async () => {
    const prompt = 'Once upon a time, there was a little girl named Lily.';
    const full = await greedy(prompt, 16);
    const words = full.trim().split(/\s+/);
    const stop = ` ${words[2]}`; // a word from the middle of the greedy text
    const cut = full.slice(0, full.indexOf(stop));
    const result = await client.complete(prompt, { maxTokens: 16, temperature: 0, stop: [stop] });
    expect(result.text).toBe(cut);
    expect(result.finishReason).toBe('stop');
  });

  it('samples with temperature and a seed: the same seed gives the same text', async () => {
    const ask = (seed: number) => client.chat({ messages: STORY, maxTokens: 10, temperature: 1, seed });
    const [a, b] = [await ask(7), await ask(7)];
    expect(a.text).toBe(b.text);
    const others = await Promise.all([1, 2, 3].map((seed) => ask(seed)));
    expect(others.some((o) => o.text !== a.text)).toBe(true);
  });

  it('stops generating promptly when aborted', async () => {
    const controller = new AbortController();
    let deltas = 0;
    const result = await model.generate(
      'Once upon a time',
      { maxTokens: 60, temperature: 0, topP: 1, stop: [], signal: controller.signal },
      () => {
        if (++deltas === 3) controller.abort();
      },
    );
    expect(result.finishReason).toBe('stop');
    // The abort lands between two tokens: at most one more is computed and none is streamed after it.
    expect(result.usage.completionTokens).toBeLessThanOrEqual(4);
    expect(deltas).toBe(3);
  });

  it('stops the generation when a streaming client leaves', async () => {
    // Unaborted, greedy decoding tells a story of some length before its end-of-text token...
    const whole = await client.chat({ messages: STORY, maxTokens: 100, temperature: 0 });
    expect(whole.usage!.completionTokens).toBeGreaterThan(20);
    recording.results.length = 0;
    for await (const chunk of client.stream({ messages: STORY, maxTokens: 100, temperature: 0 })) {
      if (chunk.delta) break; // leaving the loop closes the connection
    }
    for (let i = 0; i < 500 && recording.results.length === 0; i++)
      await new Promise((resolve) => setTimeout(resolve, 10));
    // ...which the same request, left after its first piece, does not finish.
    expect(recording.results).toHaveLength(1);
    expect(recording.results[0]!.usage.completionTokens).toBeLessThan(whole.usage!.completionTokens);
  });
});

describeWithModel('use-lite behind /v1/embeddings and RAG', USE_LITE_DIR, () => {
  const texts = [
    'How do I reset my password?',
    'The cat sat on the mat.',
    'Vector indexes answer nearest-neighbour queries.',
  ];
  let embedder: AttnEmbedder;
  let encoder: UseModel;
  let server: ChatServer;

  beforeAll(async () => {
    embedder = (await loadEmbedder()) as AttnEmbedder; // no name: the installed sentence encoder
    encoder = await UseModel.fromPretrained(USE_LITE_DIR);
    server = await startChatServer({ models: [], embedders: [embedder] });
  });
  afterAll(() => server?.close());

  it('is the default embedder, 512-d', () => {
    expect(defaultEmbedderName()).toBe('use-lite');
    expect(embedder).toBeInstanceOf(AttnEmbedder);
    expect(embedder.id).toBe('use-lite');
    expect(embedder.dimension).toBe(512);
  });

  it('serves unit vectors equal to the encoder’s, through ChatClient (float) and openai (base64)', async () => {
    const expected = noGrad(() => encoder.encode(texts, { normalize: true }));
    const rows = texts.map((_, i) => expected.data.subarray(i * 512, (i + 1) * 512));
    const client = new ChatClient({ baseURL: server.baseURL, apiKey: 'unused', model: 'use-lite', maxRetries: 0 });
    const viaClient = await client.embed(texts);
    const openai = new OpenAI({ baseURL: server.baseURL, apiKey: 'unused', maxRetries: 0 });
    const viaOpenai = (await openai.embeddings.create({ model: 'use-lite', input: texts })).data.map(
      (d) => d.embedding,
    );
    for (const [i, row] of rows.entries()) {
      expect(viaClient[i]!.length).toBe(512);
      expect(Math.hypot(...viaClient[i]!)).toBeCloseTo(1, 5);
      for (let j = 0; j < 512; j++) {
        expect(viaClient[i]![j]).toBeCloseTo(row[j]!, 5);
        expect(viaOpenai[i]![j]).toBeCloseTo(row[j]!, 5);
      }
    }
  });

  it('retrieves the right chunk first for at least 8 of 10 questions', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'attn-rag-use-'));
    try {
      writeDocuments(folder);
      const store = await VectorStore.open(join(folder, '.index.sqlite'), {
        embedderId: embedder.id,
        dimension: embedder.dimension,
        root: folder,
      });
      await indexFolder(store, embedder, { chunk: { maxChars: 300, overlapChars: 60 } });
      const misses: string[] = [];
      for (const q of QUESTIONS) {
        const [top] = await retrieve(store, embedder, q.question, 3);
        if (top?.path !== q.path || !top.text.includes(q.answerPhrase))
          misses.push(`${q.question} → ${top?.path}: ${top?.text.slice(0, 60)}`);
      }
      store.close();
      expect(misses.length, misses.join('\n')).toBeLessThanOrEqual(2);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});
