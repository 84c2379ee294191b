// A tokenizer.json from the hub carries regular expressions (Split and Replace in the normalizer, pre-tokenizer and
// decoder) that @huggingface/tokenizers compiles with `new RegExp(pattern, 'gu')` and runs on every text. V8's
// engine backtracks, so a pattern like `(a+)+$` takes exponential time on 40 characters, and nothing can stop a
// running match: one such file would block the whole process (every request of `attn serve` or the studio). V8's
// linear-time engine cannot run `u` patterns in Node 20, so the patterns are checked before they are compiled, and
// refused when their shape allows catastrophic backtracking. The check is conservative: no tokenizer in common use
// trips it, and ATTN_TRUST_TOKENIZER_REGEX=1 turns it off for a file one trusts.
import { TokenizerFileError } from './errors.js';

export const TRUST_REGEX_ENV = 'ATTN_TRUST_TOKENIZER_REGEX';

/** More unbounded quantifiers than this in one alternative make matching polynomial of a higher degree (n³, …). */
const MAX_UNBOUNDED_IN_SEQUENCE = 2;

interface Item {
  /** What a first character can be: one known character, or anything (classes, escapes, groups). */
  first: string | undefined;
  /** Quantified with a maximum above 1 (`*`, `+`, `{2,}`, `{1,3}`). */
  repeated: boolean;
  unbounded: boolean;
  /** Has a quantifier of its own (`?` included). */
  quantified: boolean;
  /** May match nothing (`?`, `*`, `{0,n}`): then it does not decide the first character. */
  optional: boolean;
  /** Holds a quantifier somewhere inside (a group). */
  containsQuantifier: boolean;
  /** A group whose alternatives may start with the same character. */
  ambiguousAlternation: boolean;
}

/** Simple escapes that stand for one known character. */
const CHARACTER_ESCAPES: Record<string, string> = { n: '\n', r: '\r', t: '\t', f: '\f', v: '\v', '0': '\0' };

type Atom = Pick<Item, 'first' | 'containsQuantifier' | 'ambiguousAlternation'>;

class PatternScanner {
  private at = 0;

  constructor(private readonly source: string) {}

  /** Why the pattern can backtrack catastrophically, or undefined. */
  problem(): string | undefined {
    try {
      this.alternatives();
      return undefined;
    } catch (err) {
      if (err instanceof UnsafePattern) return err.message;
      throw err;
    }
  }

  /** Alternatives up to a ')' or the end; returns the group's summary. */
  private alternatives(): Atom {
    const firsts: Array<string | undefined> = [];
    let containsQuantifier = false;
    let ambiguousInside = false;
    for (;;) {
      const sequence = this.sequence();
      firsts.push(sequence.first);
      containsQuantifier ||= sequence.containsQuantifier;
      ambiguousInside ||= sequence.ambiguous;
      if (this.source[this.at] !== '|') break;
      this.at++;
    }
    const known = firsts.filter((f): f is string => f !== undefined);
    const overlapping = firsts.length > 1 && (known.length < firsts.length || new Set(known).size < known.length);
    return {
      first: firsts.length === 1 ? firsts[0] : undefined,
      containsQuantifier,
      ambiguousAlternation: overlapping || ambiguousInside,
    };
  }

  private sequence(): { first: string | undefined; containsQuantifier: boolean; ambiguous: boolean } {
    const items: Item[] = [];
    while (this.at < this.source.length && this.source[this.at] !== '|' && this.source[this.at] !== ')') {
      const item = this.item();
      if (item.repeated && (item.containsQuantifier || item.ambiguousAlternation)) {
        throw new UnsafePattern(
          item.containsQuantifier
            ? 'a repeated group holds another quantifier (like `(a+)+`): matching can take exponential time'
            : 'a repeated group has alternatives that can match the same text (like `(a|aa)+`): matching can take exponential time',
        );
      }
      items.push(item);
    }
    if (items.filter((i) => i.unbounded).length > MAX_UNBOUNDED_IN_SEQUENCE) {
      throw new UnsafePattern(
        `more than ${MAX_UNBOUNDED_IN_SEQUENCE} unbounded quantifiers in a row (like \`a*a*a*b\`): matching can take polynomial time of a high degree`,
      );
    }
    return {
      first: items[0] === undefined || items[0].optional ? undefined : items[0].first,
      containsQuantifier: items.some((i) => i.containsQuantifier || i.quantified),
      ambiguous: items.some((i) => i.ambiguousAlternation),
    };
  }

  private item(): Item {
    const atom = this.atom();
    const quantifier = this.quantifier();
    return {
      ...atom,
      repeated: quantifier.max > 1,
      unbounded: quantifier.max === Infinity,
      quantified: quantifier.min !== 1 || quantifier.max !== 1,
      optional: quantifier.min === 0,
    };
  }

