/**
 * Tokens of a hub server: stored as sha256 hashes in {data}/tokens.json (a token is 32 random bytes, so a
 * plain hash cannot be brute-forced), shown once when made. Access rules: anonymous requests read public
 * repos; a token reads public repos and those of its own namespace; only a write token of the repo's
 * namespace writes to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../util/fs.js';

export type TokenRole = 'read' | 'write';

interface StoredToken {
  user: string;
  role: TokenRole;
  sha256: string;
  createdAt: string;
}

export interface Caller {
  user: string;
  role: TokenRole;
}

const USER_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,95}$/;

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class TokenStore {
  private readonly path: string;
  private cached: { mtimeMs: number; byHash: Map<string, StoredToken> } | undefined;

  constructor(dataDir: string) {
    this.path = join(dataDir, 'tokens.json');
  }

  private readAll(): StoredToken[] {
    try {
      return (JSON.parse(readFileSync(this.path, 'utf8')) as { tokens: StoredToken[] }).tokens;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new Error(`${this.path}: unreadable token store (${(err as Error).message})`);
    }
  }

  /** Makes a token and returns it; only its hash is kept. */
  async add(user: string, role: TokenRole): Promise<string> {
    if (!USER_NAME.test(user)) throw new Error(`invalid user name '${user}': expected letters, digits, '_' and '-'`);
    const token = `attn_${randomBytes(32).toString('base64url')}`;
    const tokens = this.readAll();
    tokens.push({ user, role, sha256: hashToken(token), createdAt: new Date().toISOString() });
    await writeFileAtomic(this.path, JSON.stringify({ tokens }, null, 2) + '\n');
    return token;
  }

  /** The caller a token belongs to; re-reads the file when it changed, so tokens added while serving work at once. */
  lookup(token: string): Caller | undefined {
    const mtimeMs = statSync(this.path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
    if (this.cached?.mtimeMs !== mtimeMs) {
      this.cached = { mtimeMs, byHash: new Map(this.readAll().map((stored) => [stored.sha256, stored])) };
    }
    const stored = this.cached.byHash.get(hashToken(token));
    return stored === undefined ? undefined : { user: stored.user, role: stored.role };
  }
}

export function canRead(caller: Caller | undefined, repo: { namespace: string; private: boolean }): boolean {
  return !repo.private || caller?.user === repo.namespace;
}

export function canWrite(caller: Caller | undefined, namespace: string): boolean {
  return caller?.role === 'write' && caller.user === namespace;
}
