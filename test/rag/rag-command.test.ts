import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { startChatServer } from '../../src/chat/server.js';
import { run } from '../../src/cli/commands/rag.js';
import { writeDocuments } from './fixtures.js';

/** Runs `attn rag ...` in process and returns its exit code and what it printed to standard output. */
async function attnRag(argv: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: unknown) => void lines.push(String(line)));
  const error = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return { code: await run(argv), out: lines.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('attn rag command', () => {
  let folder: string;
  let indexFile: string;

  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'attn-rag-cli-'));
    writeDocuments(join(folder, 'docs'));
    indexFile = join(folder, 'index.sqlite');
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  it('indexes a folder, then only what changed', async () => {
    const first = await attnRag([
      'index',
      join(folder, 'docs'),
      '--index',
      indexFile,
      '--chunk-chars',
      '400',
      '--overlap-chars',
      '80',
    ]);
    expect(first.code).toBe(0);
    expect(first.out).toMatch(/: 10 files, \d+ chunks \(10 added, 0 updated, 0 removed, 0 unchanged\)/);
    const second = await attnRag(['index', join(folder, 'docs'), '--index', indexFile]);
    expect(second.out).toContain('(0 added, 0 updated, 0 removed, 10 unchanged)');
  });

  it('retrieves chunks without a model', async () => {
    const { code, out } = await attnRag([
      'ask',
      'What grind does a French press need?',
      '--index',
      indexFile,
      '--retrieve-only',
      '--json',
      '--k',
      '2',
    ]);
    expect(code).toBe(0);
    const parsed = JSON.parse(out) as { sources: { path: string; text: string }[] };
    expect(parsed.sources.length).toBe(2);
    expect(parsed.sources[0]!.path).toBe('kitchen/coffee.md');
  });

  it('asks a model behind attn serve and lists the sources', async () => {
    const server = await startChatServer({ models: [new EchoChatModel()] });
    try {
      const { code, out } = await attnRag([
        'ask',
        'How should I water tomatoes?',
        '--index',
        indexFile,
        '--base-url',
        server.baseURL,
        '--model',
        'echo',
      ]);
      expect(code).toBe(0);
      expect(out).toContain('Question: How should I water tomatoes?');
      expect(out).toMatch(
        /Sources:\n\[1\] garden\/tomatoes\.md:\d+-\d+ \(Growing tomatoes > Watering\) score 0\.\d{3}/,
      );
    } finally {
      await server.close();
    }
  });

  it('answers usage errors with exit code 2', async () => {
    expect((await attnRag(['frobnicate'])).code).toBe(2);
    expect((await attnRag(['ask', 'one', 'two', '--index', indexFile])).code).toBe(2);
    await expect(run(['ask', 'q', '--index', join(folder, 'missing.sqlite')])).rejects.toThrow(
      "build it with 'attn rag index <folder>'",
    );
  });
});
