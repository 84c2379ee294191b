/**
 * A lock file shared by processes (several `attn` runs, or attn and Python, filling one cache).
 * Node has no flock, so the lock is a file created with O_EXCL holding `host pid`; its holder touches it
 * every few seconds, and a waiter breaks it when the holder is gone (same host, pid dead) or it went stale.
 * Python's huggingface_hub takes the same path with flock and leaves the (empty) file behind; such a file counts
 * as held while the work it guards shows activity (the `.incomplete` download growing), and as stale otherwise.
 */
import { hostname } from 'node:os';
import { mkdir, open, readFile, rm, stat, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { processIsAlive } from '../util/process.js';

const HEARTBEAT_MS = 2_000;
const STALE_MS = 30_000;

async function recentlyModified(path: string | undefined): Promise<boolean> {
  const info = path === undefined ? undefined : await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs <= STALE_MS;
}

async function lockIsAbandoned(lockPath: string, owner: string, activity: string | undefined): Promise<boolean> {
  const [host, pid] = owner.split(' ');
  if (host === hostname() && pid !== undefined && !processIsAlive(Number(pid))) return true;
  return !(await recentlyModified(lockPath)) && !(await recentlyModified(activity));
}

async function tryAcquire(lockPath: string, owner: string): Promise<boolean> {
  try {
    const handle = await open(lockPath, 'wx');
    await handle.writeFile(owner);
    await handle.close();
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Callers in this process queue here first: they share one owner string, and two of them breaking the same
 * abandoned lock at once could each remove the other's fresh lock and both write the file.
 */
const inProcess = new Map<string, Promise<unknown>>();

export interface FileLockOptions {
  /** A file the guarded work keeps writing (a download's .incomplete file): while it changes, the lock is live. */
  activity?: string;
}

export async function withFileLock<T>(lockPath: string, options: FileLockOptions, work: () => Promise<T>): Promise<T> {
  const previous = inProcess.get(lockPath) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(() => withProcessLock(lockPath, options, work));
  inProcess.set(lockPath, mine);
  try {
    return await mine;
  } finally {
    if (inProcess.get(lockPath) === mine) inProcess.delete(lockPath);
  }
}

async function withProcessLock<T>(lockPath: string, options: FileLockOptions, work: () => Promise<T>): Promise<T> {
  await mkdir(dirname(lockPath), { recursive: true });
  const owner = `${hostname()} ${process.pid}`;
  let waitMs = 20;
  while (!(await tryAcquire(lockPath, owner))) {
    const current = await readFile(lockPath, 'utf8').catch(() => undefined);
    // Re-read before removing so that a lock someone else just took over is left alone.
    if (current !== undefined && (await lockIsAbandoned(lockPath, current, options.activity))) {
      const again = await readFile(lockPath, 'utf8').catch(() => undefined);
      if (again === current) await rm(lockPath, { force: true });
      continue;
    }
    await new Promise((done) => setTimeout(done, waitMs));
    waitMs = Math.min(waitMs * 2, 500);
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(lockPath, now, now).catch(() => undefined);
  }, HEARTBEAT_MS);
  heartbeat.unref();
  try {
    return await work();
  } finally {
    clearInterval(heartbeat);
    await rm(lockPath, { force: true });
  }
}
