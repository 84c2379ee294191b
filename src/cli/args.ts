/** Command-line helpers shared by the `attn` subcommands: flag parsing whose mistakes become usage errors (exit 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { didYouMean } from '../util/suggest.js';

export { didYouMean };

/** A bad command line: the command prints one line (the reason, a suggestion, the help command) and exits with 2. */
export class UsageError extends Error {}

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
  if (!Number.isInteger(parsed) || parsed < 0)
    throw new UsageError(`${flag} must be a whole number >= 0, got '${value}'`);
  return parsed;
}

/** A finite number flag value, or undefined when the flag is absent. */
export function numberFlag(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (value.trim() === '' || !Number.isFinite(parsed)) throw new UsageError(`${flag} must be a number, got '${value}'`);
  return parsed;
}
