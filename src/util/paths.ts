import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project root: the nearest folder above this file that holds package.json (works from src/ and dist/src/). */
export const projectRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(resolve(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('attn: cannot find package.json above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
  return dir;
})();

/**
 * `../shared` beside the project (data, goldens, tokenizers); read in place, never copied into the project.
 * ATTN_SHARED points elsewhere (CI points it at an empty folder to run the tests as on a bare clone).
 */
export const sharedRoot: string = resolve(process.env.ATTN_SHARED || resolve(projectRoot, '..', 'shared'));

export function sharedPath(...parts: string[]): string {
  return resolve(sharedRoot, ...parts);
}
