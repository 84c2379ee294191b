import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { dirname, basename, join } from 'node:path';

function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

export interface AtomicWriteOptions {
  /** File mode of a new file (before the umask); default 0o666. 0o600 for secrets. */
  mode?: number;
}

/** Platforms where a directory cannot be opened for fsync (Windows) say so with these; there a rename is final. */
const NO_DIRECTORY_SYNC = new Set(['EISDIR', 'EPERM', 'EACCES', 'EINVAL']);

/**
 * Flushes a directory's entries to disk, so that a file renamed into it is there after a power cut, not only after
 * a crash of this process.
 */
export async function syncDirectory(dir: string): Promise<void> {
  let handle;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    if (!NO_DIRECTORY_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    await handle?.close();
  }
}

function syncDirectorySync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch (err) {
    if (!NO_DIRECTORY_SYNC.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Writes to a temporary name beside `path`, flushes it to disk, renames it over `path` and flushes the directory:
 * neither a crash nor a power cut leaves a half-written file (the old content or the new, whole).
 */
export function writeFileAtomicSync(path: string, data: string | Uint8Array, options: AtomicWriteOptions = {}): void {
  fs.mkdirSync(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  try {
    const fd = fs.openSync(tmp, 'w', options.mode ?? 0o666);
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, path);
  } catch (err) {
    fs.rmSync(tmp, { force: true });
    throw err;
  }
  syncDirectorySync(dirname(path));
}

/** As writeFileAtomicSync; `data` may be chunks (a large file streamed from its parts without one buffer holding it all). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<Uint8Array>,
  options: AtomicWriteOptions = {},
): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempNameFor(path);
  try {
    const handle = await open(tmp, 'w', options.mode ?? 0o666);
    try {
      // writeFile on a handle writes from its position: chunks follow each other.
      for (const chunk of typeof data === 'string' || data instanceof Uint8Array ? [data] : data)
        await handle.writeFile(chunk);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
}
