import type { IncomingMessage, ServerResponse } from 'node:http';

/** Bytes of a refused request's body read and dropped before the connection is cut anyway. */
const DISCARD_LIMIT = 4 << 20;

/**
 * After refusing a request whose body was not (fully) read: read and drop a little of it so the client receives the
 * answer (closing a socket with unread data resets it, and the answer is lost), then close the connection.
 */
export function discardBody(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Connection', 'close');
  let dropped = 0;
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_LIMIT) req.destroy();
  });
  req.resume();
}
