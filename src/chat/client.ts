/**
 * A client for any OpenAI-compatible chat API (OpenAI itself, `attn serve`, local servers): plain and streamed
 * chat completions, text completions, embeddings; retries with backoff on 429 / 5xx honouring Retry-After;
 * timeouts and cancellation. The API key is kept in a private field and never appears in logs or errors.
 */
import type { ChatMessage, FinishReason } from './types.js';

export interface ChatClientOptions {
  /** Default: $OPENAI_BASE_URL, else https://api.openai.com/v1. */
  baseURL?: string;
  /** Default: $OPENAI_API_KEY; none is sent when neither is set. */
  apiKey?: string;
  /** Model used when a request names none. Default: $OPENAI_MODEL. */
  model?: string;
  /** Per attempt: the whole call, or for streams the longest wait between two chunks. Default 60 s. */
  timeoutMs?: number;
  /** Retries after the first attempt on 408 / 429 / 5xx, timeouts and network errors. Default 2. */
  maxRetries?: number;
  /** First backoff delay, doubled each retry (with jitter) unless the server sends Retry-After. Default 500 ms. */
  retryBaseDelayMs?: number;
  /** Longest wait before a retry, Retry-After included. Default 30 s. */
  maxRetryDelayMs?: number;
}

export interface Usage {
  promptTokens: number;
  completionTokens: number;
  totalTokens: number;
}

export interface SamplingOptions {
  model?: string;
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  stop?: string | string[];
  seed?: number;
  signal?: AbortSignal;
  /** Overrides the client's timeout for this call. */
  timeoutMs?: number;
}

export interface ChatRequest extends SamplingOptions {
  messages: ChatMessage[];
  /** Passed through as OpenAI `tools` (function definitions). */
  tools?: unknown[];
}

export interface ChatResult {
  id: string;
  model: string;
  text: string;
  /** The assistant message, ready to append to the history (with `tool_calls` when the model called tools). */
  message: ChatMessage;
  finishReason: FinishReason | 'tool_calls' | 'content_filter' | null;
  usage?: Usage;
}

export interface ChatStreamChunk {
  /** New text; empty on chunks that only carry the role, the finish reason or usage. */
  delta: string;
  finishReason: ChatResult['finishReason'];
  /** On the last chunk, when the server reports usage for streams. */
  usage?: Usage;
}

export interface CompletionResult {
  text: string;
  finishReason: ChatResult['finishReason'];
  usage?: Usage;
}

/** An error answer from the API (`status` set) or a failure to get one (`status` undefined: network, timeout). */
export class ChatApiError extends Error {
  constructor(
    message: string,
    readonly status: number | undefined,
    /** The provider's own message, when it sent one. */
    readonly providerMessage?: string,
    /** The provider's error code (e.g. `invalid_api_key`, `model_not_found`), or `timeout` / `network`. */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'ChatApiError';
  }
}

const RETRYABLE_STATUS = new Set([408, 409, 429, 500, 502, 503, 504]);

const HINTS: Record<number, string> = {
  401: 'check the API key (OPENAI_API_KEY or the apiKey option)',
  403: 'the API key is not allowed to do this',
  404: 'check the model name and the base URL (OPENAI_BASE_URL)',
};

interface OpenAIUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

const toUsage = (u: OpenAIUsage | undefined | null): Usage | undefined =>
  u ? { promptTokens: u.prompt_tokens, completionTokens: u.completion_tokens, totalTokens: u.total_tokens } : undefined;

/** A timer that aborts its signal after `ms` of silence; `touch()` restarts the wait. */
class IdleDeadline {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly ms: number) {
    this.touch();
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  touch(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(new Error(`no answer within ${this.ms} ms`)), this.ms);
  }

  clear(): void {
    clearTimeout(this.timer);
  }
}

function abortableSleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Retry-After in seconds or as an HTTP date (and the non-standard retry-after-ms), in milliseconds. */
function retryAfterMs(headers: Headers): number | undefined {
  const ms = Number(headers.get('retry-after-ms'));
  if (headers.has('retry-after-ms') && Number.isFinite(ms) && ms >= 0) return ms;
  const value = headers.get('retry-after');
  if (value === null) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/** Server-sent events from a response body: the `data` of each event, in order. */
async function* sseData(body: ReadableStream<Uint8Array>, onBytes: () => void): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  for await (const bytes of body) {
    onBytes();
    buffer += decoder.decode(bytes, { stream: true });
    let newline: number;
    while ((newline = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, newline).replace(/\r$/, '');
      buffer = buffer.slice(newline + 1);
      if (line === '') {
        if (data.length > 0) yield data.join('\n');
        data = [];
      } else if (line.startsWith('data:')) {
        data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
      } // comments (":") and other fields (event, id, retry) carry nothing a chat stream needs
    }
  }
  if (data.length > 0) yield data.join('\n');
}

