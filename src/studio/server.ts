/**
 * attn studio's server: the built web app (dist/studio, made by `npm run build:studio`) and a small JSON and
 * server-sent-events API over attn's pipelines, models, Trainer output and hub client. node:http only.
 *
 *   GET  /api/models                         installed and cached models, tasks, defaults
 *   POST /api/run        {task, model?, text, options?}   a pipeline's answer
 *   GET  /api/generate?model&text&maxNewTokens           SSE: 'text' pieces, then 'done' (or 'failure')
 *   POST /api/attention  {model, text}       attention weights (layers, heads, T, T) and tokens
 *   GET  /api/positions?model&count          the model's positional encoding table
 *   GET  /api/training/runs                  run folders given on the command line
 *   GET  /api/training/watch?dir             SSE: 'state' at every log, 'waiting' while there is none
 *   GET  /api/hub                            endpoint, reachability, licenses
 *   POST /api/hub/repos  {name, license, private?}
 *   PUT  /api/hub/upload?session&path        one file's bytes, staged for the commit
 *   POST /api/hub/commit {repo, session, message}
 *   GET  /api/hub/repo?repo&revision         info, files and refs
 * Hub requests take a typed token in the X-Hub-Token header.
 */
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { hubEndpoint } from '../hub/env.js';
import { cachedModels, installedModels } from '../pipelines/available.js';
import { DEFAULT_MODELS, TASKS } from '../pipelines/index.js';
import { projectRoot } from '../util/paths.js';
import { discardBody } from '../util/discard-body.js';
import { decodeUrlComponent, MALFORMED_URL_MESSAGE, parseRequestUrl } from '../util/request-url.js';
import { HubDesk } from './hub.js';
import { eventStream, readJsonBody, sendError, sendJson, stringField, StudioRequestError } from './http.js';
import { MAX_ATTENTION_TOKENS, ModelHost } from './models.js';
import { watchRun } from './training.js';

export interface StudioOptions {
  port?: number;
  host?: string;
  /** The hub for the Hub page; default HF_ENDPOINT, else huggingface.co. */
  hubEndpoint?: string;
  /** Trainer output folders the Training page opens at start. */
  runs?: string[];
  /** The built web app; default dist/studio in the project. */
  appDir?: string;
  /** Largest file the Hub page may upload (staged in a temporary folder before the commit). Default 2 GiB. */
  maxUploadBytes?: number;
}

export interface RunningStudio {
  url: string;
  server: Server;
  close(): Promise<void>;
}

export const DEFAULT_APP_DIR = join(projectRoot, 'dist', 'studio');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

type Route = (req: IncomingMessage, res: ServerResponse, query: URLSearchParams) => Promise<void>;

function optionsField(body: Record<string, unknown>): Record<string, unknown> {
  const options = body['options'] ?? {};
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new StudioRequestError("'options' must be an object");
  return options as Record<string, unknown>;
}

function positiveInteger(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new StudioRequestError(`'${name}' must be a whole number from 1 to ${max}, got '${raw}'`);
  return value;
}

const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Why a request from another web site must be refused, or undefined. The studio can write to the hub with the
 * user's HF_TOKEN, so a page elsewhere must not drive it: a foreign Origin is refused (cross-site form posts and
 * fetches), and so is a Host that is not this machine's own name (DNS rebinding, where a foreign name resolves to
 * 127.0.0.1 and the Origin then matches).
 */
function foreignRequest(req: IncomingMessage, listenHost: string): string | undefined {
  const host = req.headers.host ?? '';
  const hostname = host.replace(/:\d+$/, '');
  // Listening on every address (--host 0.0.0.0) is the user's choice to be reached by any name.
  const anyName = listenHost === '0.0.0.0' || listenHost === '::';
  if (!anyName && !LOOPBACK_NAMES.includes(hostname) && hostname !== listenHost)
    return `requests for host '${host}' are not served: open the studio at its own address`;
  const origin = req.headers.origin;
  if (origin === undefined) return undefined;
  // The whole origin, scheme included: the studio serves plain http only.
  const own = `http://${host}`;
  const originOwn = URL.canParse(origin) && URL.canParse(own) && new URL(origin).origin === new URL(own).origin;
  return originOwn ? undefined : `requests from ${origin} are not served: the studio answers only its own pages`;
}

function typedToken(req: IncomingMessage): string | undefined {
  const header = req.headers['x-hub-token'];
  const token = Array.isArray(header) ? header[0] : header;
  return token !== undefined && token.trim() !== '' ? token.trim() : undefined;
}

/** Sends a file of the built app; paths outside it, and unknown ones, get index.html's 404 or the page itself. */
function serveStatic(appDir: string, pathname: string, res: ServerResponse): void {
  if (!existsSync(join(appDir, 'index.html'))) {
    sendJson(res, 503, {
      error: `the studio web app is not built (${appDir} has no index.html); run 'npm run build:studio'`,
    });
    return;
  }
  const decoded = decodeUrlComponent(pathname);
  if (decoded === undefined) throw new StudioRequestError(MALFORMED_URL_MESSAGE);
  const relative = pathname === '/' ? 'index.html' : normalize(decoded).replace(/^[/\\]+/, '');
  const path = resolve(appDir, relative);
  const inside = path.startsWith(resolve(appDir) + sep);
  if (!inside || !existsSync(path) || !statSync(path).isFile()) {
    sendJson(res, 404, { error: `no such file in the studio app: ${pathname}` });
    return;
  }
  // Vite names assets by content hash, so they can be cached; index.html must not be.
  const cache = relative.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
  res.writeHead(200, {
    'Content-Type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    'Cache-Control': cache,
  });
  // A file removed or unreadable since the check above must not become an uncaught stream error.
  createReadStream(path)
    .on('error', () => res.destroy())
    .pipe(res);
}

