// The download lock against the files Python's huggingface_hub leaves: an empty lock file (filelock keeps it after
// release) is stale unless the download it guards is still being written.
import { existsSync, utimesSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { withFileLock } from '../../src/hub/lock.js';
import { tempDir } from './helpers.js';

const longAgo = new Date(Date.now() - 120_000);

describe('download lock', () => {
  it('takes over an empty lock file Python left behind once nothing it guards is being written', async () => {
    const dir = tempDir('lock');
    const lock = join(dir, 'blob.lock');
    writeFileSync(lock, '');
    utimesSync(lock, longAgo, longAgo);
    expect(await withFileLock(lock, { activity: join(dir, 'blob.incomplete') }, async () => existsSync(lock))).toBe(
      true,
    );
    expect(existsSync(lock)).toBe(false);
  });

  it('waits while a Python download holding the lock keeps writing its .incomplete file', async () => {
    const dir = tempDir('lock');
    const lock = join(dir, 'blob.lock');
    const partial = join(dir, 'blob.incomplete');
    writeFileSync(lock, '');
    utimesSync(lock, longAgo, longAgo);
    writeFileSync(partial, 'downloading');
    let acquired = false;
    const waiting = withFileLock(lock, { activity: partial }, async () => {
      acquired = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(acquired).toBe(false);
    // Python finishes: its blob is renamed into place and the lock released (filelock removes it on some systems).
    await rm(partial);
    await rm(lock);
    await waiting;
    expect(acquired).toBe(true);
  });
});
