import { createHash } from 'node:crypto';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative, sep } from 'node:path';
import type { Embedder } from '../chat/types.js';
import { chunkDocument, chunkToFit, type Chunk, type ChunkOptions } from './chunk.js';
import type { EmbeddedBatch, VectorStore } from './store.js';

/** Extensions indexed, and whether their headings split sections. PDF is not read (see notes/issue-9.md). */
const DOCUMENT_TYPES: Record<string, { markdown: boolean }> = {
  '.md': { markdown: true },
  '.markdown': { markdown: true },
  '.txt': { markdown: false },
  '.text': { markdown: false },
  '.rst': { markdown: false },
};

/** Characters per token assumed for a first cut, before each chunk is measured in the embedder's own tokens. */
const CHARS_PER_TOKEN = 4;
/** Bytes read to tell a text file from a binary one. */
const SNIFF_BYTES = 8192;

export interface IndexOptions {
  /**
   * Chunk sizes in characters. Default: 1000 (overlap 200) for embedders without a token window; for those with one
   * (transformer encoders), about one window, and every chunk is then checked in the embedder's tokens.
   */
  chunk?: Omit<ChunkOptions, 'markdown'>;
  /** Texts per embedder call; also how many embeddings are held at once. Default 32. */
  batchSize?: number;
  /** Called after each file that had to be (re)embedded. */
  onFile?: (path: string, chunks: number) => void;
}

export interface IndexReport {
  added: string[];
  updated: string[];
  removed: string[];
  /** Files with a document extension that are not UTF-8 text (binary data, another encoding): not indexed. */
  skipped: { path: string; reason: string }[];
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

/** Why a file is not text, from its first bytes (a NUL byte: binary data), or undefined. */
async function binaryReason(file: string): Promise<string | undefined> {
  const handle = await open(file, 'r');
  try {
    const head = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await handle.read(head, 0, SNIFF_BYTES, 0);
    return head.subarray(0, bytesRead).includes(0) ? 'binary data (NUL bytes)' : undefined;
  } finally {
    await handle.close();
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The file's text, or undefined when it is not valid UTF-8. */
function decodeText(bytes: Buffer): string | undefined {
  try {
    return UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Chunks, sized to what the embedder reads whole when it has a token window. */
function chunksFor(embedder: Embedder, text: string, options: ChunkOptions): Chunk[] {
  const window = embedder.tokenWindow;
  if (window === undefined) return chunkDocument(text, options);
  const maxChars = options.maxChars ?? Math.max(100, window.maxTokens * CHARS_PER_TOKEN);
  const sized = { ...options, maxChars, overlapChars: options.overlapChars ?? Math.floor(maxChars / 5) };
  return chunkToFit(text, sized, (chunk) => window.countTokens(embeddingText(chunk)), window.maxTokens);
}

async function* embedInBatches(embedder: Embedder, chunks: Chunk[], batchSize: number): AsyncGenerator<EmbeddedBatch> {
  for (let i = 0; i < chunks.length; i += batchSize) {
    const batch = chunks.slice(i, i + batchSize);
    yield { chunks: batch, embeddings: await embedder.embed(batch.map(embeddingText)) };
  }
}

/**
 * Brings the index up to date with `store.identity.root`: new and changed files are chunked and embedded,
 * deleted ones dropped. Files whose size and mtime are unchanged are not read; files whose content hash is
 * unchanged (touched, copied back) are not re-embedded; files that are not UTF-8 text are skipped (and dropped
 * from the index). One file is in memory at a time, and of its embeddings one batch. Saves the store when
 * anything changed.
 */
export async function indexFolder(
  store: VectorStore,
  embedder: Embedder,
  options: IndexOptions = {},
): Promise<IndexReport> {
  const root = store.identity.root;
  const report: IndexReport = { added: [], updated: [], removed: [], skipped: [], unchanged: 0, files: 0, chunks: 0 };
  let dirty = false;
  const seen = new Set<string>();
  for (const file of await documentFiles(root)) {
    const path = relative(root, file).split(sep).join('/');
    const info = await stat(file);
    const known = store.fingerprint(path);
    if (known && known.size === info.size && known.mtimeMs === info.mtimeMs) {
      seen.add(path);
      report.unchanged++;
      continue;
    }
    const binary = await binaryReason(file);
    const bytes = binary === undefined ? await readFile(file) : undefined;
    const content = bytes === undefined ? undefined : decodeText(bytes);
    if (content === undefined) {
      report.skipped.push({ path, reason: binary ?? 'not UTF-8 text' });
      continue;
    }
    seen.add(path);
    const fingerprint = {
      size: info.size,
      mtimeMs: info.mtimeMs,
      sha256: createHash('sha256').update(bytes!).digest('hex'),
    };
    dirty = true;
    if (known && known.sha256 === fingerprint.sha256) {
      store.updateFingerprint(path, fingerprint);
      report.unchanged++;
      continue;
    }
    const chunks = chunksFor(embedder, content, { ...options.chunk, ...DOCUMENT_TYPES[extname(file).toLowerCase()] });
    const stored = await store.replaceFile(
      path,
      fingerprint,
      embedInBatches(embedder, chunks, options.batchSize ?? 32),
    );
    (known ? report.updated : report.added).push(path);
    options.onFile?.(path, stored);
  }
  for (const path of store.paths()) {
    if (!seen.has(path)) {
      await store.removeFile(path);
      report.removed.push(path);
      dirty = true;
    }
  }
  if (dirty) await store.save();
  Object.assign(report, store.counts());
  return report;
}
