/**
 * An OpenAI-compatible HTTP server for attn models: /v1/chat/completions, /v1/completions (both streaming and
 * not), /v1/embeddings and /v1/models, shaped like the OpenAI API so its official client works unchanged.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LexicalEmbedder } from './lexical-embedder.js';
import { decodeUrlComponent, MALFORMED_URL_MESSAGE, parseRequestUrl } from '../util/request-url.js';
import { AttnChatModel, AttnEmbedder, DEFAULT_CHAT_MODEL, defaultEmbedderName } from './attn-models.js';
import { EchoChatModel, wordPieces } from './echo-model.js';
import { ConcurrencyLimiter, QueueFullError } from './limiter.js';
import { StopStringFilter } from './stop-filter.js';
import type { ChatMessage, ChatModel, ChatRole, Embedder, FinishReason, GenerateResult } from './types.js';

/**
 * The hook where models plug into `attn serve`: `echo` / `echo:<N>ms` (the built-in test model), else a model
 * folder, installed model name or hub id loaded as an attn causal LM. Without a name, the installed
 * text-generation default (models/tinystories-llama).
 */
export async function loadChatModel(nameOrDir: string = DEFAULT_CHAT_MODEL): Promise<ChatModel> {
  const echo = /^echo(?::(\d+)ms)?$/.exec(nameOrDir);
  if (echo) return new EchoChatModel({ id: 'echo', tokenDelayMs: echo[1] === undefined ? 0 : Number(echo[1]) });
  return AttnChatModel.load(nameOrDir);
}

/**
 * The same hook for /v1/embeddings and RAG: an embedder name, or the id of an embedder (as a RAG index records
 * it) → an Embedder. `lexical` / `attn-lexical-<dimension>` are the built-in lexical embedder; anything else is a
 * sentence encoder (folder, installed name, hub id). Without a name: models/use-lite when installed, else lexical.
 */
export async function loadEmbedder(nameOrId: string = defaultEmbedderName()): Promise<Embedder> {
  if (nameOrId === 'lexical') return new LexicalEmbedder();
  const lexical = /^attn-lexical-(\d+)$/.exec(nameOrId);
  if (lexical) return new LexicalEmbedder(Number(lexical[1]));
  return AttnEmbedder.load(nameOrId);
}

export interface ChatServerOptions {
  models: ChatModel[];
  embedders?: Embedder[];
  /** Default 127.0.0.1: serving beyond this machine is an explicit choice. */
  host?: string;
  /** Default 0: any free port (see `ChatServer.url`). */
  port?: number;
  /** When set, requests must send `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Generations (and embedding calls) running at once. Default 4. */
  maxConcurrent?: number;
  /** Requests waiting for a slot beyond those; more are answered 429. Default 256. */
  maxQueued?: number;
  /** Largest accepted request body. Default 1 MiB. */
  maxBodyBytes?: number;
  /** Upper bound on max_tokens, and the default for chat requests that give none. Default 2048. */
  maxTokensLimit?: number;
  /**
   * Streamed bytes a client may leave unread before it is dropped and its generation cancelled, so a stalled
   * reader cannot hold a slot and grow memory forever. Default 4 MiB.
   */
  maxUnreadBytes?: number;
}

export interface ChatServerStats {
  active: number;
  queued: number;
  completed: number;
  /** Generations stopped because their client went away (or read too slowly). */
  cancelled: number;
  /** Requests answered with an error status. */
  failed: number;
}

export interface ChatServer {
  /** e.g. http://127.0.0.1:41234/v1 — what an OpenAI client takes as its base URL. */
  readonly baseURL: string;
  readonly port: number;
  stats(): ChatServerStats;
  close(): Promise<void>;
}

