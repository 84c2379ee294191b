import { mkdtempSync, rmSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { startChatServer } from '../../src/chat/server.js';
import { askDocuments, retrieve } from '../../src/rag/ask.js';
import { chunkDocument } from '../../src/rag/chunk.js';
import { indexFolder } from '../../src/rag/indexer.js';
import { LexicalEmbedder } from '../../src/chat/lexical-embedder.js';
import { VectorStore } from '../../src/rag/store.js';
import { DOCUMENTS, QUESTIONS, writeDocuments } from './fixtures.js';

describe('chunkDocument', () => {
  const paragraphs = Array.from(
    { length: 12 },
    (_, i) => `Paragraph ${i} says something about topic ${i}. It has a second sentence too.`,
  );
  const text = paragraphs.join('\n\n');

  it('cuts at paragraph boundaries, within the size limit, with overlap, citing the right lines', () => {
    const chunks = chunkDocument(text, { maxChars: 200, overlapChars: 90 });
    expect(chunks.length).toBeGreaterThan(4);
    for (const chunk of chunks) {
      expect(chunk.text.length).toBeLessThanOrEqual(200);
      expect(chunk.text).toMatch(/^Paragraph \d+/);
      // Paragraph i is on line 2i + 1 (blank lines between).
      const lines = text
        .split('\n')
        .slice(chunk.startLine - 1, chunk.endLine)
        .join('\n');
      expect(lines).toBe(chunk.text);
    }
    for (let i = 1; i < chunks.length; i++) {
      const lastOfPrevious = chunks[i - 1]!.text.split('\n\n').at(-1)!;
      expect(chunks[i]!.text.startsWith(lastOfPrevious)).toBe(true);
    }
    expect(chunks.at(-1)!.text.endsWith(paragraphs.at(-1)!)).toBe(true);
  });

  it('covers every paragraph without overlap too', () => {
    const chunks = chunkDocument(text, { maxChars: 200, overlapChars: 0 });
    expect(chunks.map((c) => c.text).join('\n\n')).toBe(text);
  });

  it('splits long paragraphs at sentences, then words', () => {
    const sentence = 'This sentence is about fifty characters long, yes. ';
    const long = sentence.repeat(10).trim() + ' ' + 'word '.repeat(60).trim();
    const chunks = chunkDocument(long, { maxChars: 120, overlapChars: 0 });
    for (const chunk of chunks) expect(chunk.text.length).toBeLessThanOrEqual(120);
    expect(chunks[0]!.text).toBe(sentence.repeat(2).trim());
    expect(
      chunks
        .map((c) => c.text)
        .join(' ')
        .replace(/\s+/g, ' '),
    ).toBe(long);
  });

  it('keeps markdown sections apart and names their headings', () => {
    const chunks = chunkDocument(DOCUMENTS['kitchen/bread.md']!, { markdown: true, maxChars: 1000 });
    expect(chunks.map((c) => c.heading)).toEqual([
      'Sourdough bread',
      'Sourdough bread > The starter',
      'Sourdough bread > Baking',
      'Sourdough bread > Storing',
    ]);
    expect(chunks[2]!.text.startsWith('## Baking\nBake the loaf')).toBe(true);
    expect(chunks[2]!.startLine).toBe(7);
  });

  it('ignores # lines inside fenced code', () => {
    const chunks = chunkDocument('# Title\n```sh\n# not a heading\necho hi\n```\n', { markdown: true });
    expect(chunks.length).toBe(1);
    expect(chunks[0]!.heading).toBe('Title');
  });
});

describe('RAG index and retrieval', () => {
  let folder: string;
  let indexPath: string;
  const embedder = new LexicalEmbedder();

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'attn-rag-docs-'));
    indexPath = join(mkdtempSync(join(tmpdir(), 'attn-rag-index-')), 'index.sqlite');
    writeDocuments(folder);
  });
  afterAll(() => {
    rmSync(folder, { recursive: true, force: true });
    rmSync(join(indexPath, '..'), { recursive: true, force: true });
  });

  const identity = () => ({ embedderId: embedder.id, dimension: embedder.dimension, root: folder });

  it('retrieves the right chunk first for at least 8 of 10 questions', async () => {
    const store = await VectorStore.open(indexPath, identity());
    const report = await indexFolder(store, embedder, { chunk: { maxChars: 300, overlapChars: 60 } });
    expect(report.added.length).toBe(10);
    expect(report.chunks).toBeGreaterThan(20); // several chunks per file, so the right *chunk* matters
    const misses: string[] = [];
    for (const q of QUESTIONS) {
      const [top] = await retrieve(store, embedder, q.question, 3);
      if (top?.path !== q.path || !top.text.includes(q.answerPhrase))
        misses.push(`${q.question} → ${top?.path}: ${top?.text.slice(0, 60)}`);
    }
    expect(misses.length, misses.join('\n')).toBeLessThanOrEqual(2);
    store.close();
  });

  it('persists, and re-indexes only changed, new and deleted files', async () => {
    const reopened = await VectorStore.open(indexPath, identity());
    expect(reopened.counts().files).toBe(10);
    const [hit] = await retrieve(reopened, embedder, QUESTIONS[0]!.question, 1);
    expect(hit?.path).toBe('garden/tomatoes.md');

    // A touched but unchanged file is hashed, not re-embedded; a changed, a new and a deleted file are handled.
    const future = new Date(Date.now() + 60_000);
    utimesSync(join(folder, 'kitchen/coffee.md'), future, future);
    writeFileSync(join(folder, 'tech/git.md'), '# Git\n\nUse git bisect to find the commit that introduced a bug.\n');
    writeFileSync(
      join(folder, 'tech/docker.md'),
      '# Docker\n\nA Dockerfile describes how to build a container image.\n',
    );
    unlinkSync(join(folder, 'health/running.txt'));
    const embedded: string[] = [];
    const report = await indexFolder(reopened, embedder, {
      chunk: { maxChars: 300, overlapChars: 60 },
      onFile: (path) => embedded.push(path),
    });
    expect(report.added).toEqual(['tech/docker.md']);
    expect(report.updated).toEqual(['tech/git.md']);
    expect(report.removed).toEqual(['health/running.txt']);
    expect(report.unchanged).toBe(8);
    expect(embedded.sort()).toEqual(['tech/docker.md', 'tech/git.md']);
    reopened.close();

    const again = await VectorStore.open(indexPath, identity());
    const [bisect] = await retrieve(again, embedder, 'which git command finds the commit with the bug?', 1);
    expect(bisect?.path).toBe('tech/git.md');
    expect(
      (await retrieve(again, embedder, 'marathon training mileage', 10)).some((h) => h.path === 'health/running.txt'),
    ).toBe(false);
    const nothingChanged = await indexFolder(again, embedder);
    expect(nothingChanged.unchanged).toBe(10);
    expect([...nothingChanged.added, ...nothingChanged.updated, ...nothingChanged.removed]).toEqual([]);
    again.close();
  });

  it('refuses an index built with another embedder or for another folder', async () => {
    await expect(VectorStore.open(indexPath, { ...identity(), embedderId: 'other', dimension: 512 })).rejects.toThrow(
      `embedder is "${embedder.id}", expected "other"`,
    );
    await expect(VectorStore.open(indexPath, { ...identity(), root: '/elsewhere' })).rejects.toThrow(
      'each index covers one folder',
    );
    expect(await VectorStore.readIdentity(indexPath)).toEqual(identity());
  });

  it('asks a chat model served by attn serve, numbering the retrieved sources for citation', async () => {
    const server = await startChatServer({ models: [new EchoChatModel()] });
    const store = await VectorStore.open(indexPath, identity());
    try {
      const client = new ChatClient({ baseURL: server.baseURL, model: 'echo' });
      const { answer, sources } = await askDocuments(
        client,
        store,
        embedder,
        'How do I know my sourdough starter is ready?',
        { k: 2 },
      );
      expect(sources.length).toBe(2);
      expect(sources[0]!.path).toBe('kitchen/bread.md');
      // The echo model answers with the prompt it got: the numbered sources and the question.
      expect(answer).toContain(
        `[1] kitchen/bread.md:${sources[0]!.startLine}-${sources[0]!.endLine} (Sourdough bread > The starter)`,
      );
      expect(answer).toContain('[2] ');
      expect(answer).toContain('Question: How do I know my sourdough starter is ready?');
    } finally {
      store.close();
      await server.close();
    }
  });
});
