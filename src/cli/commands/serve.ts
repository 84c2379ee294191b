/** `attn serve`: serve models with the OpenAI-compatible API (see src/chat/server.ts). */
import { loadChatModel, loadEmbedder, startChatServer, type ChatServer } from '../../chat/server.js';
import { integerFlag, parseFlags, UsageError, usageLine } from '../args.js';

// Tests and other commands imported these from here before they moved to ../args.ts.
export { UsageError };

export const help = `Usage: attn serve [--model M [--model M2 ...]] [options]

Serves models with the OpenAI API (/v1/chat/completions, /v1/completions, /v1/embeddings, /v1/models),
so any OpenAI client works with base URL http://HOST:PORT/v1.

Options:
  --model M            a model folder, installed name or hub id (repeatable; default: the installed
                       text-generation model, models/tinystories-llama); 'echo' or 'echo:<N>ms' is a test model
  --embedder E         an embedder for /v1/embeddings (repeatable; default use-lite when installed);
                       'lexical' is built in
  --port P             default 8000 (0: any free port)
  --host H             default 127.0.0.1 (this machine only); another address needs $ATTN_API_KEY set,
                       or --insecure to serve everyone who can reach it without a key
  --insecure           serve beyond this machine without an API key (anyone reaching it can use it)
  --max-concurrent N   generations at once, default 4; more requests queue
  --max-queued N       waiting requests before answering 429, default 256
  --max-body-kb N      largest request body, default 1024
  --max-tokens N       largest max_tokens a request may ask for, default 2048

The API key, when required, is read from $ATTN_API_KEY (never from the command line, which others can see).`;

const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '::1', '[::1]'];

/** Parses the command line and starts the server (without waiting for a signal), for `run` and tests. */
export async function startFromArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<ChatServer> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: 'string', multiple: true },
      embedder: { type: 'string', multiple: true },
      port: { type: 'string' },
      host: { type: 'string' },
      'max-concurrent': { type: 'string' },
      'max-queued': { type: 'string' },
      'max-body-kb': { type: 'string' },
      'max-tokens': { type: 'string' },
      insecure: { type: 'boolean' },
    },
  });
  const host = values.host ?? '127.0.0.1';
  const apiKey = env.ATTN_API_KEY || undefined;
  if (apiKey === undefined && !LOOPBACK_HOSTS.includes(host)) {
    if (values.insecure !== true) {
      throw new UsageError(
        `--host ${host} serves other machines, and without $ATTN_API_KEY anyone who reaches it could use it: ` +
          'set ATTN_API_KEY, or pass --insecure if that is what you want',
      );
    }
    console.warn(
      `attn serve: WARNING: serving on ${host} WITHOUT an API key (--insecure): anyone who can reach this port can use it`,
    );
  }
  const maxConcurrent = integerFlag(values['max-concurrent'], '--max-concurrent', 4);
  const maxTokens = integerFlag(values['max-tokens'], '--max-tokens', 2048);
  if (maxConcurrent < 1 || maxTokens < 1) throw new UsageError('--max-concurrent and --max-tokens must be at least 1');
  return startChatServer({
    models: await Promise.all((values.model?.length ? values.model : [undefined]).map((m) => loadChatModel(m))),
    embedders: await Promise.all((values.embedder ?? []).map(loadEmbedder)),
    port: integerFlag(values.port, '--port', 8000),
    host,
    apiKey,
    maxConcurrent,
    maxQueued: integerFlag(values['max-queued'], '--max-queued', 256),
    maxBodyBytes: integerFlag(values['max-body-kb'], '--max-body-kb', 1024) * 1024,
    maxTokensLimit: maxTokens,
  });
}

export async function run(argv: string[]): Promise<number> {
  let server: ChatServer;
  try {
    server = await startFromArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('serve', err));
    return 2;
  }
  const keyNote = process.env.ATTN_API_KEY ? ' (API key required)' : '';
  console.log(`attn serve: OpenAI-compatible API at ${server.baseURL}${keyNote}; Ctrl-C stops`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await server.close();
  return 0;
}
