/** The hub's JSON API, as the client uses it: repo info, listings, refs, repo creation. */
import type { ModelCardData } from './card.js';
import { HubError, assertRepoId } from './errors.js';
import { errorFromResponse, hubConnection, hubFetch, requestHeaders, type HubConnectionOptions } from './http.js';

export interface ModelInfo {
  id: string;
  /** The commit the requested revision points at. */
  sha: string;
  private: boolean;
  siblings: { rfilename: string; size?: number }[];
  /** The model card's front matter. */
  cardData?: ModelCardData;
}

export interface RevisionOptions extends HubConnectionOptions {
  revision?: string;
}

async function getJson<T>(repoId: string, apiPath: string, options: RevisionOptions, action: string): Promise<T> {
  assertRepoId(repoId);
  const connection = hubConnection(options);
  const url = `${connection.endpoint}/api/models/${repoId}${apiPath}`;
  const response = await hubFetch(connection, url, {
    headers: requestHeaders(connection, url, { Accept: 'application/json' }),
  });
  if (!response.ok) {
    throw await errorFromResponse(response, {
      repoId,
      endpoint: connection.endpoint,
      revision: options.revision,
      action,
    });
  }
  return (await response.json()) as T;
}

export async function modelInfo(repoId: string, options: RevisionOptions = {}): Promise<ModelInfo> {
  const suffix = options.revision === undefined ? '' : `/revision/${encodeURIComponent(options.revision)}`;
  const info = await getJson<ModelInfo>(repoId, suffix, options, 'reading the model info');
  if (typeof info.sha !== 'string' || !Array.isArray(info.siblings)) {
    throw new HubError(
      'Http',
      `the model info of '${repoId}' lacks 'sha' or 'siblings': is the endpoint a Hugging Face compatible hub?`,
    );
  }
  return info;
}

export interface CreateRepoOptions extends HubConnectionOptions {
  /** An SPDX-style id ('apache-2.0', 'mit', ...): the hub writes it into the card's front matter. */
  license?: string;
  private?: boolean;
  /** Succeed when the repo already exists (default false: that is a Conflict error). */
  existOk?: boolean;
}

/** Creates model repo `repoId` ('namespace/name', or 'name' in the token owner's namespace); returns its URL. */
export async function createRepo(repoId: string, options: CreateRepoOptions = {}): Promise<{ url: string }> {
  assertRepoId(repoId);
  const connection = hubConnection(options);
  const [namespace, name] = repoId.includes('/') ? repoId.split('/') : [undefined, repoId];
  const url = `${connection.endpoint}/api/repos/create`;
  const response = await hubFetch(connection, url, {
    method: 'POST',
    headers: requestHeaders(connection, url, { 'Content-Type': 'application/json' }),
    body: JSON.stringify({
      name,
      organization: namespace,
      private: options.private ?? false,
      license: options.license,
      type: 'model',
    }),
  });
  if (response.status === 409 && options.existOk === true) {
    await response.body?.cancel();
    return { url: `${connection.endpoint}/${repoId}` };
  }
  if (!response.ok)
    throw await errorFromResponse(response, { repoId, endpoint: connection.endpoint, action: 'creating the repo' });
  const created = (await response.json()) as { url?: string };
  return { url: created.url ?? `${connection.endpoint}/${repoId}` };
}

export interface RepoRefs {
  branches: { name: string; ref: string; targetCommit: string }[];
  tags: { name: string; ref: string; targetCommit: string }[];
}

export async function listRefs(repoId: string, options: HubConnectionOptions = {}): Promise<RepoRefs> {
  return getJson<RepoRefs>(repoId, '/refs', options, 'listing the refs');
}

export interface TreeEntry {
  type: 'file' | 'directory';
  path: string;
  size: number;
  oid: string;
  lfs?: { oid: string; size: number };
}

/** Every file of the repo at `revision` (a recursive tree listing). */
export async function listRepoFiles(repoId: string, options: RevisionOptions = {}): Promise<TreeEntry[]> {
  const revision = encodeURIComponent(options.revision ?? 'main');
  return getJson<TreeEntry[]>(repoId, `/tree/${revision}?recursive=true`, options, 'listing the files');
}

/** Creates branch `branch` at `startingPoint` (a branch or commit id; default the head of main). */
export async function createBranch(
  repoId: string,
  branch: string,
  options: HubConnectionOptions & { startingPoint?: string } = {},
): Promise<void> {
  assertRepoId(repoId);
  const connection = hubConnection(options);
  const url = `${connection.endpoint}/api/models/${repoId}/branch/${encodeURIComponent(branch)}`;
  const response = await hubFetch(connection, url, {
    method: 'POST',
    headers: requestHeaders(connection, url, { 'Content-Type': 'application/json' }),
    body: JSON.stringify(options.startingPoint === undefined ? {} : { startingPoint: options.startingPoint }),
  });
  if (!response.ok)
    throw await errorFromResponse(response, {
      repoId,
      endpoint: connection.endpoint,
      revision: branch,
      action: `creating branch '${branch}'`,
    });
  await response.body?.cancel();
}