/** An error answered as OpenAI's `{ error: { message, type, param, code } }`. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get type(): string {
    if (this.status === 401) return 'authentication_error';
    if (this.status === 429) return 'rate_limit_error';
    if (this.status >= 500) return 'server_error';
    return 'invalid_request_error';
  }
}

const ROLES: ReadonlySet<string> = new Set<ChatRole>(['system', 'developer', 'user', 'assistant', 'tool']);
const MAX_STOP_STRINGS = 4;

interface SamplingParams {
  maxTokens: number;
  temperature: number;
  topP: number;
  stop: string[];
  seed?: number;
  stream: boolean;
  includeUsage: boolean;
}

type Body = Record<string, unknown>;

function optionalNumber(body: Body, field: string, min: number, max: number, integer = false): number | undefined {
  const value = body[field];
  if (value === undefined || value === null) return undefined;
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    value > max ||
    (integer && !Number.isInteger(value))
  ) {
    const kind = integer ? 'an integer' : 'a number';
    throw new ApiError(
      400,
      `'${field}' must be ${kind} from ${min} to ${max}, got ${JSON.stringify(value)}`,
      'invalid_value',
      field,
    );
  }
  return value;
}

function readSampling(body: Body, defaultMaxTokens: number, maxTokensLimit: number): SamplingParams {
  optionalNumber(body, 'n', 1, 1, true); // only one choice per request is served
  const maxTokens =
    optionalNumber(body, 'max_completion_tokens', 1, maxTokensLimit, true) ??
    optionalNumber(body, 'max_tokens', 1, maxTokensLimit, true) ??
    defaultMaxTokens;
  const stopField = body.stop;
  let stop: string[] = [];
  if (typeof stopField === 'string') stop = [stopField];
  else if (
    Array.isArray(stopField) &&
    stopField.length <= MAX_STOP_STRINGS &&
    stopField.every((s) => typeof s === 'string')
  ) {
    stop = stopField as string[];
  } else if (stopField !== undefined && stopField !== null) {
    throw new ApiError(
      400,
      `'stop' must be a string or an array of up to ${MAX_STOP_STRINGS} strings`,
      'invalid_value',
      'stop',
    );
  }
  if (stop.some((s) => s.length === 0))
    throw new ApiError(400, `'stop' strings must not be empty`, 'invalid_value', 'stop');
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') {
    throw new ApiError(
      400,
      `'stream' must be a boolean, got ${JSON.stringify(body.stream)}`,
      'invalid_value',
      'stream',
    );
  }
  const streamOptions = body.stream_options as { include_usage?: unknown } | undefined | null;
  return {
    maxTokens,
    temperature: optionalNumber(body, 'temperature', 0, 2) ?? 1,
    topP: optionalNumber(body, 'top_p', 0, 1) ?? 1,
    stop,
    seed: optionalNumber(body, 'seed', Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER, true),
    stream: body.stream === true,
    includeUsage: streamOptions?.include_usage === true,
  };
}

/** Message content is a string or OpenAI's array of parts; only text parts can be served. */
function contentText(content: unknown, param: string): string {
  if (typeof content === 'string') return content;
  if (content === null || content === undefined) return '';
  if (Array.isArray(content)) {
    return content
      .map((part: unknown, i) => {
        const p = part as { type?: unknown; text?: unknown };
        if (p?.type === 'text' && typeof p.text === 'string') return p.text;
        throw new ApiError(
          400,
          `${param}[${i}]: only {type: "text"} content parts are supported`,
          'invalid_value',
          `${param}[${i}]`,
        );
      })
      .join('');
  }
  throw new ApiError(400, `${param} must be a string or an array of text parts`, 'invalid_value', param);
}

function readMessages(body: Body): ChatMessage[] {
  const raw = body.messages;
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new ApiError(400, `'messages' must be a non-empty array of {role, content}`, 'invalid_value', 'messages');
  }
  return raw.map((m: unknown, i) => {
    const message = m as Record<string, unknown>;
    if (typeof message?.role !== 'string' || !ROLES.has(message.role)) {
      throw new ApiError(
        400,
        `messages[${i}].role must be one of ${[...ROLES].join(', ')}, got ${JSON.stringify(message?.role)}`,
        'invalid_value',
        `messages[${i}].role`,
      );
    }
    const out: ChatMessage = {
      role: message.role as ChatRole,
      content: contentText(message.content, `messages[${i}].content`),
    };
    if (typeof message.tool_call_id === 'string') out.tool_call_id = message.tool_call_id;
    if (Array.isArray(message.tool_calls)) out.tool_calls = message.tool_calls as ChatMessage['tool_calls'];
    if (typeof message.name === 'string') out.name = message.name;
    return out;
  });
}

function readPrompt(body: Body): string {
  const prompt = body.prompt;
  if (typeof prompt === 'string') return prompt;
  if (Array.isArray(prompt) && prompt.length === 1 && typeof prompt[0] === 'string') return prompt[0];
  throw new ApiError(400, `'prompt' must be a string (or an array of exactly one string)`, 'invalid_value', 'prompt');
}

