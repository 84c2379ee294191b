import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { Embedder } from '../chat/types.js';
import { chunkDocument, type Chunk, type ChunkOptions } from './chunk.js';
import type { VectorStore } from './store.js';

/** Extensions indexed, and whether their headings split sections. PDF is not read (see notes/issue-9.md). */
const DOCUMENT_TYPES: Record<string, { markdown: boolean }> = {
  '.md': { markdown: true },
  '.markdown': { markdown: true },
  '.txt': { markdown: false },
  '.text': { markdown: false },
  '.rst': { markdown: false },
};

export interface IndexOptions {
  chunk?: Omit<ChunkOptions, 'markdown'>;
  /** Texts per embedder call. Default 32. */
  batchSize?: number;
  /** Called after each file that had to be (re)embedded. */
  onFile?: (path: string, chunks: number) => void;
}

export interface IndexReport {
  added: string[];
  updated: string[];
  removed: string[];
  unchanged: number;
  files: number;
  chunks: number;
}

/** Document files under `folder` (hidden folders and node_modules skipped), as absolute paths, sorted. */
async function documentFiles(folder: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true });
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile() && extname(entry.name).toLowerCase() in DOCUMENT_TYPES) out.push(path);
    }
  };
  await walk(folder);
  return out.sort();
}

/** The text an embedder sees for a chunk: its heading adds the topic that the chunk's own words may not repeat. */
export function embeddingText(chunk: Chunk): string {
  return chunk.heading ? `${chunk.heading}\n${chunk.text}` : chunk.text;
}

async function embedInBatches(embedder: Embedder, texts: string[], batchSize: number): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batchSize) out.push(...(await embedder.embed(texts.slice(i, i + batchSize))));
  return out;
}

/**
 * Brings the index up to date with `store.identity.root`: new and changed files are chunked and embedded,
 * deleted ones dropped. Files whose size and mtime are unchanged are not read; files whose content hash is
 * unchanged (touched, copied back) are not re-embedded. Saves the store when anything changed.
 */
export async function indexFolder(store: VectorStore, embedder: Embedder, options: IndexOptions = {}): Promise<IndexReport> {
  const root = store.identity.root;
  const report: IndexReport = { added: [], updated: [], removed: [], unchanged: 0, files: 0, chunks: 0 };
  let dirty = false;
  const seen = new Set<string>();
  for (const file of await documentFiles(root)) {
    const path = relative(root, file).split(sep).join('/');
    seen.add(path);
    const info = await stat(file);
    const known = store.fingerprint(path);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) {
      report.unchanged++;
      continue;
    }
    const content = await readFile(file, 'utf8');
    const fingerprint = { size: info.size, mtimeMs: info.mtimeMs, sha256: createHash('sha256').update(content).digest('hex') };
    dirty = true;
    if (known && known.sha256 === fingerprint.sha256) {
      store.updateFingerprint(path, fingerprint);
      report.unchanged++;
      continue;
    }
    const chunks = chunkDocument(content, { ...options.chunk, ...DOCUMENT_TYPES[extname(file).toLowerCase()] });
    const embeddings = await embedInBatches(embedder, chunks.map(embeddingText), options.batchSize ?? 32);
    store.replaceFile(path, fingerprint, chunks, embeddings);
    (known ? report.updated : report.added).push(path);
    options.onFile?.(path, chunks.length);
  }
  for (const path of store.paths()) {
    if (!seen.has(path)) {
      store.removeFile(path);
      report.removed.push(path);
      dirty = true;
    }
  }
  if (dirty) await store.save();
  Object.assign(report, store.counts());
  return report;
}