export async function startStudioServer(options: StudioOptions = {}): Promise<RunningStudio> {
  const appDir = options.appDir ?? DEFAULT_APP_DIR;
  const models = new ModelHost();
  const hub = new HubDesk(hubEndpoint(options.hubEndpoint), options.maxUploadBytes);
  const runs = (options.runs ?? []).map((dir) => resolve(dir));
  const streams = new Set<ServerResponse>();

  /** An SSE response, ended when the server closes. */
  const openStream = (req: IncomingMessage, res: ServerResponse) => {
    const send = eventStream(res);
    streams.add(res);
    req.on('close', () => streams.delete(res));
    return send;
  };

  const routes: Record<string, Route> = {
    'GET /api/models': async (_req, res) => {
      sendJson(res, 200, {
        installed: installedModels(),
        cached: cachedModels(),
        tasks: TASKS,
        defaults: DEFAULT_MODELS,
        maxAttentionTokens: MAX_ATTENTION_TOKENS,
      });
    },
    'POST /api/run': async (req, res) => {
      const body = await readJsonBody(req);
      const result = await models.run(
        stringField(body, 'task'),
        stringField(body, 'model', true),
        stringField(body, 'text'),
        optionsField(body),
      );
      sendJson(res, 200, { result });
    },
    'GET /api/generate': async (req, res, query) => {
      const model = stringField(query, 'model', true);
      const text = stringField(query, 'text');
      const maxNewTokens = positiveInteger(query, 'maxNewTokens', 40, 512);
      const send = openStream(req, res);
      try {
        const generated = await models.generate(model, text, { maxNewTokens }, (piece) =>
          send('text', { text: piece }),
        );
        send('done', { generated_text: generated });
      } catch (err) {
        send('failure', { error: (err as Error).message });
      }
      res.end();
    },
    'POST /api/attention': async (req, res) => {
      const body = await readJsonBody(req);
      sendJson(res, 200, await models.attention(stringField(body, 'model'), stringField(body, 'text')));
    },
    'GET /api/positions': async (_req, res, query) => {
      sendJson(res, 200, await models.positions(stringField(query, 'model'), positiveInteger(query, 'count', 48, 512)));
    },
    'GET /api/training/runs': async (_req, res) => {
      sendJson(res, 200, { runs });
    },
    'GET /api/training/watch': async (req, res, query) => {
      const dir = stringField(query, 'dir');
      const send = openStream(req, res);
      const stop = watchRun(dir, (event) =>
        event.kind === 'state' ? send('state', event.run) : send('waiting', { message: event.message }),
      );
      req.on('close', stop);
    },
    'GET /api/hub': async (_req, res) => {
      sendJson(res, 200, await hub.status());
    },
    'POST /api/hub/repos': async (req, res) => {
      const body = await readJsonBody(req);
      sendJson(
        res,
        201,
        await hub.createRepo(
          stringField(body, 'name'),
          stringField(body, 'license'),
          body['private'] === true,
          typedToken(req),
        ),
      );
    },
    'PUT /api/hub/upload': async (req, res, query) => {
      await hub.stageFile(stringField(query, 'session'), stringField(query, 'path'), req);
      sendJson(res, 200, { staged: query.get('path') });
    },
    'POST /api/hub/commit': async (req, res) => {
      const body = await readJsonBody(req);
      const result = await hub.commitSession(
        stringField(body, 'repo'),
        stringField(body, 'session'),
        stringField(body, 'message'),
        typedToken(req),
      );
      sendJson(res, 200, result);
    },
    'GET /api/hub/repo': async (req, res, query) => {
      sendJson(
        res,
        200,
        await hub.browse(stringField(query, 'repo'), stringField(query, 'revision', true), typedToken(req)),
      );
    },
  };

  const host = options.host ?? '127.0.0.1';
  const server = createServer((req, res) => {
    // Nothing a request holds may throw out of here: an uncaught error would end the process.
    try {
      const refusal = foreignRequest(req, host);
      if (refusal !== undefined) {
        sendJson(res, 403, { error: refusal });
        return;
      }
      const url = parseRequestUrl(req.url);
      if (url === undefined) throw new StudioRequestError(MALFORMED_URL_MESSAGE);
      const route = routes[`${req.method} ${url.pathname}`];
      if (route === undefined) {
        if (url.pathname.startsWith('/api/')) sendJson(res, 404, { error: `no API ${req.method} ${url.pathname}` });
        else if (req.method === 'GET' || req.method === 'HEAD') serveStatic(appDir, url.pathname, res);
        else sendJson(res, 405, { error: `${req.method} is not served here` });
        return;
      }
      route(req, res, url.searchParams).catch((err: unknown) => {
        if (!req.complete) discardBody(req, res);
        sendError(res, err);
      });
    } catch (err) {
      sendError(res, err);
    }
  });
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      models.dispose();
      reject(
        err.code === 'EADDRINUSE'
          ? new Error(
              `port ${options.port} on ${host} is already in use; pass another with --port (0 picks a free one)`,
            )
          : err,
      );
    });
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const { address, port } = server.address() as AddressInfo;
  return {
    url: `http://${address.includes(':') ? `[${address}]` : address}:${port}`,
    server,
    async close() {
      for (const res of streams) res.end();
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await closed;
      models.dispose();
      await hub.dispose();
    },
  };
}