function readInputs(body: Body): string[] {
  const input = body.input;
  if (typeof input === 'string') return [input];
  if (Array.isArray(input) && input.length > 0 && input.every((s) => typeof s === 'string')) return input as string[];
  throw new ApiError(
    400,
    `'input' must be a string or a non-empty array of strings (token arrays are not supported)`,
    'invalid_value',
    'input',
  );
}

/** How one endpoint's responses and stream chunks look: chat completions and text completions differ only here. */
interface ResponseShape {
  idPrefix: string;
  object: string;
  chunkObject: string;
  choice(text: string, finishReason: FinishReason): object;
  chunkChoice(delta: string, finishReason: FinishReason | null): object;
  /** Sent once before any text (the chat stream announces the assistant role). */
  firstChunkChoice?: object;
}

const CHAT_SHAPE: ResponseShape = {
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  choice: (text, finishReason) => ({
    index: 0,
    message: { role: 'assistant', content: text, refusal: null },
    logprobs: null,
    finish_reason: finishReason,
  }),
  chunkChoice: (delta, finishReason) => ({
    index: 0,
    delta: finishReason === null ? { content: delta } : {},
    logprobs: null,
    finish_reason: finishReason,
  }),
  firstChunkChoice: { index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
};

const TEXT_SHAPE: ResponseShape = {
  idPrefix: 'cmpl-',
  object: 'text_completion',
  chunkObject: 'text_completion',
  choice: (text, finishReason) => ({ index: 0, text, logprobs: null, finish_reason: finishReason }),
  chunkChoice: (delta, finishReason) => ({ index: 0, text: delta, logprobs: null, finish_reason: finishReason }),
};

function usageJson(usage: GenerateResult['usage']): object {
  return {
    prompt_tokens: usage.promptTokens,
    completion_tokens: usage.completionTokens,
    total_tokens: usage.promptTokens + usage.completionTokens,
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function errorBody(err: ApiError): object {
  return { error: { message: err.message, type: err.type, param: err.param, code: err.code } };
}

function readBody(req: IncomingMessage, maxBytes: number): Promise<Body> {
  const tooLarge = (): ApiError =>
    new ApiError(413, `request body is larger than the ${maxBytes}-byte limit`, 'request_too_large', null, {
      connection: 'close',
    });
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        // Stop buffering; the connection is closed after the 413 answer.
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
      } else chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > maxBytes) return;
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch (err) {
        reject(new ApiError(400, `request body is not valid JSON: ${(err as Error).message}`, 'invalid_json'));
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        reject(new ApiError(400, 'request body must be a JSON object', 'invalid_json'));
      } else resolve(parsed as Body);
    });
    req.on('error', reject);
  });
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '::1', '[::1]'];

