import type { ChatClient, SamplingOptions, Usage } from '../chat/client.js';
import type { ChatMessage, Embedder } from '../chat/types.js';
import type { SearchHit, VectorStore } from './store.js';

/** The chunks most relevant to `question`, best first. */
export async function retrieve(store: VectorStore, embedder: Embedder, question: string, k = 4): Promise<SearchHit[]> {
  const [query] = await embedder.embed([question]);
  return store.search(query!, k);
}

/** How a source is cited: `notes/setup.md:12-30`. */
export function sourceLabel(hit: SearchHit): string {
  return `${hit.path}:${hit.startLine}-${hit.endLine}`;
}

/** The chat messages that ask a model to answer from numbered sources only, citing them as [1], [2]… */
export function ragMessages(question: string, hits: SearchHit[]): ChatMessage[] {
  const sources = hits
    .map((hit, i) => `[${i + 1}] ${sourceLabel(hit)}${hit.heading ? ` (${hit.heading})` : ''}\n${hit.text}`)
    .join('\n\n');
  return [
    {
      role: 'system',
      content:
        'Answer the question using only the numbered sources. Cite the sources you use as [1], [2], and so on. ' +
        'If the sources do not contain the answer, say that you do not know.',
    },
    { role: 'user', content: `Sources:\n\n${sources}\n\nQuestion: ${question}` },
  ];
}

export interface RagAnswer {
  answer: string;
  /** The retrieved chunks, in the order they were numbered for citation. */
  sources: SearchHit[];
  usage?: Usage;
}

/** Retrieves the top chunks for `question` and asks a chat model to answer from them, citing its sources. */
export async function askDocuments(
  client: ChatClient,
  store: VectorStore,
  embedder: Embedder,
  question: string,
  options: SamplingOptions & { k?: number } = {},
): Promise<RagAnswer> {
  const { k, ...sampling } = options;
  const sources = await retrieve(store, embedder, question, k);
  if (sources.length === 0) throw new Error(`RAG index ${store.path} is empty: index a folder first`);
  const result = await client.chat({ ...sampling, messages: ragMessages(question, sources) });
  return { answer: result.text, sources, usage: result.usage };
}
