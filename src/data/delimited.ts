/**
 * CSV / TSV parsing. Three quoting modes, because the files met in practice disagree:
 * - 'csv': RFC 4180. A field that starts with `"` is quoted, `""` inside is one quote, a quoted field may span lines;
 *   anything between a closing quote and the next delimiter is an error. The default for .csv files.
 * - 'lenient': a field that starts with `"` is read as quoted only when it is well formed on its own line (closes with
 *   `"` right before a delimiter or the line end, inner quotes doubled); otherwise it is literal text. The default for
 *   .tsv files: AG News quotes its fields CSV-style, while GLUE and NSMC write raw text where a field may begin with an
 *   unbalanced quote (`"이상한평점"이네요 …`, or a lone `"`), which strict parsing would run on into later rows.
 * - 'none': quotes are ordinary characters.
 */
export type Quoting = 'csv' | 'lenient' | 'none';

export interface DelimitedOptions {
  delimiter: string;
  quoting: Quoting;
  /** Names the input in error messages (a file path). */
  source: string;
}

export interface DelimitedRecords {
  records: string[][];
  /** The 1-based line on which each record starts, for messages about malformed rows. */
  lines: number[];
}

const QUOTE = 0x22;
const NEWLINE = 0x0a;
const RETURN = 0x0d;

/** Splits `text` into records of fields. Blank lines are skipped; a leading byte-order mark is ignored. */
export function parseDelimited(text: string, options: DelimitedOptions): DelimitedRecords {
  if (options.delimiter.length !== 1) {
    throw new RangeError(
      `${options.source}: delimiter must be one character, got ${JSON.stringify(options.delimiter)}`,
    );
  }
  return new Scanner(text, options).scan();
}

class Scanner {
  private pos: number;
  private line = 1;
  private readonly delimiter: number;

  constructor(
    private readonly text: string,
    private readonly options: DelimitedOptions,
  ) {
    this.pos = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.delimiter = options.delimiter.charCodeAt(0);
  }

  scan(): DelimitedRecords {
    const records: string[][] = [];
    const lines: number[] = [];
    const { text } = this;
    while (this.pos < text.length) {
      const c = text.charCodeAt(this.pos);
      if (c === NEWLINE || (c === RETURN && text.charCodeAt(this.pos + 1) === NEWLINE)) {
        this.skipNewline();
        continue;
      }
      lines.push(this.line);
      records.push(this.readRecord());
    }
    return { records, lines };
  }

  private readRecord(): string[] {
    const fields: string[] = [];
    for (;;) {
      fields.push(this.readField());
      const c = this.text.charCodeAt(this.pos);
      if (c === this.delimiter) {
        this.pos++;
        continue;
      }
      // End of the record: a newline (consumed here) or the end of the text.
      if (this.pos < this.text.length) this.skipNewline();
      return fields;
    }
  }

  /** Reads one field and leaves `pos` on the delimiter, the line break, or the end of the text. */
  private readField(): string {
    if (this.options.quoting !== 'none' && this.text.charCodeAt(this.pos) === QUOTE) {
      const quoted = this.readQuoted();
      if (quoted !== undefined) return quoted;
    }
    return this.readUnquoted();
  }

  private readUnquoted(): string {
    const { text } = this;
    const start = this.pos;
    let end = start;
    while (end < text.length) {
      const c = text.charCodeAt(end);
      if (c === this.delimiter || c === NEWLINE) break;
      end++;
    }
    this.pos = end;
    // A CRLF file leaves '\r' before the '\n' (or before the end of the text).
    if (end > start && text.charCodeAt(end - 1) === RETURN && (end === text.length || text.charCodeAt(end) === NEWLINE))
      end--;
    return text.slice(start, end);
  }

  /**
   * Reads a quoted field starting at `pos` (on the opening quote). Returns undefined in 'lenient' mode when the field
   * is not well formed on its line, leaving `pos` unchanged so the caller reads it as literal text.
   */
  private readQuoted(): string | undefined {
    const { text } = this;
    const strict = this.options.quoting === 'csv';
    const openLine = this.line;
    let search = this.pos + 1;
    for (;;) {
      const close = text.indexOf('"', search);
      const lineEnd = text.indexOf('\n', search);
      const spansLine = lineEnd !== -1 && (close === -1 || lineEnd < close);
      if (!strict && spansLine) return undefined;
      if (close === -1) {
        if (!strict) return undefined;
        throw new SyntaxError(
          `${this.options.source} line ${openLine}: quoted field is never closed (a '"' opens it and no '"' ends it)`,
        );
      }
      if (text.charCodeAt(close + 1) === QUOTE) {
        search = close + 2;
        continue;
      }
      const after = close + 1;
      const next = text.charCodeAt(after);
      const endsField =
        after >= text.length ||
        next === this.delimiter ||
        next === NEWLINE ||
        (next === RETURN && text.charCodeAt(after + 1) === NEWLINE);
      if (!endsField) {
        if (!strict) return undefined;
        const lineOfClose = openLine + countNewlines(text, this.pos, close);
        throw new SyntaxError(
          `${this.options.source} line ${lineOfClose}: unexpected ${JSON.stringify(text[after])} after the closing quote of a quoted field ` +
            `(expected the delimiter ${JSON.stringify(this.options.delimiter)} or the end of the line; write a quote inside a quoted field as "")`,
        );
      }
      const value = text.slice(this.pos + 1, close).replaceAll('""', '"');
      this.line += countNewlines(text, this.pos, close);
      this.pos = after;
      if (next === RETURN) this.pos++;
      return value;
    }
  }

  private skipNewline(): void {
    if (this.text.charCodeAt(this.pos) === RETURN) this.pos++;
    this.pos++;
    this.line++;
  }
}

function countNewlines(text: string, from: number, to: number): number {
  let count = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) count++;
  return count;
}
