/**
 * huggingface_hub's cache layout, so that a cache filled by Python serves attn and the other way round:
 *
 *   {cache}/models--{org}--{name}/blobs/{etag}                  file contents, named by ETag
 *   {cache}/models--{org}--{name}/snapshots/{commit}/{path}     relative symlinks into blobs/
 *   {cache}/models--{org}--{name}/refs/{revision}               the commit a branch or tag pointed at
 *   {cache}/models--{org}--{name}/.no_exist/{commit}/{path}     empty: the hub said this file does not exist
 *   {cache}/.locks/models--{org}--{name}/{etag}.lock             held while blobs/{etag}.incomplete is written
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdir, readFile, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';
import { randomBytes } from 'node:crypto';
import { writeFileAtomic } from '../util/fs.js';
import { assertRepoId, assertRepoPath } from './errors.js';

const COMMIT_ID = /^[0-9a-f]{40}$/;

export function isCommitId(revision: string): boolean {
  return COMMIT_ID.test(revision);
}

export class RepoCache {
  readonly root: string;

  constructor(
    cacheDir: string,
    readonly repoId: string,
  ) {
    assertRepoId(repoId);
    this.root = join(cacheDir, `models--${repoId.replaceAll('/', '--')}`);
  }

  blobPath(etag: string): string {
    if (!/^[A-Za-z0-9._-]+$/.test(etag)) throw new Error(`hub: unusable ETag '${etag}' for ${this.repoId}`);
    return join(this.root, 'blobs', etag);
  }

  /** Where huggingface_hub locks a blob's download: beside the repo folders, not inside blobs/. */
  lockPath(etag: string): string {
    const blob = this.blobPath(etag);
    return join(dirname(this.root), '.locks', basename(this.root), `${basename(blob)}.lock`);
  }

  snapshotDir(commit: string): string {
    if (!isCommitId(commit)) throw new Error(`hub: '${commit}' is not a 40-hex commit id (repo ${this.repoId})`);
    return join(this.root, 'snapshots', commit);
  }

  pointerPath(commit: string, path: string): string {
    assertRepoPath(path);
    return join(this.snapshotDir(commit), path);
  }

  noExistPath(commit: string, path: string): string {
    assertRepoPath(path);
    return join(this.root, '.no_exist', commit, path);
  }

  private refPath(revision: string): string {
    assertRepoPath(revision, 'revision');
    return join(this.root, 'refs', revision);
  }

  /** The commit a revision resolves to from the cache alone: a commit id is itself, a branch is its ref file. */
  async commitFor(revision: string): Promise<string | undefined> {
    if (isCommitId(revision)) return revision;
    const commit = await readFile(this.refPath(revision), 'utf8').then(
      (text) => text.trim(),
      () => undefined,
    );
    return commit !== undefined && isCommitId(commit) ? commit : undefined;
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (revision === commit) return;
    const path = this.refPath(revision);
    if ((await readFile(path, 'utf8').catch(() => undefined))?.trim() === commit) return;
    await writeFileAtomic(path, commit);
  }

  /** Where `path` at `revision` lives in the cache, if it is there (no network). */
  async cachedFile(revision: string, path: string): Promise<string | undefined> {
    const commit = await this.commitFor(revision);
    if (commit === undefined) return undefined;
    const pointer = this.pointerPath(commit, path);
    return existsSync(pointer) ? pointer : undefined;
  }

  async markMissing(commit: string, path: string): Promise<void> {
    await writeFileAtomic(this.noExistPath(commit, path), '');
  }

  /** Links snapshots/{commit}/{path} to its blob: a relative symlink, or a copy where symlinks are not allowed. */
  async linkPointer(commit: string, path: string, blob: string): Promise<string> {
    const pointer = this.pointerPath(commit, path);
    await mkdir(dirname(pointer), { recursive: true });
    const temp = `${pointer}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await symlink(relative(dirname(pointer), blob), temp);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EPERM') throw err;
      await copyFile(blob, temp);
    }
    try {
      await rename(temp, pointer);
    } catch (err) {
      await rm(temp, { force: true });
      throw err;
    }
    return pointer;
  }
}
