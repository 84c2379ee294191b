// The studio server's API as the pages call it. Failures become Errors carrying the server's own message, which
// names the model, file or hub that went wrong; a server that is gone gets a message saying so.

export interface ModelEntry {
  name: string;
  source: 'installed' | 'cache';
  modelType: string | null;
  tasks: string[];
  defaultFor: string[];
  problem?: string;
}

export interface ModelList {
  installed: ModelEntry[];
  cached: ModelEntry[];
  tasks: string[];
  defaults: Record<string, Record<string, string>>;
  maxAttentionTokens: number;
}

async function call<T>(path: string, init: RequestInit = {}): Promise<T> {
  let response: Response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new Error(`the studio server does not answer (${(err as Error).message}); is 'attn studio' still running?`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${path} answered ${response.status} with something that is not JSON: ${text.slice(0, 200)}`);
  }
  if (!response.ok) throw new Error((body as { error?: string }).error ?? `${path} answered ${response.status}`);
  return body as T;
}

export function getJson<T>(path: string, headers: Record<string, string> = {}): Promise<T> {
  return call<T>(path, { headers });
}

export function postJson<T>(path: string, body: unknown, headers: Record<string, string> = {}): Promise<T> {
  return call<T>(path, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

let models: Promise<ModelList> | undefined;

/** The model list, fetched once per visit (the Hub page refreshes it after a commit). */
export function modelList(refresh = false): Promise<ModelList> {
  if (refresh || models === undefined) {
    models = getJson<ModelList>('/api/models');
    models.catch(() => (models = undefined));
  }
  return models;
}

export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params))
    if (value !== undefined && value !== '') search.set(key, String(value));
  return search.toString();
}
