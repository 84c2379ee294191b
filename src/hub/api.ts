/** The hub's JSON API, as the client uses it: repo info, listings, refs, repo creation. */
import { HubError, assertRepoId } from './errors.js';
import { errorFromResponse, hubConnection, hubFetch, requestHeaders, type HubConnectionOptions } from './http.js';

export interface ModelInfo {
  id: string;
  /** The commit the requested revision points at. */
  sha: string;
  private: boolean;
  siblings: { rfilename: string; size?: number }[];
  cardData?: Record<string, unknown>;
}

export interface RevisionOptions extends HubConnectionOptions {
  revision?: string;
}

async function getJson<T>(repoId: string, apiPath: string, options: RevisionOptions, action: string): Promise<T> {
  assertRepoId(repoId);
  const connection = hubConnection(options);
  const url = `${connection.endpoint}/api/models/${repoId}${apiPath}`;
  const response = await hubFetch(connection, url, { headers: requestHeaders(connection, url, { Accept: 'application/json' }) });
  if (!response.ok) {
    throw await errorFromResponse(response, { repoId, endpoint: connection.endpoint, revision: options.revision, action });
  }
  return (await response.json()) as T;
}

export async function modelInfo(repoId: string, options: RevisionOptions = {}): Promise<ModelInfo> {
  const suffix = options.revision === undefined ? '' : `/revision/${encodeURIComponent(options.revision)}`;
  const info = await getJson<ModelInfo>(repoId, suffix, options, 'reading the model info');
  if (typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
    throw new HubError('Http', `the model info of '${repoId}' lacks 'sha' or 'siblings': is the endpoint a Hugging Face compatible hub?`);
  }
  return info;
}
