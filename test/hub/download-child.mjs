// A client process for the fault tests: downloads one file (args: endpoint cacheDir repoId path [goFile]) and prints
// its path. With goFile, it says "ready" on stderr once loaded and starts only when that file exists, so that two
// such processes can be started at the same moment.
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

const { hubDownload } = await import('../../src/hub/download.ts');
const [endpoint, cacheDir, repoId, path, goFile] = process.argv.slice(2);
if (goFile !== undefined) {
  console.error('ready');
  while (!existsSync(goFile)) await sleep(5);
}
console.log(await hubDownload(repoId, path, { endpoint, cacheDir }));
