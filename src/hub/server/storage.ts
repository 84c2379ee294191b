/**
 * A hub server's storage, a folder laid out like a tiny git:
 *
 *   objects/{sha256[0:2]}/{sha256}           file contents, content-addressed, written once (temp name, rename)
 *   repos/{ns}/{name}/repo.json               visibility, owner, creation time (written last: the repo exists)
 *   repos/{ns}/{name}/commits/{id}.json       commit records: parent, message, author, the full file table
 *   repos/{ns}/{name}/refs/heads/{branch}     the commit id a branch points at
 *   repos/{ns}/{name}/lfs/{sha256}            empty: this LFS object was uploaded through this repo
 *   tmp/                                      uploads in progress (emptied at start)
 *
 * A commit becomes visible only when its branch ref is renamed into place, after its objects and record are
 * written: a server killed at any moment leaves the branch at the previous commit, with every object it names.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, readFileSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdir, readdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeFileAtomic } from '../../util/fs.js';
import { HubError } from '../errors.js';

export interface FileEntry {
  sha256: string;
  size: number;
  /** Stored through LFS: resolved with a redirect to the object, ETag is the sha256. */
  lfs: boolean;
  /** The git blob id of the file as git would store it (the LFS pointer for LFS files): ETag of regular files. */
  gitOid: string;
}

export interface CommitRecord {
  id: string;
  parent: string | null;
  summary: string;
  description: string;
  author: string;
  date: string;
  files: Record<string, FileEntry>;
}

export interface RepoRecord {
  id: string;
  namespace: string;
  name: string;
  private: boolean;
  createdAt: string;
}

export interface CommitChanges {
  author: string;
  summary: string;
  description: string;
  /** When given, the commit is refused unless the branch still points there. */
  parentCommit?: string;
  put: Map<string, FileEntry>;
  deleted: string[];
}

