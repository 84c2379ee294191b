import { existsSync } from 'node:fs';
import { describe, it } from 'vitest';
import { sharedPath } from '../../src/util/paths.js';

/**
 * A describe block that needs files (absolute paths): it runs where they all exist. Elsewhere `fn` is never called,
 * so nothing is read at collection time, and one skipped test names the missing paths (never passes silently).
 */
export function describeWithFiles(name: string, paths: string[], fn: () => void): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    // describe.skip would still run fn to collect its tests, and fn may read the missing files.
    it.skip(`${name} (skipped: missing ${missing.join(', ')})`, () => {});
    console.warn(`[attn tests] skipping "${name}": missing ${missing.join(', ')}`);
  } else {
    describe(name, fn);
  }
}

/**
 * describeWithFiles for paths under ../shared (or $ATTN_SHARED). The Hugging Face goldens need none of this: they
 * are vendored (`goldenPath` in test/models/golden.ts).
 */
export function describeWithShared(name: string, relPaths: string[], fn: () => void): void {
  describeWithFiles(
    name,
    relPaths.map((p) => sharedPath(p)),
    fn,
  );
}

export { sharedPath };
