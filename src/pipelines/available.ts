/**
 * The models this machine has: installed with attn (models/ in the package) and downloaded into the Hugging Face
 * cache, with their architecture and the tasks each can run. Listed by `attn models` and the studio.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { hubCacheDir } from '../hub/env.js';
import { configFromJSON } from '../models/configuration_utils.js';
import { DEFAULT_MODELS, installedModelsDir, tasksFor, TASKS } from './index.js';

export interface ModelEntry {
  name: string;
  source: 'installed' | 'cache';
  path: string;
  /** config.json's model_type, or null when the folder's config cannot be read. */
  modelType: string | null;
  tasks: string[];
  /** The tasks (with language) this model is attn's default for. */
  defaultFor: string[];
  bytes: number;
  /** Why the folder cannot be used, when it cannot. */
  problem?: string;
}

function folderBytes(dir: string): number {
  let total = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    // Cache snapshots hold symlinks into blobs/: statSync follows them to the real file's size.
    if (entry.isFile() || entry.isSymbolicLink()) total += statSync(join(entry.parentPath, entry.name)).size;
  }
  return total;
}

function describeFolder(name: string, source: ModelEntry['source'], path: string): ModelEntry {
  const defaultFor = TASKS.flatMap((task) =>
    Object.entries(DEFAULT_MODELS[task])
      .filter(([, model]) => source === 'installed' && model === name)
      .map(([lang]) => `${task} (${lang})`),
  );
  const entry: ModelEntry = { name, source, path, modelType: null, tasks: [], defaultFor, bytes: folderBytes(path) };
  try {
    const raw = JSON.parse(readFileSync(join(path, 'config.json'), 'utf8')) as Record<string, unknown>;
    entry.modelType = typeof raw['model_type'] === 'string' ? raw['model_type'] : null;
    entry.tasks = tasksFor(configFromJSON(raw, join(path, 'config.json')));
  } catch (err) {
    entry.problem = (err as Error).message;
  }
  return entry;
}

/** Folders (or links to folders) under models/ with a config.json. */
export function installedModels(dir = installedModelsDir): ModelEntry[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'config.json')))
    .map((name) => describeFolder(name, 'installed', join(dir, name)))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Each cached repo's snapshot that its main ref points at (else its newest), named 'org/name'. */
export function cachedModels(cacheDir = hubCacheDir()): ModelEntry[] {
  if (!existsSync(cacheDir)) return [];
  const entries: ModelEntry[] = [];
  for (const repo of readdirSync(cacheDir)
    .filter((name) => name.startsWith('models--'))
    .sort()) {
    const root = join(cacheDir, repo);
    const snapshots = join(root, 'snapshots');
    if (!existsSync(snapshots)) continue;
    const main = existsSync(join(root, 'refs', 'main'))
      ? readFileSync(join(root, 'refs', 'main'), 'utf8').trim()
      : undefined;
    const commits = readdirSync(snapshots).sort(
      (a, b) => statSync(join(snapshots, b)).mtimeMs - statSync(join(snapshots, a)).mtimeMs,
    );
    const commit = main !== undefined && commits.includes(main) ? main : commits[0];
    if (commit === undefined || !existsSync(join(snapshots, commit, 'config.json'))) continue;
    entries.push(describeFolder(repo.slice('models--'.length).replaceAll('--', '/'), 'cache', join(snapshots, commit)));
  }
  return entries;
}
