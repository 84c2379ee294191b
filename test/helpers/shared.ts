import { existsSync } from 'node:fs';
import { describe } from 'vitest';
import { sharedPath } from '../../src/util/paths.js';

/**
 * A describe block that needs files under ../shared: it runs where they exist and is skipped
 * with a message naming the missing path elsewhere (never passes silently).
 */
export function describeWithShared(name: string, relPaths: string[], fn: () => void): void {
  const missing = relPaths.map((p) => sharedPath(p)).filter((p) => !existsSync(p));
  if (missing.length > 0) {
    describe.skip(`${name} (skipped: missing ${missing.join(', ')})`, fn);
    console.warn(`[attn tests] skipping "${name}": missing ${missing.join(', ')}`);
  } else {
    describe(name, fn);
  }
}

export { sharedPath };
