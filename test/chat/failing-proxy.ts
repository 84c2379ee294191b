import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A real HTTP server on 127.0.0.1 in front of a chat server: it answers the queued error statuses first (OpenAI's
 * error body, code 'injected_failure', Retry-After when given) and proxies every other request to the target.
 * It stands in for an overloaded or failing OpenAI-compatible server, so the production server needs no test hook.
 */
export interface FailingProxy {
  /** `…/v1` of the proxy, for a ChatClient. */
  baseURL: string;
  /** The next request is answered with `status` (400-599) instead of reaching the server; queued in order. */
  failNext(status: number, retryAfterSeconds?: number): void;
  close(): Promise<void>;
}

export async function startFailingProxy(targetBaseURL: string): Promise<FailingProxy> {
  const target = new URL(targetBaseURL);
  const failures: { status: number; retryAfterSeconds?: number }[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const failure = failures.shift();
    if (!failure) return forward(req, res);
    req.resume();
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (failure.retryAfterSeconds !== undefined) headers['retry-after'] = String(failure.retryAfterSeconds);
    res.writeHead(failure.status, headers);
    const message = `injected failure (status ${failure.status}) for testing`;
    res.end(JSON.stringify({ error: { message, type: 'server_error', param: null, code: 'injected_failure' } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseURL: `http://127.0.0.1:${port}/v1`,
    failNext(status, retryAfterSeconds) {
      if (!Number.isInteger(status) || status < 400 || status > 599)
        throw new RangeError(`failNext: expected an HTTP error status, got ${status}`);
      failures.push({ status, retryAfterSeconds });
    },
    close: () => new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve()))),
  };
}
