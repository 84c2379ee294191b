/**
 * Following a Trainer run for the Training page: its output folder's trainer_state.json (rewritten atomically by
 * the Trainer at every log) is read now and again whenever it changes, and each version goes out as an event.
 */
import { existsSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TRAINER_STATE } from '../training/checkpoint.js';
import type { LogEntry } from '../training/callbacks.js';

export interface RunSnapshot {
  dir: string;
  globalStep: number;
  maxSteps: number;
  epoch: number;
  logHistory: LogEntry[];
}

export type RunEvent = { kind: 'state'; run: RunSnapshot } | { kind: 'waiting'; message: string };

/** How often the file is checked: stat polling survives the Trainer's write-then-rename, which fs.watch may miss. */
const POLL_MS = 400;

/** trainer_state.json of `dir` as a snapshot; attn writes camelCase keys, Hugging Face's Trainer snake_case. */
export async function readRun(dir: string): Promise<RunSnapshot> {
  const path = join(dir, TRAINER_STATE);
  let state: Record<string, unknown>;
  try {
    state = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: cannot read the trainer state (${(err as Error).message})`);
  }
  const history = state['logHistory'] ?? state['log_history'];
  if (!Array.isArray(history))
    throw new Error(`${path}: no logHistory (or log_history) array; is this a Trainer's output folder?`);
  const number = (camel: string, snake: string): number => Number(state[camel] ?? state[snake] ?? 0);
  return {
    dir,
    globalStep: number('globalStep', 'global_step'),
    maxSteps: number('maxSteps', 'max_steps'),
    epoch: number('epoch', 'epoch'),
    logHistory: history as LogEntry[],
  };
}

/**
 * Calls `onEvent` with the run's state now and after every change of its trainer_state.json (a 'waiting' event
 * while there is none yet: a run that has not logged). Returns the function that stops watching.
 */
export function watchRun(folder: string, onEvent: (event: RunEvent) => void): () => void {
  const dir = resolve(folder);
  const path = join(dir, TRAINER_STATE);
  let stopped = false;
  // Reads are chained so that events leave in the order the file changed.
  let reading = Promise.resolve();
  const publish = (): void => {
    reading = reading.then(async () => {
      if (stopped) return;
      if (!existsSync(path)) {
        const why = existsSync(dir)
          ? `no ${TRAINER_STATE} in ${dir} yet: the run has not logged`
          : `${dir} does not exist (yet)`;
        onEvent({ kind: 'waiting', message: why });
        return;
      }
      try {
        onEvent({ kind: 'state', run: await readRun(dir) });
      } catch (err) {
        onEvent({ kind: 'waiting', message: (err as Error).message });
      }
    });
  };
  const onChange = (current: Stats, previous: Stats): void => {
    if (current.mtimeMs !== previous.mtimeMs || current.ino !== previous.ino || current.size !== previous.size)
      publish();
  };
  publish();
  watchFile(path, { interval: POLL_MS, persistent: false }, onChange);
  return () => {
    stopped = true;
    unwatchFile(path, onChange);
  };
}
