/** Why a hub operation failed, as a code callers can branch on (a missing optional file is not an error for them). */
export type HubErrorCode =
  | 'RepoNotFound'
  | 'RevisionNotFound'
  | 'EntryNotFound'
  | 'Unauthorized'
  | 'Forbidden'
  | 'Conflict'
  | 'TooLarge'
  | 'BadRequest'
  | 'OfflineCacheMiss'
  | 'Unreachable'
  | 'Integrity'
  | 'Http';

export class HubError extends Error {
  constructor(
    readonly code: HubErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

/** Hub repo ids: `name` or `namespace/name`, the characters the Hugging Face Hub allows, no `..` or `--`. */
const REPO_ID = /^(?:[A-Za-z0-9][A-Za-z0-9._-]{0,95}\/)?[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;

export function isValidRepoId(repoId: string): boolean {
  return REPO_ID.test(repoId) && !repoId.includes('..') && !repoId.includes('--') && !/[.-]$/.test(repoId);
}

export function assertRepoId(repoId: string): void {
  if (!isValidRepoId(repoId)) {
    throw new HubError(
      'BadRequest',
      `invalid repo id '${repoId}': expected 'name' or 'namespace/name' of letters, digits, '.', '_' and '-'`,
    );
  }
}

/**
 * A path inside a repo: relative, '/'-separated, no empty, '.' or '..' segments, no backslashes or NULs.
 * Both the client (cache paths) and the server (storage paths) rely on this to stay inside their folders.
 */
export function isSafeRepoPath(path: string): boolean {
  if (path === '' || path.length > 1024 || path.startsWith('/') || /[\\\0]/.test(path)) return false;
  return path.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

export function assertRepoPath(path: string, what = 'file path'): void {
  if (!isSafeRepoPath(path)) {
    throw new HubError(
      'BadRequest',
      `invalid ${what} '${path}': expected a relative path without '.' or '..' segments`,
    );
  }
}
