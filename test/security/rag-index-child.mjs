// `node --import ./test/hub/register-ts.mjs test/security/rag-index-child.mjs FOLDER INDEX EMBEDDER [ask QUESTION]`:
// indexes FOLDER (or, with `ask`, retrieves from INDEX) in a process of its own and prints one JSON line with its
// peak resident memory, so a test can hold memory to a bound.
const [folder, indexPath, embedderName, mode, question] = process.argv.slice(2);
await import('../../src/backends/register.ts');
const { loadEmbedder } = await import('../../src/chat/server.ts');
const { VectorStore } = await import('../../src/rag/store.ts');
const embedder = await loadEmbedder(embedderName);
let result;
if (mode === 'ask') {
  const { retrieve } = await import('../../src/rag/ask.ts');
  const store = await VectorStore.open(indexPath, await VectorStore.readIdentity(indexPath));
  result = { hits: (await retrieve(store, embedder, question, 3)).map((hit) => hit.text) };
  store.close();
} else {
  const { indexFolder } = await import('../../src/rag/indexer.ts');
  const store = await VectorStore.open(indexPath, {
    embedderId: embedder.id,
    dimension: embedder.dimension,
    root: folder,
  });
  const report = await indexFolder(store, embedder);
  store.close();
  result = { chunks: report.chunks, skipped: report.skipped };
}
console.log(JSON.stringify({ ...result, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
