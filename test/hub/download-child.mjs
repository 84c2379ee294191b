// A client process for the fault tests: downloads one file (args: endpoint cacheDir repoId path) and prints its path.
const { hubDownload } = await import('../../src/hub/download.ts');
const [endpoint, cacheDir, repoId, path] = process.argv.slice(2);
console.log(await hubDownload(repoId, path, { endpoint, cacheDir }));
