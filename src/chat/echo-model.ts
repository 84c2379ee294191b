import type { ChatMessage, ChatModel, ChatGenerateOptions, GenerateResult } from './types.js';

/** Word pieces with their leading whitespace, so that pieces concatenate back to the text. */
export function wordPieces(text: string): string[] {
  return text.match(/\s*\S+/g) ?? [];
}

/** mulberry32: a small seeded generator, so sampled output is reproducible from `seed`. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Waits `ms`, or at least one event-loop turn, so that a long generation never starves other requests. */
const pause = (ms: number): Promise<void> =>
  new Promise((resolve) => (ms > 0 ? setTimeout(resolve, ms) : setImmediate(resolve)));

export interface EchoModelOptions {
  id?: string;
  /** Delay before each word, so streaming, queueing and cancellation can be observed. */
  tokenDelayMs?: number;
}

/**
 * A deterministic stand-in language model for the server, the client and the load test while real models are
 * wired: it answers with the last user message (or the raw prompt), one word piece per token. Given a `seed` and
 * temperature > 0 it instead samples `maxTokens` pieces of that text with a PRNG seeded by `seed`, so tests can
 * see the sampling options reach the model (without a seed it stays an echo whatever the temperature, since
 * OpenAI's default temperature is 1). Its "tokens" are the word pieces, for usage figures too.
 */
export class EchoChatModel implements ChatModel {
  readonly id: string;
  private readonly tokenDelayMs: number;
  /** Generations that ended because their signal aborted (a disconnecting client, a stop string). */
  abortedGenerations = 0;

  constructor(options: EchoModelOptions = {}) {
    this.id = options.id ?? 'echo';
    this.tokenDelayMs = options.tokenDelayMs ?? 0;
  }

  async generate(
    prompt: string | ChatMessage[],
    opts: ChatGenerateOptions,
    onText?: (delta: string) => void,
  ): Promise<GenerateResult> {
    const source = typeof prompt === 'string' ? prompt : lastUserText(prompt);
    const promptTokens =
      typeof prompt === 'string'
        ? wordPieces(prompt).length
        : prompt.reduce((n, m) => n + wordPieces(m.content).length, 0);
    const pieces = wordPieces(source.trimStart());
    const random = seededRandom(opts.seed ?? 0);
    const sampling = opts.seed !== undefined && opts.temperature > 0 && pieces.length > 0;
    const target = sampling ? opts.maxTokens : Math.min(pieces.length, opts.maxTokens);
    let text = '';
    let produced = 0;
    while (produced < target) {
      await pause(this.tokenDelayMs);
      if (opts.signal.aborted) {
        this.abortedGenerations++;
        return { text, finishReason: 'stop', usage: { promptTokens, completionTokens: produced } };
      }
      let piece = sampling ? pieces[Math.floor(random() * pieces.length)]! : pieces[produced]!;
      if (produced === 0) piece = piece.trimStart();
      else if (sampling && !/^\s/.test(piece)) piece = ` ${piece}`;
      text += piece;
      produced++;
      onText?.(piece);
    }
    const finishReason = produced < pieces.length || sampling ? 'length' : 'stop';
    return { text, finishReason, usage: { promptTokens, completionTokens: produced } };
  }
}

function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) if (messages[i]!.role === 'user') return messages[i]!.content;
  return '';
}
