/**
 * `fromPretrained(nameOrPath)` for models, tokenizers and pipelines starts here: a local folder is used as is,
 * anything else is a hub repo id whose model files are fetched into (or found in) the shared cache.
 */
import { existsSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { modelInfo } from './api.js';
import { RepoCache } from './cache.js';
import { hubDownload, type HubDownloadOptions } from './download.js';
import { hubCacheDir, isOfflineMode } from './env.js';
import { HubError, isValidRepoId } from './errors.js';
import { hubConnection } from './http.js';

/** The files a model, its tokenizer and its pipeline may need; those a repo lacks are skipped. */
export const DEFAULT_MODEL_FILES: readonly string[] = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'added_tokens.json',
  'vocab.txt',
  'vocab.json',
  'merges.txt',
  'encoder.json',
  'vocab.bpe',
  'tokenizer.model',
  'sentencepiece.bpe.model',
  'spiece.model',
  // Marian / opus-mt: separate source and target SentencePiece models over one vocab.json.
  'source.spm',
  'target.spm',
  // Recent checkpoints keep the chat template beside tokenizer_config.json.
  'chat_template.jinja',
  'model.safetensors',
  'model.safetensors.index.json',
  // attn's n-gram ensemble head beside a classifier (models/ngram/modeling_ngram.ts NGRAM_HEAD_FILE).
  'ngram_head.safetensors',
];

const SHARD_INDEX = 'model.safetensors.index.json';
const PARALLEL_DOWNLOADS = 4;

export interface ResolveModelOptions extends HubDownloadOptions {
  /** Files to fetch (default DEFAULT_MODEL_FILES); a safetensors index brings its shards along. */
  files?: string[];
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  const queue = [...items];
  const worker = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: Math.min(limit, queue.length) }, worker));
}

async function shardsOf(indexPath: string): Promise<string[]> {
  const index = JSON.parse(await readFile(indexPath, 'utf8')) as { weight_map?: Record<string, string> };
  if (index.weight_map === undefined || typeof index.weight_map !== 'object') {
    throw new HubError(
      'BadRequest',
      `${indexPath}: field 'weight_map' is missing; expected { tensor name: shard file }`,
    );
  }
  return [...new Set(Object.values(index.weight_map))];
}

/** The snapshot folder a revision points at, from the cache alone. */
async function cachedSnapshot(
  cache: RepoCache,
  revision: string,
  files: string[] | undefined,
  why: string,
): Promise<string> {
  const commit = await cache.commitFor(revision);
  const snapshot = commit === undefined ? undefined : cache.snapshotDir(commit);
  const howToFix = 'download it once while online (unset HF_HUB_OFFLINE), or pass a local model folder';
  if (commit === undefined || snapshot === undefined || !existsSync(snapshot)) {
    throw new HubError(
      'OfflineCacheMiss',
      `${why}, and '${cache.repoId}' at revision '${revision}' is not in the cache ${cache.root}: ${howToFix}`,
    );
  }
  const missing = (files ?? []).filter(
    (file) => !existsSync(join(snapshot, file)) && !existsSync(cache.noExistPath(commit, file)),
  );
  if (missing.length > 0) {
    throw new HubError(
      'OfflineCacheMiss',
      `${why}, and ${missing.join(', ')} of '${cache.repoId}' are not in the cache ${snapshot}: ${howToFix}`,
    );
  }
  return snapshot;
}

/**
 * A local model folder, or the snapshot folder of hub repo `nameOrPath` with its model files downloaded.
 * Every file comes from the one commit the revision pointed at when asked, so a push racing the download
 * cannot mix two versions. Offline (HF_HUB_OFFLINE=1) or with the hub unreachable, the cache answers alone.
 */
export async function resolveModelDir(nameOrPath: string, options: ResolveModelOptions = {}): Promise<string> {
  if (isDirectory(nameOrPath)) return resolve(nameOrPath);
  if (!isValidRepoId(nameOrPath)) {
    throw new HubError(
      'BadRequest',
      `'${nameOrPath}' is neither a local model folder nor a hub repo id like 'org/name'`,
    );
  }
  const repoId = nameOrPath;
  const revision = options.revision ?? 'main';
  const cache = new RepoCache(hubCacheDir(options.cacheDir), repoId);
  if (options.localFilesOnly ?? isOfflineMode())
    return cachedSnapshot(cache, revision, options.files, 'offline mode (HF_HUB_OFFLINE) is on');

  let info;
  try {
    info = await modelInfo(repoId, { ...options, revision });
  } catch (err) {
    if (err instanceof HubError && err.code === 'Unreachable')
      return cachedSnapshot(cache, revision, options.files, err.message);
    throw err;
  }
  const onHub = new Set(info.siblings.map((sibling) => sibling.rfilename));
  const wanted = options.files ?? DEFAULT_MODEL_FILES;
  const present = wanted.filter((file) => onHub.has(file));
  if (present.length === 0) {
    throw new HubError(
      'EntryNotFound',
      `repository '${repoId}' at ${hubConnection(options).endpoint} (revision '${revision}') has none of ${wanted.join(', ')}: is it a model repo attn can load?`,
    );
  }
  await Promise.all(wanted.filter((file) => !onHub.has(file)).map((file) => cache.markMissing(info.sha, file)));

  const pinned = { ...options, revision: info.sha };
  await forEachLimited(present, PARALLEL_DOWNLOADS, (file) => hubDownload(repoId, file, pinned));
  if (present.includes(SHARD_INDEX)) {
    const shards = await shardsOf(join(cache.snapshotDir(info.sha), SHARD_INDEX));
    const absent = shards.filter((shard) => !onHub.has(shard));
    if (absent.length > 0) {
      throw new HubError(
        'EntryNotFound',
        `${SHARD_INDEX} of '${repoId}' names shards the repo lacks: ${absent.join(', ')}`,
      );
    }
    await forEachLimited(shards, PARALLEL_DOWNLOADS, (shard) => hubDownload(repoId, shard, pinned));
  }
  await cache.writeRef(revision, info.sha);
  return cache.snapshotDir(info.sha);
}