export class ChatClient {
  readonly baseURL: string;
  readonly model: string | undefined;
  readonly #apiKey: string | undefined;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(options: ChatClientOptions = {}) {
    this.baseURL = (options.baseURL ?? process.env.OPENAI_BASE_URL ?? 'https://api.openai.com/v1').replace(/\/+$/, '');
    this.#apiKey = options.apiKey ?? process.env.OPENAI_API_KEY;
    this.model = options.model ?? process.env.OPENAI_MODEL;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 500;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 30_000;
  }

  async chat(request: ChatRequest): Promise<ChatResult> {
    const json = (await this.postJson('/chat/completions', this.chatBody(request, false), request)) as {
      id: string;
      model: string;
      choices: { message: ChatMessage & { content: string | null }; finish_reason: ChatResult['finishReason'] }[];
      usage?: OpenAIUsage;
    };
    const choice = json.choices?.[0];
    if (!choice) throw new ChatApiError(`${this.baseURL}/chat/completions answered without choices`, 200);
    const message: ChatMessage = { role: 'assistant', content: choice.message.content ?? '' };
    if (choice.message.tool_calls) message.tool_calls = choice.message.tool_calls;
    return {
      id: json.id,
      model: json.model,
      text: message.content,
      message,
      finishReason: choice.finish_reason,
      usage: toUsage(json.usage),
    };
  }

  /**
   * Streams a chat completion. Leaving the loop early (break, throw) closes the connection, which makes
   * `attn serve` stop generating.
   */
  async *stream(request: ChatRequest): AsyncGenerator<ChatStreamChunk> {
    const body = { ...this.chatBody(request, true), stream_options: { include_usage: true } };
    const { response, deadline, controller } = await this.send('/chat/completions', body, request);
    try {
      for await (const data of sseData(response.body!, () => deadline.touch())) {
        if (data === '[DONE]') return;
        const event = JSON.parse(data) as {
          choices?: { delta?: { content?: string | null }; finish_reason?: ChatResult['finishReason'] }[];
          usage?: OpenAIUsage | null;
          error?: { message?: string; code?: string };
        };
        if (event.error) {
          throw new ChatApiError(
            this.redact(`stream from ${this.baseURL} failed: ${event.error.message}`),
            undefined,
            event.error.message,
            event.error.code,
          );
        }
        const choice = event.choices?.[0];
        const chunk: ChatStreamChunk = {
          delta: choice?.delta?.content ?? '',
          finishReason: choice?.finish_reason ?? null,
        };
        const usage = toUsage(event.usage);
        if (usage) chunk.usage = usage;
        if (chunk.delta !== '' || chunk.finishReason !== null || usage) yield chunk;
      }
    } catch (err) {
      throw this.failure(err, request.signal, deadline, '/chat/completions');
    } finally {
      deadline.clear();
      controller.abort();
    }
  }

  /** A raw text completion (/v1/completions). */
  async complete(prompt: string, options: SamplingOptions = {}): Promise<CompletionResult> {
    const json = (await this.postJson('/completions', { ...this.samplingBody(options), prompt }, options)) as {
      choices: { text: string; finish_reason: ChatResult['finishReason'] }[];
      usage?: OpenAIUsage;
    };
    const choice = json.choices[0]!;
    return { text: choice.text, finishReason: choice.finish_reason, usage: toUsage(json.usage) };
  }

  /** Embeddings (/v1/embeddings), one vector per text, in order. */
  async embed(
    texts: string[],
    options: { model?: string; signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<Float32Array[]> {
    const body = { model: this.modelFor(options.model), input: texts, encoding_format: 'float' };
    const json = (await this.postJson('/embeddings', body, options)) as {
      data: { index: number; embedding: number[] }[];
    };
    return [...json.data].sort((a, b) => a.index - b.index).map((d) => Float32Array.from(d.embedding));
  }

  async listModels(options: { signal?: AbortSignal } = {}): Promise<string[]> {
    const json = (await this.readJson(await this.send('/models', undefined, options), '/models')) as {
      data: { id: string }[];
    };
    return json.data.map((m) => m.id);
  }

  private modelFor(model: string | undefined): string {
    const chosen = model ?? this.model;
    if (!chosen)
      throw new Error(
        'ChatClient: no model given: pass `model` in the request or the client options, or set OPENAI_MODEL',
      );
    return chosen;
  }

  private samplingBody(options: SamplingOptions): Record<string, unknown> {
    return {
      model: this.modelFor(options.model),
      temperature: options.temperature,
      top_p: options.topP,
      max_tokens: options.maxTokens,
      stop: options.stop,
      seed: options.seed,
    };
  }

  private chatBody(request: ChatRequest, stream: boolean): Record<string, unknown> {
    return { ...this.samplingBody(request), messages: request.messages, tools: request.tools, stream };
  }

  private async postJson(
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<unknown> {
    return this.readJson(await this.send(path, body, options), path);
  }

  private async readJson(sent: { response: Response; deadline: IdleDeadline }, path: string): Promise<unknown> {
    try {
      return await sent.response.json();
    } catch (err) {
      throw this.failure(err, undefined, sent.deadline, path);
    } finally {
      sent.deadline.clear();
    }
  }

  /**
   * One request with retries: resolves with a 2xx response whose body is still to be read under `deadline`,
   * or throws a ChatApiError (or the caller's abort reason).
   */
  private async send(
    path: string,
    body: unknown,
    options: { signal?: AbortSignal; timeoutMs?: number },
  ): Promise<{ response: Response; deadline: IdleDeadline; controller: AbortController }> {
    const url = `${this.baseURL}${path}`;
    const headers: Record<string, string> = { accept: 'application/json, text/event-stream' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#apiKey) headers.authorization = `Bearer ${this.#apiKey}`;
    for (let attempt = 0; ; attempt++) {
      const deadline = new IdleDeadline(options.timeoutMs ?? this.timeoutMs);
      const controller = new AbortController();
      const signals = [deadline.signal, controller.signal, ...(options.signal ? [options.signal] : [])];
      let outcome: { error: unknown; retryable: boolean; retryAfterMs?: number };
      try {
        const response = await fetch(url, {
          method: body === undefined ? 'GET' : 'POST',
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: AbortSignal.any(signals),
        });
        if (response.ok) return { response, deadline, controller };
        const error = await this.httpError(response, path);
        outcome = {
          error,
          retryable: RETRYABLE_STATUS.has(response.status),
          retryAfterMs: retryAfterMs(response.headers),
        };
      } catch (err) {
        // Network errors and timeouts are worth another try; the caller's own abort is not.
        outcome = { error: this.failure(err, options.signal, deadline, path), retryable: !options.signal?.aborted };
      }
      deadline.clear();
      if (!outcome.retryable || attempt >= this.maxRetries) throw outcome.error;
      const backoff = this.retryBaseDelayMs * 2 ** attempt * (0.75 + Math.random() * 0.5);
      await abortableSleep(Math.min(outcome.retryAfterMs ?? backoff, this.maxRetryDelayMs), options.signal);
    }
  }

  private async httpError(response: Response, path: string): Promise<ChatApiError> {
    let providerMessage: string | undefined;
    let code: string | undefined;
    const text = await response.text().catch(() => '');
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string; code?: string } | string; message?: string };
      if (typeof parsed.error === 'string') providerMessage = parsed.error;
      else {
        providerMessage = parsed.error?.message ?? parsed.message;
        code = parsed.error?.code ?? undefined;
      }
    } catch {
      providerMessage = text.slice(0, 500) || undefined;
    }
    const hint = HINTS[response.status];
    const message = `${path} failed with ${response.status} ${response.statusText}${providerMessage ? `: ${providerMessage}` : ''}${hint ? ` (${hint})` : ''}`;
    return new ChatApiError(
      this.redact(message),
      response.status,
      providerMessage && this.redact(providerMessage),
      code,
    );
  }

  /** What to throw for a failure without an HTTP answer: the caller's abort as is, else a ChatApiError. */
  private failure(err: unknown, signal: AbortSignal | undefined, deadline: IdleDeadline, path: string): unknown {
    if (err instanceof ChatApiError) return err;
    if (signal?.aborted) return signal.reason;
    if (deadline.signal.aborted) {
      return new ChatApiError(
        `${this.baseURL}${path}: timed out (${(deadline.signal.reason as Error).message})`,
        undefined,
        undefined,
        'timeout',
      );
    }
    const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
    const reason = cause?.code ?? cause?.message ?? (err as Error)?.message ?? String(err);
    return new ChatApiError(
      this.redact(`cannot reach ${this.baseURL}${path}: ${reason}`),
      undefined,
      undefined,
      'network',
    );
  }

  /** Providers sometimes echo the key back ("Incorrect API key provided: sk-..."): it must not reach an error. */
  private redact(text: string): string {
    const key = this.#apiKey;
    return key && key.length >= 4 ? text.split(key).join('***') : text;
  }
}
