/** Command-line helpers shared by the `attn` subcommands: flag parsing whose mistakes become usage errors (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the command prints its help and exits with 2. */
export class UsageError extends Error {}

/** `parseArgs`, its errors turned into UsageErrors. */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A non-negative integer flag value (0 allowed), or `fallback` when the flag is absent. */
export function integerFlag(value: string | undefined, flag: string, fallback: number): number {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new UsageError(`${flag} must be a whole number >= 0, got '${value}'`);
  return parsed;
}

/** A finite number flag value, or undefined when the flag is absent. */
export function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`${flag} must be a number, got '${value}'`);
  return parsed;
}