  private atom(): Atom {
    const plain = { containsQuantifier: false, ambiguousAlternation: false };
    const c = this.source[this.at++]!;
    if (c === '\\') return { first: this.escape(), ...plain };
    if (c === '[') {
      this.skipClass();
      return { first: undefined, ...plain };
    }
    if (c === '(') {
      this.groupPrefix();
      const inner = this.alternatives();
      if (this.source[this.at] !== ')') throw new UnsafePattern('an unclosed group');
      this.at++;
      return inner;
    }
    if (c === '.' || c === '^' || c === '$') return { first: undefined, ...plain };
    return { first: c, ...plain };
  }

  /** After '\\': a known character for simple escapes, undefined for classes and the rest. Backreferences are refused. */
  private escape(): string | undefined {
    const c = this.source[this.at++];
    if (c === undefined) return '\\';
    if (/[1-9]/.test(c) || (c === 'k' && this.source[this.at] === '<')) {
      throw new UnsafePattern('a backreference: matching can take exponential time');
    }
    if ((c === 'p' || c === 'P') && this.source[this.at] === '{') {
      this.at = this.source.indexOf('}', this.at) + 1 || this.source.length;
      return undefined;
    }
    if (c === 'u' || c === 'x') {
      const hex =
        this.source[this.at] === '{' ? /^\{([0-9A-Fa-f]+)\}/ : c === 'u' ? /^([0-9A-Fa-f]{4})/ : /^([0-9A-Fa-f]{2})/;
      const match = hex.exec(this.source.slice(this.at));
      if (match === null) return c;
      this.at += match[0].length;
      return String.fromCodePoint(parseInt(match[1]!, 16));
    }
    if (c in CHARACTER_ESCAPES) return CHARACTER_ESCAPES[c];
    return /[A-Za-z]/.test(c) ? undefined : c;
  }

  private skipClass(): void {
    for (let depth = 1; this.at < this.source.length && depth > 0; this.at++) {
      const c = this.source[this.at];
      if (c === '\\') this.at++;
      else if (c === '[') depth++;
      else if (c === ']') depth--;
    }
  }

  /** `(?:`, `(?=`, `(?!`, `(?<=`, `(?<!`, `(?<name>`, `(?>`, `(?i:` … */
  private groupPrefix(): void {
    if (this.source[this.at] !== '?') return;
    const match = /^\?(?:<[=!]|<[A-Za-z_][A-Za-z0-9_]*>|[:=!>]|[a-zA-Z-]+:)/.exec(this.source.slice(this.at));
    this.at += match === null ? 1 : match[0].length;
  }

  /** The quantifier after an atom as { min, max }; { 1, 1 } without one. */
  private quantifier(): { min: number; max: number } {
    const c = this.source[this.at];
    let bounds = { min: 1, max: 1 };
    if (c === '*' || c === '+' || c === '?') {
      bounds = { min: c === '+' ? 1 : 0, max: c === '?' ? 1 : Infinity };
      this.at++;
    } else if (c === '{') {
      const match = /^\{(\d+)(,(\d*))?\}/.exec(this.source.slice(this.at));
      if (match === null) return bounds;
      this.at += match[0].length;
      const min = Number(match[1]);
      bounds = { min, max: match[2] === undefined ? min : match[3] === '' ? Infinity : Number(match[3]) };
    } else return bounds;
    // Lazy (`*?`) and possessive (`*+`) forms backtrack the same way or less.
    if (this.source[this.at] === '?' || this.source[this.at] === '+') this.at++;
    return bounds;
  }
}

class UnsafePattern extends Error {}

/** Why `pattern` can make matching take exponential (or high polynomial) time, or undefined when it cannot. */
export function backtrackingRisk(pattern: string): string | undefined {
  return new PatternScanner(pattern).problem();
}

/** Every `{ Regex: … }` pattern of a tokenizer.json component, with the path of its field. */
function* regexFields(value: unknown, path: string): Generator<[path: string, pattern: string]> {
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) yield* regexFields(value[i], `${path}[${i}]`);
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, child] of Object.entries(value)) {
      if (key === 'Regex' && typeof child === 'string') yield [`${path}.Regex`, child];
      else yield* regexFields(child, `${path}.${key}`);
    }
  }
}

/**
 * Refuses a tokenizer.json whose normalizer, pre-tokenizer or decoder holds a regular expression that can
 * backtrack catastrophically, naming the field and the pattern, unless ATTN_TRUST_TOKENIZER_REGEX=1.
 */
export function checkTokenizerRegexes(
  json: Record<string, unknown>,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (env[TRUST_REGEX_ENV] === '1') return;
  for (const field of ['normalizer', 'pre_tokenizer', 'decoder']) {
    for (const [path, pattern] of regexFields(json[field], field)) {
      const risk = backtrackingRisk(pattern);
      if (risk !== undefined) {
        throw new TokenizerFileError(
          file,
          path,
          `the pattern ${JSON.stringify(pattern)} is refused: ${risk}, and a running match cannot be stopped. ` +
            `If you trust this file, set ${TRUST_REGEX_ENV}=1`,
        );
      }
    }
  }
}
