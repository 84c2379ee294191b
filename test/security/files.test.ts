// "Nothing half-written" across a power cut, not only a crash; secrets readable by their owner only; and no
// staging folder of a dead Trainer left behind forever.
import { spawnSync } from 'node:child_process';
import fs, { mkdirSync, readFileSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { TokenStore } from '../../src/hub/server/auth.js';
import { removeStaleStaging } from '../../src/training/checkpoint.js';
import { writeFileAtomic, writeFileAtomicSync } from '../../src/util/fs.js';
import { scratchDir } from './helpers.js';

afterEach(() => vi.restoreAllMocks());

/** A PID no process has: one that just exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

describe('atomic writes', () => {
  it('flush the file and the directory it is renamed into (async)', async () => {
    const dir = scratchDir('atomic');
    const probe = await open(join(dir, 'probe'), 'w');
    const fileHandlePrototype = Object.getPrototypeOf(probe) as { sync(): Promise<void> };
    await probe.close();
    const sync = vi.spyOn(fileHandlePrototype, 'sync');
    await writeFileAtomic(join(dir, 'data.json'), '{"a":1}');
    expect(readFileSync(join(dir, 'data.json'), 'utf8')).toBe('{"a":1}');
    expect(sync).toHaveBeenCalledTimes(2);
  });

  it('flush the file and the directory (sync)', () => {
    const dir = scratchDir('atomic-sync');
    const fsync = vi.spyOn(fs, 'fsyncSync');
    writeFileAtomicSync(join(dir, 'data.bin'), new Uint8Array([1, 2, 3]));
    expect(fsync).toHaveBeenCalledTimes(2);
    expect([...readFileSync(join(dir, 'data.bin'))]).toEqual([1, 2, 3]);
  });

  it('write chunks in order and honour a mode', async () => {
    const dir = scratchDir('atomic-mode');
    await writeFileAtomic(join(dir, 'chunks'), [new Uint8Array([1, 2]), new Uint8Array([3])], { mode: 0o600 });
    expect([...readFileSync(join(dir, 'chunks'))]).toEqual([1, 2, 3]);
    expect(statSync(join(dir, 'chunks')).mode & 0o777).toBe(0o600);
  });
});

describe('hub tokens', () => {
  it('keeps tokens.json (0600) and its folder (0700) to the owner, from the first token on', async () => {
    const data = join(scratchDir('tokens'), 'fresh-hub');
    await new TokenStore(data).add('alice', 'write');
    expect(statSync(join(data, 'tokens.json')).mode & 0o777).toBe(0o600);
    expect(statSync(data).mode & 0o777).toBe(0o700);
  });
});

describe('Trainer checkpoint staging', () => {
  it('removes the staging folders of dead processes and its own, and leaves a living process alone', async () => {
    const output = scratchDir('checkpoints');
    const dead = join(output, `.tmp-checkpoint-3-${deadPid()}`);
    const own = join(output, `.tmp-checkpoint-4-${process.pid}`);
    const living = join(output, `.tmp-checkpoint-5-${process.ppid}`);
    for (const dir of [dead, own, living]) {
      mkdirSync(dir);
      writeFileSync(join(dir, 'model.safetensors'), 'partial');
    }
    mkdirSync(join(output, 'checkpoint-2'));
    expect((await removeStaleStaging(output)).sort()).toEqual([dead, own].sort());
    expect([existsSync(dead), existsSync(own), existsSync(living), existsSync(join(output, 'checkpoint-2'))]).toEqual([
      false,
      false,
      true,
      true,
    ]);
  });
});
