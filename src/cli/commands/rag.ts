/** `attn rag index <folder>` and `attn rag ask "question"`: question answering over a folder of documents. */
import { resolve } from 'node:path';
import { ChatClient } from '../../chat/client.js';
import { loadEmbedder } from '../../chat/server.js';
import { askDocuments, retrieve, sourceLabel } from '../../rag/ask.js';
import { indexFolder } from '../../rag/indexer.js';
import type { SearchHit } from '../../rag/store.js';
import { VectorStore } from '../../rag/store.js';
import { integerFlag, parseFlags, UsageError, usageLine } from '../args.js';

const DEFAULT_INDEX = '.attn/rag-index.sqlite';

export const help = `Usage:
  attn rag index FOLDER [--index FILE] [--embedder E (default use-lite when installed, else lexical)]
                 [--chunk-chars N] [--overlap-chars N]
      Index the .md / .txt / .rst files under FOLDER (again: only new, changed and deleted files are redone).
      Chunks fit the embedder's token window (use-lite: 128 tokens); without one they are 1000 characters
      (overlap 200). Files that are not UTF-8 text are skipped.
  attn rag ask "QUESTION" [--index FILE] [--k 4] [--model M] [--base-url URL] [--retrieve-only] [--json]
      Retrieve the K best chunks and ask a chat model to answer from them, citing its sources.
      The model is any OpenAI-compatible API: --base-url / $OPENAI_BASE_URL (e.g. attn serve's
      http://127.0.0.1:8000/v1), key $OPENAI_API_KEY, model --model / $OPENAI_MODEL.
      --retrieve-only prints the chunks without asking a model.

The index file defaults to ${DEFAULT_INDEX} in the current folder.`;

function onePositional(positionals: string[], what: string): string {
  if (positionals.length !== 1) throw new UsageError(`expected exactly one ${what}, got ${positionals.length}`);
  return positionals[0]!;
}

async function index(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      index: { type: 'string' },
      embedder: { type: 'string' },
      'chunk-chars': { type: 'string' },
      'overlap-chars': { type: 'string' },
    },
  });
  const root = resolve(onePositional(positionals, 'FOLDER'));
  const embedder = await loadEmbedder(values.embedder);
  const store = await VectorStore.open(resolve(values.index ?? DEFAULT_INDEX), {
    embedderId: embedder.id,
    dimension: embedder.dimension,
    root,
  });
  try {
    const report = await indexFolder(store, embedder, {
      chunk: {
        maxChars:
          values['chunk-chars'] === undefined ? undefined : integerFlag(values['chunk-chars'], '--chunk-chars', 0),
        overlapChars:
          values['overlap-chars'] === undefined
            ? undefined
            : integerFlag(values['overlap-chars'], '--overlap-chars', 0),
      },
      onFile: (path, chunks) => console.error(`indexed ${path} (${chunks} chunks)`),
    });
    for (const { path, reason } of report.skipped) console.error(`skipped ${JSON.stringify(path)}: ${reason}`);
    console.log(
      `${store.path}: ${report.files} files, ${report.chunks} chunks ` +
        `(${report.added.length} added, ${report.updated.length} updated, ${report.removed.length} removed, ${report.unchanged} unchanged)`,
    );
  } finally {
    store.close();
  }
  return 0;
}

function describeHit(hit: SearchHit, i: number): string {
  return `[${i + 1}] ${sourceLabel(hit)}${hit.heading ? ` (${hit.heading})` : ''} score ${hit.score.toFixed(3)}`;
}

async function ask(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    allowPositionals: true,
    options: {
      index: { type: 'string' },
      k: { type: 'string' },
      model: { type: 'string' },
      'base-url': { type: 'string' },
      'retrieve-only': { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
  const question = onePositional(positionals, 'QUESTION (quote it)');
  const k = integerFlag(values.k, '--k', 4);
  if (k < 1) throw new UsageError('--k must be at least 1');
  const indexPath = resolve(values.index ?? DEFAULT_INDEX);
  const identity = await VectorStore.readIdentity(indexPath);
  const embedder = await loadEmbedder(identity.embedderId);
  const store = await VectorStore.open(indexPath, identity);
  try {
    if (values['retrieve-only']) {
      const hits = await retrieve(store, embedder, question, k);
      if (values.json) console.log(JSON.stringify({ question, sources: hits }));
      else hits.forEach((hit, i) => console.log(`${describeHit(hit, i)}\n${hit.text}\n`));
      return 0;
    }
    const client = new ChatClient({ baseURL: values['base-url'], model: values.model });
    const { answer, sources } = await askDocuments(client, store, embedder, question, { k });
    if (values.json) console.log(JSON.stringify({ question, answer, sources }));
    else console.log(`${answer}\n\nSources:\n${sources.map(describeHit).join('\n')}`);
    return 0;
  } finally {
    store.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  try {
    if (sub === 'index') return await index(rest);
    if (sub === 'ask') return await ask(rest);
    throw new UsageError(sub === undefined ? 'missing subcommand' : `unknown subcommand '${sub}'`);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('rag', err));
    return 2;
  }
}
