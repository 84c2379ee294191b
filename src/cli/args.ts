/** Command-line helpers shared by the `attn` subcommands: flag parsing whose mistakes become usage errors (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** A bad command line: the command prints one line (the reason, a suggestion, the help command) and exits with 2. */
export class UsageError extends Error {}

/** Edit distance (insertions, deletions, substitutions) between two short words. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}

/** The candidate closest to `word`, when it is close enough to be the likely intent (a typo, not another word). */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** " (did you mean 'x'?)" or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const guess = closest(word, candidates);
  return guess === undefined ? '' : ` (did you mean '${guess}'?)`;
}

/** `parseArgs`, its errors turned into short UsageErrors; an unknown flag suggests the nearest known one. */
export function parseFlags<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    const { code, message } = err as Error & { code?: string };
    const unknown = /^Unknown option '(-{1,2}[^']*)'/.exec(message);
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown) {
      const flags = Object.keys(config.options ?? {}).map((name) => `--${name}`);
      throw new UsageError(`unknown option '${unknown[1]}'${didYouMean(unknown[1]!, flags)}`);
    }
    throw new UsageError(message.split('. ')[0]!);
  }
}

/** The one line a usage error prints: `attn run: <reason>; see 'attn run --help'`. */
export function usageLine(command: string, err: UsageError): string {
  return `attn ${command}: ${err.message}; see 'attn ${command} --help'`;
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
