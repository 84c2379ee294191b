/**
 * Tokens of a hub server: stored as sha256 hashes in {data}/tokens.json (a token carries over 230 random bits, so
 * a plain hash cannot be brute-forced), shown once when made. They look like the Hugging Face Hub's (`hf_` and
 * letters and digits), which official clients check before sending a request. Access rules: anonymous requests read public
 * repos; a token reads public repos and those of its own namespace; only a write token of the repo's
 * namespace writes to it.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeFileAtomic } from '../../util/fs.js';

export type TokenRole = 'read' | 'write';

interface StoredToken {
  user: string;
  role: TokenRole;
  sha256: string;
  createdAt: string;
  /** A label to tell tokens apart in `attn hub token list`. */
  name?: string;
}

/** What `attn hub token list` shows: never the token, only an id (the start of its hash) to revoke it by. */
export interface TokenSummary {
  id: string;
  user: string;
  role: TokenRole;
  name: string | null;
  createdAt: string;
}

const TOKEN_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const TOKEN_LENGTH = 40;
/** Characters of the hash shown as a token's id. */
const ID_LENGTH = 12;

function summaryOf(t: StoredToken): TokenSummary {
  return { id: t.sha256.slice(0, ID_LENGTH), user: t.user, role: t.role, name: t.name ?? null, createdAt: t.createdAt };
}

/** `hf_` + 40 letters and digits (238 bits), drawn without modulo bias. */
function newToken(): string {
  let body = '';
  while (body.length < TOKEN_LENGTH) {
    for (const byte of randomBytes(64)) {
      // 248 = 4 × 62: bytes above it would favour the first letters.
      if (byte < 248 && body.length < TOKEN_LENGTH) body += TOKEN_CHARS[byte % 62];
    }
  }
  return `hf_${body}`;
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
  private cached: { version: string; byHash: Map<string, StoredToken> } | undefined;

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
  async add(user: string, role: TokenRole, name?: string): Promise<string> {
    if (!USER_NAME.test(user)) throw new Error(`invalid user name '${user}': expected letters, digits, '_' and '-'`);
    const token = newToken();
    const tokens = this.readAll();
    tokens.push({
      user,
      role,
      sha256: hashToken(token),
      createdAt: new Date().toISOString(),
      ...(name === undefined ? {} : { name }),
    });
    await this.writeAll(tokens);
    return token;
  }

  private async writeAll(tokens: StoredToken[]): Promise<void> {
    // Owner only: the hashes of tokens to private repos are no business of other local users.
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.path, JSON.stringify({ tokens }, null, 2) + '\n', { mode: 0o600 });
  }

  list(): TokenSummary[] {
    return this.readAll().map(summaryOf);
  }

  /**
   * Removes the token whose id (as `list` shows it, or a longer prefix of its hash) is given; it stops working at
   * once, also in a running server. Returns what was revoked.
   */
  async revoke(id: string): Promise<TokenSummary> {
    if (!/^[0-9a-f]{6,64}$/.test(id))
      throw new Error(`invalid token id '${id}': expected the hex id 'attn hub token list' shows`);
    const tokens = this.readAll();
    const matches = tokens.filter((t) => t.sha256.startsWith(id));
    if (matches.length !== 1) {
      throw new Error(
        matches.length === 0
          ? `no token with id '${id}' in ${this.path}`
          : `id '${id}' matches ${matches.length} tokens; give more of it`,
      );
    }
    await this.writeAll(tokens.filter((t) => t !== matches[0]));
    return summaryOf(matches[0]!);
  }

  /** The caller a token belongs to; re-reads the file when it changed, so tokens added while serving work at once. */
  lookup(token: string): Caller | undefined {
    const info = statSync(this.path, { throwIfNoEntry: false });
    // Every write renames a new file into place: a new inode, even within one mtime tick (a revoke right after an add).
    const version = info === undefined ? 'none' : `${info.ino}:${info.mtimeMs}:${info.size}`;
    if (this.cached?.version !== version) {
      this.cached = { version, byHash: new Map(this.readAll().map((stored) => [stored.sha256, stored])) };
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
