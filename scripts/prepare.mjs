// npm's `prepare`: builds dist/ (and the studio) after `npm install` / `npm ci` in the clone and before `npm pack`.
// npm also runs it when `npx attn` first links this folder into npx's cache, where a full rebuild would cost a
// minute or two, silently, before the first command; there it builds only if dist/ is missing.
import { execSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const built = existsSync(join(root, 'dist', 'src', 'cli', 'main.js'));
if (process.env.npm_command !== 'exec' || !built) execSync('npm run build', { cwd: root, stdio: 'inherit' });
