// `npm run bench -- <name> [args]`: runs the compiled bench/<name>.ts (built by the npm script first); files whose
// name starts with '_' are helpers, not benches.
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const [name, ...args] = process.argv.slice(2);
const dir = fileURLToPath(new URL('../dist/bench/', import.meta.url));
const available = existsSync(dir)
  ? readdirSync(dir)
      .filter((f) => f.endsWith('.js') && !f.startsWith('_'))
      .map((f) => f.slice(0, -3))
  : [];
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name>\navailable: ${available.join(', ') || '(none built)'}`);
  process.exit(2);
}
process.argv = [process.argv[0], `${dir}${name}.js`, ...args];
await import(pathToFileURL(`${dir}${name}.js`).href);