export async function startChatServer(options: ChatServerOptions): Promise<ChatServer> {
  const models = new Map(options.models.map((m) => [m.id, m]));
  const embedders = new Map((options.embedders ?? []).map((e) => [e.id, e]));
  const limiter = new ConcurrencyLimiter(options.maxConcurrent ?? 4, options.maxQueued ?? 256);
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const maxTokensLimit = options.maxTokensLimit ?? 2048;
  const maxUnreadBytes = options.maxUnreadBytes ?? 4 * 1024 * 1024;
  const expectedKey = options.apiKey === undefined ? undefined : digest(options.apiKey);
  const listensOnLoopback = LOOPBACK_NAMES.includes(options.host ?? '127.0.0.1');
  const counters = { completed: 0, cancelled: 0, failed: 0 };

  function checkApiKey(req: IncomingMessage): void {
    if (expectedKey === undefined) return;
    const header = req.headers.authorization ?? '';
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match)
      throw new ApiError(401, 'Missing API key: send it as "Authorization: Bearer <key>".', 'missing_api_key');
    // Compare digests: equal length, constant time, and the key itself never reaches an error message.
    if (!timingSafeEqual(digest(match[1]!.trim()), expectedKey))
      throw new ApiError(401, 'Incorrect API key provided.', 'invalid_api_key');
  }

  /**
   * A web page elsewhere can make a browser POST here (a form, a no-CORS fetch) and spend this server's compute or
   * an API key the browser does not hold: requests that change or cost something must come from no page (API
   * clients send no Origin) or from this server's own host.
   */
  function checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (origin === undefined || req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    const originHost = URL.canParse(origin) ? new URL(origin).host : undefined;
    // DNS rebinding: a foreign name resolved to 127.0.0.1 makes Origin and Host agree, so a server bound to this
    // machine only also wants a Host that names this machine.
    const hostname = (req.headers.host ?? '').replace(/:\d+$/, '');
    if (originHost !== req.headers.host || (listensOnLoopback && !LOOPBACK_NAMES.includes(hostname))) {
      throw new ApiError(
        403,
        `requests from web pages at ${origin} are not served: call the API from a program, or from a page on this host`,
        'forbidden_origin',
      );
    }
  }

  function findModel(body: Body): ChatModel {
    const name = body.model;
    if (typeof name !== 'string')
      throw new ApiError(
        400,
        `'model' must be a string naming one of: ${[...models.keys()].join(', ')}`,
        'invalid_value',
        'model',
      );
    const model = models.get(name);
    if (!model)
      throw new ApiError(
        404,
        `The model '${name}' does not exist; this server has: ${[...models.keys()].join(', ')}`,
        'model_not_found',
        'model',
      );
    return model;
  }

  /** A controller aborted when the client goes away before its response is complete. */
  function clientGone(res: ServerResponse): AbortController {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    return controller;
  }

  async function acquireSlot(signal: AbortSignal): Promise<() => void> {
    try {
      return await limiter.acquire(signal);
    } catch (err) {
      if (err instanceof QueueFullError)
        throw new ApiError(429, `${err.message}; retry shortly`, 'server_busy', null, { 'retry-after': '1' });
      throw err;
    }
  }

  async function serveGeneration(
    res: ServerResponse,
    model: ChatModel,
    prompt: string | ChatMessage[],
    params: SamplingParams,
    shape: ResponseShape,
  ): Promise<void> {
    const client = clientGone(res);
    let release: () => void;
    try {
      release = await acquireSlot(client.signal);
    } catch (err) {
      if (client.signal.aborted) return; // left while queued: nothing to answer, nothing was generated
      throw err;
    }
    const id = `${shape.idPrefix}${randomUUID().replaceAll('-', '')}`;
    const created = Math.floor(Date.now() / 1000);
    const writeChunk = (choices: object[], extra: object = {}): void => {
      res.write(
        `data: ${JSON.stringify({ id, object: shape.chunkObject, created, model: model.id, system_fingerprint: null, choices, ...extra })}\n\n`,
      );
      if (res.writableLength > maxUnreadBytes) client.abort(new Error('client reads too slowly'));
    };
    const stopSeen = new AbortController();
    const filter = new StopStringFilter(params.stop);
    let text = '';
    const emit = (delta: string): void => {
      if (delta.length === 0) return;
      text += delta;
      if (params.stream && !client.signal.aborted) writeChunk([shape.chunkChoice(delta, null)]);
    };
    try {
      if (params.stream) {
        res.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        if (shape.firstChunkChoice) writeChunk([shape.firstChunkChoice]);
      }
      const result = await model.generate(
        prompt,
        { ...params, signal: AbortSignal.any([client.signal, stopSeen.signal]) },
        (delta) => {
          emit(filter.push(delta));
          if (filter.stopped) stopSeen.abort();
        },
      );
      if (client.signal.aborted) {
        counters.cancelled++;
        res.destroy();
        return;
      }
      emit(filter.flush());
      const finishReason: FinishReason = filter.stopped ? 'stop' : result.finishReason;
      counters.completed++;
      if (params.stream) {
        writeChunk([shape.chunkChoice('', finishReason)]);
        if (params.includeUsage) writeChunk([], { usage: usageJson(result.usage) });
        res.end('data: [DONE]\n\n');
      } else {
        sendJson(res, 200, {
          id,
          object: shape.object,
          created,
          model: model.id,
          system_fingerprint: null,
          choices: [shape.choice(text, finishReason)],
          usage: usageJson(result.usage),
        });
      }
    } catch (err) {
      if (client.signal.aborted) {
        counters.cancelled++;
        res.destroy();
      } else if (res.headersSent) {
        // Mid-stream the status is already 200: report the failure as an error event, as OpenAI does.
        counters.failed++;
        res.end(
          `data: ${JSON.stringify(errorBody(new ApiError(500, `generation failed: ${(err as Error).message}`)))}\n\n`,
        );
      } else throw err;
    } finally {
      release();
    }
  }

  async function serveEmbeddings(res: ServerResponse, body: Body): Promise<void> {
    const name = body.model;
    const embedder = typeof name === 'string' ? embedders.get(name) : undefined;
    if (!embedder) {
      const have = [...embedders.keys()].join(', ') || '(none)';
      throw new ApiError(
        404,
        `The embedding model ${JSON.stringify(name)} does not exist; this server has: ${have}`,
        'model_not_found',
        'model',
      );
    }
    const inputs = readInputs(body);
    const format = body.encoding_format ?? 'float';
    if (format !== 'float' && format !== 'base64') {
      throw new ApiError(
        400,
        `'encoding_format' must be 'float' or 'base64', got ${JSON.stringify(format)}`,
        'invalid_value',
        'encoding_format',
      );
    }
    const client = clientGone(res);
    const release = await acquireSlot(client.signal);
    try {
      const vectors = await embedder.embed(inputs);
      const data = vectors.map((vector, index) => ({
        object: 'embedding',
        index,
        // base64 is little-endian float32 bytes, which is what the openai client asks for by default.
        embedding:
          format === 'base64'
            ? Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64')
            : Array.from(vector),
      }));
      const promptTokens = inputs.reduce((n, text) => n + wordPieces(text).length, 0);
      counters.completed++;
      sendJson(res, 200, {
        object: 'list',
        data,
        model: embedder.id,
        usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
      });
    } finally {
      release();
    }
  }

  function modelObject(id: string): object {
    return { id, object: 'model', created: 0, owned_by: 'attn' };
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseRequestUrl(req.url);
    if (url === undefined) throw new ApiError(400, MALFORMED_URL_MESSAGE, 'invalid_url');
    const path = url.pathname.replace(/\/+$/, '');
    if (!path.startsWith('/v1/'))
      throw new ApiError(404, `Unknown path ${path}: the API lives under /v1/`, 'unknown_url');
    checkApiKey(req);
    checkOrigin(req);
    const endpoint = `${req.method} ${path}`;
    if (endpoint === 'GET /v1/models') {
      sendJson(res, 200, { object: 'list', data: [...models.keys(), ...embedders.keys()].map(modelObject) });
      return;
    }
    const modelPath = /^GET \/v1\/models\/(.+)$/.exec(endpoint);
    if (modelPath) {
      const id = decodeUrlComponent(modelPath[1]!);
      if (id === undefined) throw new ApiError(400, MALFORMED_URL_MESSAGE, 'invalid_url');
      if (!models.has(id) && !embedders.has(id))
        throw new ApiError(404, `The model '${id}' does not exist`, 'model_not_found', 'model');
      sendJson(res, 200, modelObject(id));
      return;
    }
    const post = { chat: 'POST /v1/chat/completions', text: 'POST /v1/completions', embeddings: 'POST /v1/embeddings' };
    if (endpoint === post.embeddings) return serveEmbeddings(res, await readBody(req, maxBodyBytes));
    if (endpoint === post.chat) {
      const body = await readBody(req, maxBodyBytes);
      const model = findModel(body);
      return serveGeneration(
        res,
        model,
        readMessages(body),
        readSampling(body, maxTokensLimit, maxTokensLimit),
        CHAT_SHAPE,
      );
    }
    if (endpoint === post.text) {
      const body = await readBody(req, maxBodyBytes);
      const model = findModel(body);
      // OpenAI's legacy completions default to 16 tokens.
      return serveGeneration(
        res,
        model,
        readPrompt(body),
        readSampling(body, Math.min(16, maxTokensLimit), maxTokensLimit),
        TEXT_SHAPE,
      );
    }
    const known = Object.values(post).find((e) => e.endsWith(` ${path}`));
    if (known) throw new ApiError(405, `${path} takes ${known.split(' ')[0]}, not ${req.method}`, 'method_not_allowed');
    throw new ApiError(404, `Unknown endpoint ${endpoint}`, 'unknown_url');
  }

  const server: Server = createServer((req, res) => {
    route(req, res).catch((err: unknown) => {
      const apiError =
        err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error)?.message ?? String(err)}`);
      counters.failed++;
      if (res.headersSent) res.destroy();
      else sendJson(res, apiError.status, errorBody(apiError), apiError.headers);
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;

  return {
    baseURL: `http://${hostForUrl}:${address.port}/v1`,
    port: address.port,
    stats: () => ({ active: limiter.active, queued: limiter.queued, ...counters }),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
