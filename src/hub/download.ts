/**
 * One file from a hub repo into the shared cache, the way huggingface_hub's `hf_hub_download` does it:
 * a HEAD request names the commit and the blob (ETag), the blob is downloaded once (resuming a partial
 * `.incomplete` file, under a lock), verified, renamed into blobs/, and linked from snapshots/{commit}/.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { hubCacheDir, isOfflineMode } from './env.js';
import { HubError, assertRepoPath } from './errors.js';
import {
  errorFromResponse,
  hubConnection,
  hubFetch,
  requestHeaders,
  type HubConnection,
  type HubConnectionOptions,
} from './http.js';
import { RepoCache } from './cache.js';
import { withFileLock } from './lock.js';
import { progress } from '../util/progress.js';

/** Smaller files download too fast for a progress display to say anything. */
const PROGRESS_MIN_BYTES = 10 * 1024 * 1024;

export interface HubDownloadOptions extends HubConnectionOptions {
  /** Branch, tag or commit id; default 'main'. */
  revision?: string;
  /** Default `HF_HUB_CACHE`, else `HF_HOME/hub`, else ~/.cache/huggingface/hub. */
  cacheDir?: string;
  /** Use only what the cache holds, never the network (transformers' `local_files_only`); default `HF_HUB_OFFLINE`. */
  localFilesOnly?: boolean;
}

