/**
 * Reading files that come from outside (model folders, hub downloads) without letting their kind or size take the
 * process down: only regular files are read (a symlink to /dev/zero would never end, a FIFO would block the open
 * until a writer appears), and text files above a size limit are refused before they are read.
 */
import { constants, type Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

export class FileKindError extends Error {}

function describeNonRegular(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isCharacterDevice()) return 'a character device (such as /dev/zero)';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** Opens `path` for reading if it is a regular file (after symlinks); O_NONBLOCK keeps a FIFO from blocking the open. */
export async function openRegularFile(path: string, what = 'file'): Promise<{ handle: FileHandle; size: number }> {
  const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const info = await handle.stat();
    if (!info.isFile())
      throw new FileKindError(`${path}: the ${what} is ${describeNonRegular(info)}; attn reads only regular files`);
    return { handle, size: info.size };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

/** Configuration-sized JSON: far above any real config.json, far below what would strain memory. */
export const MAX_JSON_BYTES = 64 * 1024 * 1024;

/** A regular file's text, refused above `maxBytes` before any of it is read. */
export async function readRegularTextFile(path: string, what = 'file', maxBytes = MAX_JSON_BYTES): Promise<string> {
  const { handle, size } = await openRegularFile(path, what);
  try {
    if (size > maxBytes)
      throw new FileKindError(`${path}: the ${what} is ${size} bytes; attn reads at most ${maxBytes} bytes of it`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}
