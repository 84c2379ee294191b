// RAG over files one does not control: a huge file must not take the machine's memory, a binary file must not
// become chunks of control bytes, and every chunk must be read whole by the embedder that embeds it.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEmbedder } from '../../src/chat/server.js';
import type { Embedder } from '../../src/chat/types.js';
import { LexicalEmbedder } from '../../src/chat/lexical-embedder.js';
import { embeddingText, indexFolder } from '../../src/rag/indexer.js';
import { VectorStore } from '../../src/rag/store.js';
import { projectRoot } from '../../src/util/paths.js';
import { scratchDir } from './helpers.js';

async function openStore(root: string, embedder: Embedder): Promise<VectorStore> {
  return VectorStore.open(join(scratchDir('index'), 'index.sqlite'), {
    embedderId: embedder.id,
    dimension: embedder.dimension,
    root,
  });
}

describe('RAG indexing of untrusted folders', () => {
  it('embeds and stores a large file batch by batch, never holding all its embeddings', async () => {
    const root = scratchDir('rag-batches');
    const sentences = Array.from({ length: 400 }, (_, i) => `Sentence number ${i} talks about item ${i * 7}.`);
    writeFileSync(join(root, 'long.txt'), sentences.join('\n\n'));
    const lexical = new LexicalEmbedder(64);
    const store = await openStore(root, lexical);
    const storedWhenEmbedding: number[] = [];
    const counting: Embedder = {
      id: lexical.id,
      dimension: lexical.dimension,
      embed: (texts) => {
        storedWhenEmbedding.push(store.counts().chunks);
        return lexical.embed(texts);
      },
    };
    const report = await indexFolder(store, counting, { batchSize: 8, chunk: { maxChars: 60, overlapChars: 0 } });
    expect(report.chunks).toBe(400);
    // Each batch is in the store before the next is embedded: 0, 8, 16, …
    expect(storedWhenEmbedding).toEqual(Array.from({ length: 50 }, (_, i) => i * 8));
    const [best] = store.search((await lexical.embed(['number 123 item 861']))[0]!, 1);
    expect(best!.text).toBe(sentences[123]);
    store.close();
  });

  it('skips binary and non-UTF-8 files, saying why, and drops a file that turned binary', async () => {
    const root = scratchDir('rag-binary');
    writeFileSync(join(root, 'notes.md'), '# Bees\n\nBees make honey from nectar.\n');
    const noise = randomBytes(200_000);
    noise[100] = 0;
    writeFileSync(join(root, 'noise.txt'), noise);
    writeFileSync(join(root, 'latin1.txt'), Buffer.from('caf\xe9 cr\xe8me br\xfbl\xe9e '.repeat(50), 'latin1'));
    writeFileSync(join(root, 'later.txt'), 'This file is text for now.');
    const embedder = new LexicalEmbedder(64);
    const store = await openStore(root, embedder);
    const first = await indexFolder(store, embedder);
    expect(first.added).toEqual(['later.txt', 'notes.md']);
    expect(first.skipped).toEqual([
      { path: 'latin1.txt', reason: 'not UTF-8 text' },
      { path: 'noise.txt', reason: 'binary data (NUL bytes)' },
    ]);
    expect(first.chunks).toBe(2);
    writeFileSync(join(root, 'later.txt'), Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 0]));
    const second = await indexFolder(store, embedder);
    expect(second.removed).toEqual(['later.txt']);
    expect(store.paths()).toEqual(['notes.md']);
    store.close();
  });

  it("makes chunks that fit use-lite's 128-token window (most README chunks were cut before)", async () => {
    const embedder = await loadEmbedder('use-lite');
    const window = embedder.tokenWindow!;
    expect(window.maxTokens).toBe(128);
    const root = scratchDir('rag-window');
    writeFileSync(join(root, 'README.md'), readFileSync(join(projectRoot, 'README.md')));
    const store = await openStore(root, embedder);
    const report = await indexFolder(store, embedder);
    expect(report.chunks).toBeGreaterThan(20);
    const hits = store.search((await embedder.embed(['how do I push a model to the hub']))[0]!, report.chunks);
    expect(hits).toHaveLength(report.chunks);
    const tokens = hits.map((hit) => window.countTokens(embeddingText(hit)));
    expect(Math.max(...tokens)).toBeLessThanOrEqual(128);
    // Not cut needlessly small either: most chunks use a good part of the window.
    expect(tokens.filter((n) => n >= 48).length).toBeGreaterThan(hits.length / 2);
    store.close();
  });
});
