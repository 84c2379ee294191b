/**
 * The studio API's HTTP plumbing: JSON bodies with a size limit, JSON answers, server-sent event streams, and the
 * mapping from attn's error classes to statuses whose messages the web page shows as they are.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HubError } from '../hub/errors.js';
import { ConfigError } from '../models/configuration_utils.js';
import { PipelineInputError } from '../pipelines/base.js';
import { ModelLoadError } from '../pipelines/load.js';
import { TokenizerFileError } from '../tokenizers/errors.js';

/** A request the caller must fix: the message is shown in the page. */
export class StudioRequestError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

const JSON_BODY_LIMIT = 1 << 20;

export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > JSON_BODY_LIMIT) throw new StudioRequestError(`request body over ${JSON_BODY_LIMIT} bytes`, 413);
    chunks.push(chunk);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new StudioRequestError(`request body is not JSON (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new StudioRequestError('request body must be a JSON object');
  return parsed as Record<string, unknown>;
}

/** A string field of a body or query, trimmed; missing or empty is an error naming the field unless `optional`. */
export function stringField(
  source: Record<string, unknown> | URLSearchParams,
  name: string,
  optional: true,
): string | undefined;
export function stringField(source: Record<string, unknown> | URLSearchParams, name: string, optional?: false): string;
export function stringField(
  source: Record<string, unknown> | URLSearchParams,
  name: string,
  optional = false,
): string | undefined {
  const value = source instanceof URLSearchParams ? source.get(name) : source[name];
  if (value === undefined || value === null || (typeof value === 'string' && value.trim() === '')) {
    if (optional) return undefined;
    throw new StudioRequestError(`'${name}' is missing`);
  }
  if (typeof value !== 'string') throw new StudioRequestError(`'${name}' must be a string, got ${typeof value}`);
  return value.trim();
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

/** The status an error is answered with: the caller's mistakes 4xx, an unreachable or failing hub 502. */
export function statusFor(err: unknown): number {
  if (err instanceof StudioRequestError) return err.status;
  if (err instanceof PipelineInputError) return 400;
  if (err instanceof ModelLoadError || err instanceof ConfigError || err instanceof TokenizerFileError) return 422;
  if (err instanceof HubError) {
    if (err.code === 'Unreachable') return 502;
    return err.status !== undefined && err.status >= 400 && err.status < 500 ? err.status : 502;
  }
  return 500;
}

export function sendError(res: ServerResponse, err: unknown): void {
  const message = err instanceof Error ? err.message : String(err);
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, statusFor(err), { error: message, code: err instanceof HubError ? err.code : undefined });
}

/** Starts a server-sent event stream; the returned function sends one named event with a JSON payload. */
export function eventStream(res: ServerResponse): (event: string, data: unknown) => void {
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    Connection: 'keep-alive',
  });
  res.flushHeaders();
  return (event, data) => {
    if (!res.writableEnded) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
}
