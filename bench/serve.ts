/**
 * Load test of `attn serve` on loopback: N concurrent streaming chat requests (default 50) against an in-process
 * server whose concurrency limit is below N, so requests also queue. Reports whether any was dropped and the
 * latency percentiles. Bounded: at most 500 requests, 127.0.0.1 only.
 *
 *   npm run bench -- serve [--requests 50] [--max-concurrent 16] [--tokens 64] [--token-delay-ms 2]
 */
import '../src/backends/register.js';
import { parseArgs } from 'node:util';
import { ChatClient } from '../src/chat/client.js';
import { EchoChatModel } from '../src/chat/echo-model.js';
import { startChatServer } from '../src/chat/server.js';

const { values } = parseArgs({
  options: {
    requests: { type: 'string', default: '50' },
    'max-concurrent': { type: 'string', default: '16' },
    tokens: { type: 'string', default: '64' },
    'token-delay-ms': { type: 'string', default: '2' },
  },
});
const requests = Math.min(500, Number(values.requests));
const maxConcurrent = Number(values['max-concurrent']);
const tokens = Number(values.tokens);
const tokenDelayMs = Number(values['token-delay-ms']);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (ms: number): number => Math.round(ms * 10) / 10;

const server = await startChatServer({
  models: [new EchoChatModel({ id: 'echo', tokenDelayMs })],
  host: '127.0.0.1',
  maxConcurrent,
  maxQueued: requests,
});
const client = new ChatClient({ baseURL: server.baseURL, model: 'echo', maxRetries: 0, timeoutMs: 60_000 });
const prompt = Array.from({ length: tokens }, (_, i) => `word${i}`).join(' ');

interface Outcome {
  ok: boolean;
  latencyMs: number;
  firstTokenMs: number;
  pieces: number;
  error?: string;
}

async function oneRequest(): Promise<Outcome> {
  const started = performance.now();
  let firstTokenMs = Number.NaN;
  let text = '';
  let pieces = 0;
  let finish: string | null = null;
  try {
    for await (const chunk of client.stream({ messages: [{ role: 'user', content: prompt }] })) {
      if (chunk.delta !== '') {
        if (pieces === 0) firstTokenMs = performance.now() - started;
        pieces++;
        text += chunk.delta;
      }
      finish = chunk.finishReason ?? finish;
    }
    return { ok: text === prompt && finish === 'stop', latencyMs: performance.now() - started, firstTokenMs, pieces };
  } catch (err) {
    return { ok: false, latencyMs: performance.now() - started, firstTokenMs, pieces, error: (err as Error).message };
  }
}

const wallStart = performance.now();
const cpuStart = process.cpuUsage();
const outcomes = await Promise.all(Array.from({ length: requests }, oneRequest));
const wallMs = performance.now() - wallStart;
// Server and clients share this process: its CPU time against wall time shows how far a busy machine slowed it.
const cpu = process.cpuUsage(cpuStart);
await server.close();

const completed = outcomes.filter((o) => o.ok);
const latencies = completed.map((o) => o.latencyMs).sort((a, b) => a - b);
const firstTokens = completed.map((o) => o.firstTokenMs).sort((a, b) => a - b);
const errors = [...new Set(outcomes.flatMap((o) => (o.error ? [o.error] : [])))];
const totalPieces = outcomes.reduce((n, o) => n + o.pieces, 0);
const result = {
  bench: 'serve',
  requests,
  max_concurrent: maxConcurrent,
  tokens_per_request: tokens,
  token_delay_ms: tokenDelayMs,
  completed: completed.length,
  dropped: requests - completed.length,
  latency_ms: completed.length
    ? { p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)), max: round(latencies.at(-1)!) }
    : null,
  first_token_ms: completed.length
    ? { p50: round(percentile(firstTokens, 50)), p95: round(percentile(firstTokens, 95)) }
    : null,
  streamed_tokens_per_s: Math.round(totalPieces / (wallMs / 1000)),
  wall_ms: round(wallMs),
  cpu_ms: round((cpu.user + cpu.system) / 1000),
  ...(errors.length ? { errors } : {}),
};
console.log(JSON.stringify(result));
if (result.dropped > 0) process.exitCode = 1;