export function gitBlobOid(content: Uint8Array | string): string {
  const bytes = typeof content === 'string' ? Buffer.from(content) : content;
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/**
 * A file of a commit. File paths are data, so a path named `toString` or `__proto__` must not find (or set) an
 * Object member: lookups go through own properties only.
 */
export function fileEntry(commit: CommitRecord, path: string): FileEntry | undefined {
  return Object.hasOwn(commit.files, path) ? commit.files[path] : undefined;
}

/**
 * Branch names: one path segment (a branch 'main/sub' would need 'main' to be a folder), at most 100 characters,
 * not hidden and without git's forbidden forms ('..', a trailing '.lock').
 */
const BRANCH_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export function isValidBranchName(name: string): boolean {
  return BRANCH_NAME.test(name) && !name.includes('..') && !name.endsWith('.lock') && !name.endsWith('.');
}

export function assertBranchName(name: string): void {
  if (!isValidBranchName(name)) {
    throw new HubError(
      'BadRequest',
      `invalid branch name '${name}': expected up to 100 letters, digits, '.', '_' or '-', not starting with '.' or '-'`,
    );
  }
}

export function lfsPointer(sha256: string, size: number): string {
  return `version https://git-lfs.github.com/spec/v1\noid sha256:${sha256}\nsize ${size}\n`;
}

const SHA256 = /^[0-9a-f]{64}$/;
const COMMIT_ID = /^[0-9a-f]{40}$/;

/** Thrown inside the upload pipeline when the byte count passes the limit, to stop it at once. */
class TooLargeError extends Error {}

export class HubStorage {
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(readonly dataDir: string) {}

  /**
   * Prepares the folder; leftovers of uploads cut off by a crash are dropped. The folder is made private to its
   * owner (0700): it holds private repos and the token hashes, which other local users must not read.
   */
  async open(): Promise<void> {
    await mkdir(this.dataDir, { recursive: true, mode: 0o700 });
    await chmod(this.dataDir, 0o700);
    await rm(join(this.dataDir, 'tmp'), { recursive: true, force: true });
    await mkdir(join(this.dataDir, 'tmp'), { recursive: true });
    await mkdir(join(this.dataDir, 'objects'), { recursive: true });
    await mkdir(join(this.dataDir, 'repos'), { recursive: true });
  }

  objectPath(sha256: string): string {
    if (!SHA256.test(sha256)) throw new HubError('BadRequest', `invalid object id '${sha256}': expected 64 hex digits`);
    return join(this.dataDir, 'objects', sha256.slice(0, 2), sha256);
  }

  /**
   * Streams `source` into the object store, refusing more than `maxBytes` and, when given, a size or sha256
   * other than expected. Returns the object's id.
   */
  async storeObject(
    source: Readable,
    limits: { maxBytes: number; expectedSha256?: string; expectedSize?: number },
  ): Promise<{ sha256: string; size: number }> {
    const temp = join(this.dataDir, 'tmp', randomBytes(12).toString('hex'));
    const hash = createHash('sha256');
    let size = 0;
    try {
      await pipeline(
        source,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > limits.maxBytes) throw new TooLargeError();
            hash.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(temp),
      );
      const sha256 = hash.digest('hex');
      if (limits.expectedSize !== undefined && size !== limits.expectedSize) {
        throw new HubError(
          'BadRequest',
          `upload of ${limits.expectedSha256 ?? 'object'}: got ${size} bytes, expected ${limits.expectedSize}`,
        );
      }
      if (limits.expectedSha256 !== undefined && sha256 !== limits.expectedSha256) {
        throw new HubError('BadRequest', `upload has sha256 ${sha256}, expected ${limits.expectedSha256}`);
      }
      const target = this.objectPath(sha256);
      await mkdir(dirname(target), { recursive: true });
      await rename(temp, target);
      return { sha256, size };
    } catch (err) {
      await rm(temp, { force: true });
      if (err instanceof TooLargeError)
        throw new HubError('TooLarge', `upload exceeds the server's limit of ${limits.maxBytes} bytes`, 413);
      throw err;
    }
  }

  private grantPath(repoId: string, sha256: string): string {
    if (!SHA256.test(sha256)) throw new HubError('BadRequest', `invalid object id '${sha256}': expected 64 hex digits`);
    return join(this.repoDir(repoId), 'lfs', sha256);
  }

  /**
   * Records that an LFS object was uploaded through this repo. Objects are shared by content, so without
   * this anyone who knew a private file's sha256 could commit it into their own repo and read it.
   */
  async grantObject(repoId: string, sha256: string): Promise<void> {
    await writeFileAtomic(this.grantPath(repoId, sha256), '');
  }

  /** The size of an LFS object this repo may reference, if it has one. */
  repoObjectSize(repoId: string, sha256: string): number | undefined {
    if (statSync(this.grantPath(repoId, sha256), { throwIfNoEntry: false }) === undefined) return undefined;
    return statSync(this.objectPath(sha256), { throwIfNoEntry: false })?.size;
  }

  repoHasObject(repoId: string, sha256: string, size: number): boolean {
    return this.repoObjectSize(repoId, sha256) === size;
  }

  private repoDir(repoId: string): string {
    return join(this.dataDir, 'repos', ...repoId.split('/'));
  }

  repo(repoId: string): RepoRecord | undefined {
    try {
      return JSON.parse(readFileSync(join(this.repoDir(repoId), 'repo.json'), 'utf8')) as RepoRecord;
    } catch {
      return undefined;
    }
  }

  async listRepos(): Promise<RepoRecord[]> {
    const root = join(this.dataDir, 'repos');
    const namespaces = await readdir(root).catch(() => []);
    const ids = (
      await Promise.all(
        namespaces.map(async (ns) => (await readdir(join(root, ns)).catch(() => [])).map((name) => `${ns}/${name}`)),
      )
    ).flat();
    return ids.map((id) => this.repo(id)).filter((repo): repo is RepoRecord => repo !== undefined);
  }

  /** Runs `work` alone for this repo (commits to one repo are serialised; this process owns the folder). */
  private exclusive<T>(repoId: string, work: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(repoId) ?? Promise.resolve();
    const next = previous.then(work, work);
    this.locks.set(
      repoId,
      next.catch(() => undefined),
    );
    return next;
  }

  private refPath(repoId: string, branch: string): string {
    assertBranchName(branch);
    return join(this.repoDir(repoId), 'refs', 'heads', branch);
  }

  head(repoId: string, branch: string): string | undefined {
    try {
      return readFileSync(this.refPath(repoId, branch), 'utf8').trim();
    } catch {
      return undefined;
    }
  }

  /** Every branch; the temporary files of a ref being written are not branch names, so they are skipped. */
  branches(repoId: string): { name: string; commit: string }[] {
    const heads = join(this.repoDir(repoId), 'refs', 'heads');
    if (!statSync(heads, { throwIfNoEntry: false })?.isDirectory()) return [];
    return readdirSync(heads, { withFileTypes: true })
      .filter((entry) => entry.isFile() && isValidBranchName(entry.name))
      .map((entry) => ({ name: entry.name, commit: readFileSync(join(heads, entry.name), 'utf8').trim() }));
  }

  commit(repoId: string, id: string): CommitRecord | undefined {
    if (!COMMIT_ID.test(id)) return undefined;
    try {
      return JSON.parse(readFileSync(join(this.repoDir(repoId), 'commits', `${id}.json`), 'utf8')) as CommitRecord;
    } catch {
      return undefined;
    }
  }

  /** A branch name or a full commit id of this repo. */
  resolveRevision(repoId: string, revision: string): CommitRecord | undefined {
    if (COMMIT_ID.test(revision)) return this.commit(repoId, revision);
    if (!isValidBranchName(revision)) return undefined;
    const head = this.head(repoId, revision);
    return head === undefined ? undefined : this.commit(repoId, head);
  }

  private async writeCommit(
    repoId: string,
    branch: string,
    parent: string | null,
    changes: CommitChanges,
    files: Record<string, FileEntry>,
  ): Promise<CommitRecord> {
    const body = {
      parent,
      summary: changes.summary,
      description: changes.description,
      author: changes.author,
      date: new Date().toISOString(),
      files,
    };
    const id = createHash('sha1').update(JSON.stringify(body)).digest('hex');
    const record: CommitRecord = { id, ...body };
    await writeFileAtomic(join(this.repoDir(repoId), 'commits', `${id}.json`), JSON.stringify(record, null, 1));
    // The commit point: until this rename the branch shows the previous commit.
    await writeFileAtomic(this.refPath(repoId, branch), id);
    return record;
  }

  async createRepo(repo: RepoRecord, initial: CommitChanges): Promise<void> {
    await this.exclusive(repo.id, async () => {
      if (this.repo(repo.id) !== undefined)
        throw new HubError('Conflict', `repository '${repo.id}' already exists`, 409);
      await this.writeCommit(repo.id, 'main', null, initial, Object.fromEntries(initial.put));
      await writeFileAtomic(join(this.repoDir(repo.id), 'repo.json'), JSON.stringify(repo, null, 1));
    });
  }

  async createBranch(repoId: string, branch: string, commitId: string): Promise<void> {
    await this.exclusive(repoId, async () => {
      if (this.head(repoId, branch) !== undefined)
        throw new HubError('Conflict', `branch '${branch}' already exists in '${repoId}'`, 409);
      await writeFileAtomic(this.refPath(repoId, branch), commitId);
    });
  }

  async commitChanges(repoId: string, branch: string, changes: CommitChanges): Promise<CommitRecord> {
    return this.exclusive(repoId, async () => {
      const headId = this.head(repoId, branch);
      const head = headId === undefined ? undefined : this.commit(repoId, headId);
      if (head === undefined)
        throw new HubError('RevisionNotFound', `branch '${branch}' not found in '${repoId}'`, 404);
      if (changes.parentCommit !== undefined && changes.parentCommit !== head.id) {
        throw new HubError(
          'Conflict',
          `parent commit ${changes.parentCommit} is not the head of '${branch}' (${head.id}): pull and retry`,
          412,
        );
      }
      // A Map, not an object: a file named '__proto__' must be a file, not a prototype.
      const files = new Map(Object.entries(head.files));
      for (const path of changes.deleted) {
        if (!files.delete(path))
          throw new HubError('EntryNotFound', `cannot delete '${path}': not in '${repoId}' at '${branch}'`, 404);
      }
      for (const [path, entry] of changes.put) files.set(path, entry);
      return this.writeCommit(repoId, branch, head.id, changes, Object.fromEntries(files));
    });
  }
}