export function resolveUrl(endpoint: string, repoId: string, revision: string, path: string): string {
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${endpoint}/${repoId}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

interface FileMetadata {
  commit: string;
  /** The blob's name in the cache: the git blob id, or the sha256 of an LFS file. */
  etag: string;
  size: number;
  /** Where to GET the bytes: the resolve URL itself, or the storage it redirected to. */
  location: string;
}

function normalizeEtag(etag: string | null): string | undefined {
  return etag?.replace(/^W\//, '').replace(/^"|"$/g, '') || undefined;
}

/**
 * HEAD on the resolve URL. Relative redirects (a renamed repo) are followed; an absolute one points at
 * storage, and the metadata is read from the redirect itself, as huggingface_hub does.
 */
async function fetchFileMetadata(
  connection: HubConnection,
  repoId: string,
  revision: string,
  path: string,
): Promise<FileMetadata> {
  let url = resolveUrl(connection.endpoint, repoId, revision, path);
  for (let hop = 0; hop < 10; hop++) {
    const response = await hubFetch(connection, url, {
      method: 'HEAD',
      redirect: 'manual',
      headers: requestHeaders(connection, url, { 'Accept-Encoding': 'identity' }),
    });
    const location = response.headers.get('location');
    const isRedirect = response.status >= 300 && response.status < 400 && location !== null;
    if (isRedirect && !/^[a-z][a-z0-9+.-]*:\/\//i.test(location)) {
      url = new URL(location, url).href;
      continue;
    }
    if (!isRedirect && !response.ok) {
      throw await errorFromResponse(response, {
        repoId,
        endpoint: connection.endpoint,
        revision,
        path,
        action: 'download',
      });
    }
    const commit = response.headers.get('x-repo-commit');
    const etag = normalizeEtag(response.headers.get('x-linked-etag') ?? response.headers.get('etag'));
    const size = Number(response.headers.get('x-linked-size') ?? response.headers.get('content-length'));
    if (commit === null || etag === undefined || !Number.isSafeInteger(size)) {
      throw new HubError(
        'Http',
        `${url} answered without X-Repo-Commit, ETag or size headers: is ${connection.endpoint} a Hugging Face compatible hub?`,
      );
    }
    return { commit, etag, size, location: isRedirect ? new URL(location, url).href : url };
  }
  throw new HubError('Http', `too many redirects resolving '${path}' in '${repoId}' at ${connection.endpoint}`);
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

/** Downloads into `partial`, continuing from what an interrupted run left there (HTTP Range). */
async function downloadResumable(
  connection: HubConnection,
  metadata: FileMetadata,
  partial: string,
  what: string,
): Promise<void> {
  let resumeFrom = (await stat(partial).catch(() => undefined))?.size ?? 0;
  if (resumeFrom > metadata.size) {
    await rm(partial);
    resumeFrom = 0;
  }
  if (resumeFrom === metadata.size) return;
  const extra: Record<string, string> = { 'Accept-Encoding': 'identity' };
  if (resumeFrom > 0) extra.Range = `bytes=${resumeFrom}-`;
  const response = await hubFetch(connection, metadata.location, {
    redirect: 'follow',
    headers: requestHeaders(connection, metadata.location, extra),
  });
  if (!response.ok || response.body === null) {
    throw new HubError(
      'Http',
      `downloading ${what} from ${new URL(metadata.location).origin} failed with HTTP ${response.status}`,
      response.status,
    );
  }
  // A server that ignores Range sends everything again (200): start the file over.
  const append = response.status === 206;
  const bar =
    metadata.size >= PROGRESS_MIN_BYTES
      ? progress({ label: `download ${what}`, total: metadata.size, unit: 'B' })
      : undefined;
  bar?.tick(append ? resumeFrom : 0);
  await pipeline(
    Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
    async function* (chunks: AsyncIterable<Uint8Array>) {
      for await (const chunk of chunks) {
        bar?.tick(chunk.length);
        yield chunk;
      }
    },
    createWriteStream(partial, { flags: append ? 'a' : 'w' }),
  );
  bar?.done();
}

async function verifyDownload(partial: string, metadata: FileMetadata, what: string): Promise<void> {
  const size = (await stat(partial)).size;
  const problem =
    size !== metadata.size
      ? `size ${size} bytes, expected ${metadata.size}`
      : /^[0-9a-f]{64}$/.test(metadata.etag) && (await sha256OfFile(partial)) !== metadata.etag
        ? `sha256 differs from ${metadata.etag}`
        : undefined;
  if (problem !== undefined) {
    await rm(partial, { force: true });
    throw new HubError('Integrity', `downloaded ${what} is corrupt (${problem}); it was removed, download it again`);
  }
}

/** The file from the cache alone, or an error saying it is not there and how to get it. */
async function fromCacheOnly(cache: RepoCache, revision: string, path: string, why: string): Promise<string> {
  const cached = await cache.cachedFile(revision, path);
  if (cached !== undefined) return cached;
  throw new HubError(
    'OfflineCacheMiss',
    `${why}, and '${path}' of '${cache.repoId}' at revision '${revision}' is not in the cache ${cache.root}: ` +
      'download it once while online (unset HF_HUB_OFFLINE), or pass a local model folder',
  );
}

/** Downloads (or finds in the cache) one file of a model repo and returns its path in the snapshot folder. */
export async function hubDownload(repoId: string, path: string, options: HubDownloadOptions = {}): Promise<string> {
  assertRepoPath(path);
  const revision = options.revision ?? 'main';
  const cache = new RepoCache(hubCacheDir(options.cacheDir), repoId);
  if (options.localFilesOnly ?? isOfflineMode())
    return fromCacheOnly(cache, revision, path, 'offline mode (HF_HUB_OFFLINE) is on');

  const connection = hubConnection(options);
  let metadata: FileMetadata;
  try {
    metadata = await fetchFileMetadata(connection, repoId, revision, path);
  } catch (err) {
    if (err instanceof HubError && err.code === 'Unreachable') return fromCacheOnly(cache, revision, path, err.message);
    throw err;
  }
  await cache.writeRef(revision, metadata.commit);
  const pointer = cache.pointerPath(metadata.commit, path);
  if (existsSync(pointer)) return pointer;

  const blob = cache.blobPath(metadata.etag);
  const what = `'${path}' of '${repoId}'`;
  const partial = `${blob}.incomplete`;
  // huggingface_hub's lock path, so attn and Python filling one cache take turns on a blob; a download still
  // writing to the .incomplete file keeps its lock alive even when its holder does not touch the lock file.
  await withFileLock(cache.lockPath(metadata.etag), { activity: partial }, async () => {
    // Another process may have finished this blob while we waited for the lock.
    if (existsSync(blob)) return;
    await mkdir(dirname(blob), { recursive: true });
    await downloadResumable(connection, metadata, partial, what);
    await verifyDownload(partial, metadata, what);
    await rename(partial, blob);
  });
  return cache.linkPointer(metadata.commit, path, blob);
}
