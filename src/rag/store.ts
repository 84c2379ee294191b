/**
 * The persisted RAG index: one SQLite database file (via sql.js, SQLite compiled to WebAssembly, so it installs
 * from the npm registry with no native build) holding the indexed files' fingerprints and their chunks with
 * embeddings. The database lives in memory while open and `save()` writes it back atomically. Nothing else grows
 * with the index: chunks arrive in batches, and a search streams the rows, keeping only the best `k`.
 */
import { existsSync, readFileSync } from 'node:fs';
import initSqlJs, { type Database } from 'sql.js';
import { writeFileAtomic } from '../util/fs.js';
import type { Chunk } from './chunk.js';

/** What identifies a file's content without reading it (size, mtime) and after reading it (hash). */
export interface FileFingerprint {
  size: number;
  mtimeMs: number;
  sha256: string;
}

export interface StoredChunk extends Chunk {
  /** Path of the source file relative to the indexed folder, with / separators. */
  path: string;
}

export interface SearchHit extends StoredChunk {
  /** Cosine similarity to the query. */
  score: number;
}

export interface IndexIdentity {
  /** Embedder id and dimension: vectors from different embedders are not comparable. */
  embedderId: string;
  dimension: number;
  /** Absolute folder the indexed paths are relative to. */
  root: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ms REAL NOT NULL, sha256 TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
  id INTEGER PRIMARY KEY,
  path TEXT NOT NULL REFERENCES files(path) ON DELETE CASCADE,
  ordinal INTEGER NOT NULL,
  heading TEXT,
  start_line INTEGER NOT NULL,
  end_line INTEGER NOT NULL,
  text TEXT NOT NULL,
  embedding BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_by_path ON chunks(path);
`;
const SCHEMA_VERSION = '1';

let sqlJs: ReturnType<typeof initSqlJs> | undefined;

function readMeta(db: Database): Map<string, string> {
  return new Map(db.exec('SELECT key, value FROM meta')[0]?.values.map(([k, v]) => [String(k), String(v)]) ?? []);
}

function norm(vector: Float32Array): number {
  let sum = 0;
  for (const v of vector) sum += v * v;
  return Math.sqrt(sum);
}

/** Chunks of one file with their embeddings, in order: what `replaceFile` stores as they are made. */
export interface EmbeddedBatch {
  chunks: Chunk[];
  embeddings: Float32Array[];
}

export class VectorStore {
  private constructor(
    readonly path: string,
    private readonly db: Database,
    readonly identity: IndexIdentity,
  ) {}

  /**
   * Opens the index at `path`, or starts an empty one there (written by `save()`). An existing index must have
   * been built with the same embedder and for the same folder; anything else is an error naming both.
   */
  static async open(path: string, identity: IndexIdentity): Promise<VectorStore> {
    const SQL = await (sqlJs ??= initSqlJs());
    const db = existsSync(path) ? new SQL.Database(readFileSync(path)) : new SQL.Database();
    try {
      db.run('PRAGMA foreign_keys = ON');
      db.run(SCHEMA);
      const meta = readMeta(db);
      if (meta.size === 0) {
        const rows: [string, string][] = [
          ['schema', SCHEMA_VERSION],
          ['embedder', identity.embedderId],
          ['dimension', String(identity.dimension)],
          ['root', identity.root],
        ];
        for (const row of rows) db.run('INSERT INTO meta (key, value) VALUES (?, ?)', row);
      } else {
        const expect = (key: string, wanted: string, hint: string): void => {
          const found = meta.get(key);
          if (found !== wanted)
            throw new Error(
              `RAG index ${path}: ${key} is ${JSON.stringify(found)}, expected ${JSON.stringify(wanted)}; ${hint}`,
            );
        };
        expect('schema', SCHEMA_VERSION, 'rebuild it (delete the file) with this version of attn');
        expect(
          'embedder',
          identity.embedderId,
          'rebuild it (delete the file) to change embedders, or use the embedder it was built with',
        );
        expect('dimension', String(identity.dimension), 'rebuild it (delete the file) to change embedders');
        expect('root', identity.root, 'each index covers one folder: pick another index file for this folder');
      }
    } catch (err) {
      db.close();
      throw err;
    }
    return new VectorStore(path, db, identity);
  }

  /** Reads the identity an existing index was built with (to query it without knowing how it was made). */
  static async readIdentity(path: string): Promise<IndexIdentity> {
    if (!existsSync(path)) throw new Error(`RAG index ${path} does not exist: build it with 'attn rag index <folder>'`);
    const SQL = await (sqlJs ??= initSqlJs());
    const db = new SQL.Database(readFileSync(path));
    try {
      const meta = readMeta(db);
      const [embedderId, dimension, root] = [meta.get('embedder'), Number(meta.get('dimension')), meta.get('root')];
      if (embedderId === undefined || root === undefined || !Number.isInteger(dimension))
        throw new Error(`RAG index ${path}: missing or broken meta table`);
      return { embedderId, dimension, root };
    } finally {
      db.close();
    }
  }

  fingerprint(path: string): FileFingerprint | undefined {
    const row = this.db.exec('SELECT size, mtime_ms, sha256 FROM files WHERE path = ?', [path])[0]?.values[0];
    return row ? { size: Number(row[0]), mtimeMs: Number(row[1]), sha256: String(row[2]) } : undefined;
  }

  paths(): string[] {
    return (this.db.exec('SELECT path FROM files ORDER BY path')[0]?.values ?? []).map(([p]) => String(p));
  }

  counts(): { files: number; chunks: number } {
    const [files, chunks] = this.db.exec('SELECT (SELECT COUNT(*) FROM files), (SELECT COUNT(*) FROM chunks)')[0]!
      .values[0]!;
    return { files: Number(files), chunks: Number(chunks) };
  }

  /** Records a file's new fingerprint when its content (hash) did not change, e.g. after a touch. */
  updateFingerprint(path: string, fingerprint: FileFingerprint): void {
    this.db.run('UPDATE files SET size = ?, mtime_ms = ?, sha256 = ? WHERE path = ?', [
      fingerprint.size,
      fingerprint.mtimeMs,
      fingerprint.sha256,
      path,
    ]);
  }

  /**
   * Replaces everything stored for `path` with the chunks and embeddings of `batches`, in one transaction, storing
   * each batch as it comes (so a large file's embeddings are never all in memory at once). Returns the chunk count.
   */
  async replaceFile(
    path: string,
    fingerprint: FileFingerprint,
    batches: AsyncIterable<EmbeddedBatch>,
  ): Promise<number> {
    let ordinal = 0;
    await this.transaction(async () => {
      this.db.run('DELETE FROM files WHERE path = ?', [path]);
      this.db.run('INSERT INTO files (path, size, mtime_ms, sha256) VALUES (?, ?, ?, ?)', [
        path,
        fingerprint.size,
        fingerprint.mtimeMs,
        fingerprint.sha256,
      ]);
      const insert = this.db.prepare(
        'INSERT INTO chunks (path, ordinal, heading, start_line, end_line, text, embedding) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      try {
        for await (const { chunks, embeddings } of batches) {
          if (chunks.length !== embeddings.length)
            throw new Error(`replaceFile ${path}: ${chunks.length} chunks but ${embeddings.length} embeddings`);
          chunks.forEach((chunk, i) => {
            const vector = embeddings[i]!;
            if (vector.length !== this.identity.dimension) {
              throw new Error(
                `replaceFile ${path}: an embedding has ${vector.length} values, the index holds ${this.identity.dimension}`,
              );
            }
            const blob = new Uint8Array(vector.buffer, vector.byteOffset, vector.byteLength);
            insert.run([path, ordinal++, chunk.heading ?? null, chunk.startLine, chunk.endLine, chunk.text, blob]);
          });
        }
      } finally {
        insert.free();
      }
    });
    return ordinal;
  }

  async removeFile(path: string): Promise<void> {
    await this.transaction(() => {
      this.db.run('DELETE FROM files WHERE path = ?', [path]);
    });
  }

  /**
   * The `k` chunks most similar to `query` (cosine; stored vectors need not be normalised), best first. The vectors
   * are streamed from the database and only the best `k` kept, so a search needs no memory beyond the index.
   */
  search(query: Float32Array, k: number): SearchHit[] {
    if (query.length !== this.identity.dimension)
      throw new Error(`search: query has ${query.length} values, the index holds ${this.identity.dimension}`);
    const queryNorm = norm(query) || 1;
    const best: { id: number; score: number }[] = [];
    const rows = this.db.prepare('SELECT id, embedding FROM chunks');
    try {
      while (rows.step()) {
        const [id, blob] = rows.get() as [number, Uint8Array];
        // Copy: a Float32Array view needs 4-byte alignment, which a BLOB's bytes need not have.
        const vector = new Float32Array(blob.slice().buffer);
        let dot = 0;
        for (let i = 0; i < vector.length; i++) dot += vector[i]! * query[i]!;
        const score = dot / (queryNorm * (norm(vector) || 1));
        if (best.length < k || score > best[best.length - 1]!.score) {
          best.splice(sortedIndex(best, score), 0, { id, score });
          if (best.length > k) best.pop();
        }
      }
    } finally {
      rows.free();
    }
    return best.map(({ id, score }) => ({ ...this.chunkById(id), score }));
  }

  private chunkById(id: number): StoredChunk {
    const [path, heading, startLine, endLine, text] = this.db.exec(
      'SELECT path, heading, start_line, end_line, text FROM chunks WHERE id = ?',
      [id],
    )[0]!.values[0]!;
    const chunk: StoredChunk = {
      path: String(path),
      text: String(text),
      startLine: Number(startLine),
      endLine: Number(endLine),
    };
    if (heading !== null) chunk.heading = String(heading);
    return chunk;
  }

  /** Writes the database file (temporary name, then rename). */
  async save(): Promise<void> {
    await writeFileAtomic(this.path, this.db.export());
    // export() resets connection settings.
    this.db.run('PRAGMA foreign_keys = ON');
  }

  close(): void {
    this.db.close();
  }

  private async transaction(work: () => Promise<void> | void): Promise<void> {
    this.db.run('BEGIN');
    try {
      await work();
      this.db.run('COMMIT');
    } catch (err) {
      this.db.run('ROLLBACK');
      throw err;
    }
  }
}

/** Where `score` goes in `best` (sorted best first) so that equal scores keep their earlier order. */
function sortedIndex(best: { score: number }[], score: number): number {
  let lo = 0;
  let hi = best.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (best[mid]!.score >= score) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
