// Tools for the attacks: raw HTTP requests (a URL no client library would send as is) and scratch folders.
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function scratchDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `attn-security-${prefix}-`));
}

export interface RawResponse {
  status: number;
  headers: string;
  body: string;
}

/**
 * Sends `head` (request line and headers, without the blank line) and `body` byte for byte over a new connection and
 * reads the whole answer (the request asks for `Connection: close`).
 */
export function rawRequest(baseUrl: string, head: string, body: Buffer | string = ''): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname.replace(/^\[|\]$/g, ''));
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (status === null) {
        reject(new Error(`no HTTP answer to ${head.split('\r\n')[0]}: got ${JSON.stringify(text.slice(0, 200))}`));
        return;
      }
      const split = text.indexOf('\r\n\r\n');
      resolve({ status: Number(status[1]), headers: text.slice(0, split), body: text.slice(split + 4) });
    });
    // The write side stays open: Node's server drops a half-closed connection before answering asynchronously.
    socket.write(`${head}\r\nConnection: close\r\n\r\n`);
    socket.write(body);
  });
}

/** `GET target` as sent, with a Host header naming the server. */
export function rawGet(baseUrl: string, target: string, extraHeaders = ''): Promise<RawResponse> {
  const { host } = new URL(baseUrl);
  return rawRequest(baseUrl, `GET ${target} HTTP/1.1\r\nHost: ${host}${extraHeaders}`);
}
