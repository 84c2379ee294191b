import { describe, expect, it } from 'vitest';
import { parseDelimited, type Quoting } from '../../src/data/delimited.js';

function parse(text: string, quoting: Quoting, delimiter = ',') {
  return parseDelimited(text, { delimiter, quoting, source: 'in.csv' });
}

describe('parseDelimited', () => {
  it('reads RFC 4180 CSV: quoted delimiters, doubled quotes, fields spanning lines, CRLF', () => {
    const { records, lines } = parse('a,b\r\n"x, y","say ""hi"""\r\n"two\nlines",3\r\n', 'csv');
    expect(records).toEqual([
      ['a', 'b'],
      ['x, y', 'say "hi"'],
      ['two\nlines', '3'],
    ]);
    expect(lines).toEqual([1, 2, 3]);
  });

  it('counts lines through multi-line fields and skips blank lines', () => {
    const { lines } = parse('h\n\n"a\nb"\n\nc\n', 'csv');
    expect(lines).toEqual([1, 3, 6]);
  });

  it('keeps empty fields, a trailing empty field, and a last line without a newline', () => {
    expect(parse('a,,\n,b', 'csv').records).toEqual([
      ['a', '', ''],
      ['', 'b'],
    ]);
  });

  it('names the file and line of text after a closing quote, and of a quote never closed', () => {
    expect(() => parse('h\nok\n"bad"x\n', 'csv')).toThrow(/in\.csv line 3: unexpected "x" after the closing quote/);
    expect(() => parse('h\n"open\nmore', 'csv')).toThrow(/in\.csv line 2: quoted field is never closed/);
  });

  it('lenient: reads a well-formed quoted field, and leaves raw text that only starts with a quote', () => {
    // The shapes met in NSMC (lone quote, quote inside the text) and AG News (CSV-quoted) TSV files.
    const text = '"\t0\n"이상한평점"이네요\t0\n"said ""no"""\t1\n"unclosed\t1\n';
    expect(parse(text, 'lenient', '\t').records).toEqual([
      ['"', '0'],
      ['"이상한평점"이네요', '0'],
      ['said "no"', '1'],
      ['"unclosed', '1'],
    ]);
  });

  it('none: quotes are ordinary characters', () => {
    expect(parse('"a"\t"b\n', 'none', '\t').records).toEqual([['"a"', '"b']]);
  });

  it('ignores a byte-order mark', () => {
    expect(parse('\ufeffa,b\n', 'csv').records).toEqual([['a', 'b']]);
  });
});
