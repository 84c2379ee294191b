/** Requests to a hub: the token goes only to the hub's own origin, and failures become HubErrors that say what to do. */
import { hubEndpoint, hubToken } from './env.js';
import { HubError, type HubErrorCode } from './errors.js';

export interface HubConnectionOptions {
  /** The hub's base URL; default `HF_ENDPOINT`, else https://huggingface.co. */
  endpoint?: string;
  /** Default `HF_TOKEN`, else the token saved by `huggingface-cli login`. */
  token?: string;
}

export interface HubConnection {
  endpoint: string;
  token?: string;
}

export function hubConnection(options: HubConnectionOptions = {}): HubConnection {
  return { endpoint: hubEndpoint(options.endpoint), token: hubToken(options.token) };
}

export const USER_AGENT = 'attn/0.1 (node)';

/** Headers for a request to `url`: the token is sent to the hub itself, never to a CDN or storage it redirects to. */
export function requestHeaders(
  connection: HubConnection,
  url: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const headers: Record<string, string> = { 'User-Agent': USER_AGENT, ...extra };
  if (connection.token !== undefined && new URL(url).origin === new URL(connection.endpoint).origin) {
    headers.Authorization = `Bearer ${connection.token}`;
  }
  return headers;
}

export async function hubFetch(connection: HubConnection, url: string, init: RequestInit = {}): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (err) {
    const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    throw new HubError(
      'Unreachable',
      `cannot reach the hub at ${connection.endpoint} (${cause}) for ${new URL(url).pathname}`,
    );
  }
}

/** What a request was about, so its error can name the repo, revision and file. */
export interface RequestContext {
  repoId: string;
  endpoint: string;
  revision?: string;
  path?: string;
  action?: string;
}

async function serverMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => '');
  try {
    const parsed = JSON.parse(text) as { error?: unknown; message?: unknown };
    const message = parsed.error ?? parsed.message;
    if (typeof message === 'string') return message;
  } catch {
    // Not JSON: the text itself (often empty for HEAD).
  }
  return text.slice(0, 300);
}

export async function errorFromResponse(response: Response, context: RequestContext): Promise<HubError> {
  const detail = await serverMessage(response);
  const said = detail === '' ? '' : ` (the hub said: ${detail})`;
  const where = `'${context.repoId}' at ${context.endpoint}`;
  const errorCode = response.headers.get('x-error-code');
  const status = response.status;
  const fail = (code: HubErrorCode, message: string): HubError => new HubError(code, message + said, status);

  if (errorCode === 'RepoNotFound' || (status === 404 && context.path === undefined && errorCode === null)) {
    return fail(
      'RepoNotFound',
      `repository ${where} was not found (HTTP ${status}): check the repo id, and if the repo is private or gated set HF_TOKEN to a token that can read it`,
    );
  }
  if (errorCode === 'RevisionNotFound') {
    return fail(
      'RevisionNotFound',
      `revision '${context.revision}' not found in ${where}: use a branch name or a full commit id`,
    );
  }
  if (errorCode === 'EntryNotFound' || status === 404) {
    return fail('EntryNotFound', `file '${context.path}' not found in ${where} at revision '${context.revision}'`);
  }
  const action = context.action ?? 'this request';
  if (status === 401) {
    return fail('Unauthorized', `${action} on ${where} needs a token (HTTP 401): set HF_TOKEN or pass a token`);
  }
  if (status === 403) {
    return fail(
      'Forbidden',
      `the token lacks the rights for ${action} on ${where} (HTTP 403): use a token with write access to this repo`,
    );
  }
  if (status === 409 || status === 412)
    return fail('Conflict', `${action} on ${where} conflicts with the repo's state (HTTP ${status})`);
  if (status === 413) return fail('TooLarge', `${action} on ${where} was refused as too large (HTTP 413)`);
  if (status === 400 || status === 422)
    return fail('BadRequest', `${action} on ${where} was refused as malformed (HTTP ${status})`);
  return fail('Http', `${action} on ${where} failed with HTTP ${status}`);
}
