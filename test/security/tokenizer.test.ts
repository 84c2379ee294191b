// A tokenizer.json from the hub is data, not code: its regular expressions must not be able to hang the process
// (V8 cannot stop a running match), and its vocabulary must be one a model can index.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { TokenizerFileError } from '../../src/tokenizers/errors.js';
import { backtrackingRisk, checkTokenizerRegexes, TRUST_REGEX_ENV } from '../../src/tokenizers/regex-guard.js';
import { scratchDir } from './helpers.js';

const VOCAB = { '[UNK]': 0, a: 1, '!': 2, aa: 3 };

function tokenizerFolder(parts: Record<string, unknown>): string {
  const dir = scratchDir('tokenizer');
  const json = { version: '1.0', model: { type: 'WordLevel', vocab: VOCAB, unk_token: '[UNK]' }, ...parts };
  writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify(json));
  return dir;
}

const split = (pattern: string) => ({
  type: 'Split',
  pattern: { Regex: pattern },
  behavior: 'Isolated',
  invert: false,
});

function loadError(dir: string): TokenizerFileError {
  try {
    AutoTokenizer.fromDirectory(dir);
  } catch (err) {
    expect(err).toBeInstanceOf(TokenizerFileError);
    return err as TokenizerFileError;
  }
  throw new Error(`${dir} loaded`);
}

/** Pre-tokenizer patterns of tokenizers in wide use on the hub: none may be refused. */
const IN_USE: Record<string, string> = {
  gpt2: "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
  llama3:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  qwen2:
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
  o200k:
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]*[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
    "[^\\r\\n\\p{L}\\p{N}]?[\\p{Lu}\\p{Lt}\\p{Lm}\\p{Lo}\\p{M}]+[\\p{Ll}\\p{Lm}\\p{Lo}\\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|" +
    '\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+',
  deepseekDigits: '\\p{N}{1,3}',
  cjk: '[一-龥\\u3040-ゟ゠-ヿ]+',
  newlines: '(?:\\r\\n|\\n)+',
  spaces: ' {2,}',
};

describe('regular expressions in tokenizer.json', () => {
  it("refuses Split '(a+)+$' at load, naming the file, the field and the pattern", () => {
    const dir = tokenizerFolder({ pre_tokenizer: split('(a+)+$') });
    const err = loadError(dir);
    expect(err.message).toContain(join(dir, 'tokenizer.json'));
    expect(err.field).toBe('pre_tokenizer.pattern.Regex');
    expect(err.message).toMatch(/\(a\+\)\+\$.*exponential.*ATTN_TRUST_TOKENIZER_REGEX=1/);
  });

  it("refuses Replace '(a|aa)+$' in the normalizer, and finds patterns nested in Sequences and decoders", () => {
    const replace = { type: 'Replace', pattern: { Regex: '(a|aa)+$' }, content: 'x' };
    expect(loadError(tokenizerFolder({ normalizer: replace })).field).toBe('normalizer.pattern.Regex');
    const sequence = { type: 'Sequence', pretokenizers: [{ type: 'Whitespace' }, split('(?:\\s*)*x')] };
    expect(loadError(tokenizerFolder({ pre_tokenizer: sequence })).field).toBe(
      'pre_tokenizer.pretokenizers[1].pattern.Regex',
    );
    const decoder = { type: 'Sequence', decoders: [{ type: 'Replace', pattern: { Regex: '(.*a){12}' }, content: '' }] };
    expect(loadError(tokenizerFolder({ decoder })).field).toBe('decoder.decoders[0].pattern.Regex');
  });

  it('names each shape that backtracks catastrophically', () => {
    for (const pattern of [
      '(a+)+$',
      '(a*)*b',
      '(a?)+b',
      '(?:a|a)*b',
      '(a|ab)*c',
      '(\\w|\\d)+$',
      '(x+x+)+y',
      '(a+){2,}',
      '(.)\\1+',
      '(?<q>a)\\k<q>',
      'a*a*a*b',
    ]) {
      expect([pattern, backtrackingRisk(pattern)]).toEqual([pattern, expect.any(String)]);
    }
  });

  it('accepts the patterns of tokenizers in use, and tokenizes with them as before', () => {
    for (const [name, pattern] of Object.entries(IN_USE))
      expect([name, backtrackingRisk(pattern)]).toEqual([name, undefined]);
    const tokenizer = AutoTokenizer.fromDirectory(tokenizerFolder({ pre_tokenizer: split(IN_USE.gpt2!) }));
    expect(tokenizer.tokenize('aa a!')).toEqual(['aa', ' a', '!']);
  });

  it(`loads a refused pattern when ${TRUST_REGEX_ENV}=1 says the file is trusted`, () => {
    const json = { pre_tokenizer: split('(a+)+$') };
    expect(() => checkTokenizerRegexes(json, 'x/tokenizer.json', {})).toThrow(TokenizerFileError);
    expect(() => checkTokenizerRegexes(json, 'x/tokenizer.json', { [TRUST_REGEX_ENV]: '1' })).not.toThrow();
  });
});

describe('vocabulary of tokenizer.json', () => {
  function folderWithVocab(vocab: unknown, added: unknown[] = []): string {
    const dir = scratchDir('vocab');
    writeFileSync(
      join(dir, 'tokenizer.json'),
      JSON.stringify({ model: { type: 'WordLevel', vocab, unk_token: '[UNK]' }, added_tokens: added }),
    );
    return dir;
  }

  it('refuses negative, fractional or huge ids, naming the token', () => {
    for (const id of [-1, 1.5, 2 ** 60, '3']) {
      const err = loadError(folderWithVocab({ '[UNK]': 0, bad: id }));
      expect(err.field).toBe('model.vocab["bad"]');
      expect(err.message).toMatch(/not a non-negative integer/);
    }
    const added = loadError(folderWithVocab({ '[UNK]': 0 }, [{ id: -5, content: '<x>', special: true }]));
    expect(added.field).toBe('added_tokens[0]');
  });

  it('refuses an empty vocabulary', () => {
    expect(loadError(folderWithVocab({})).message).toMatch(/model\.vocab.*empty/);
    const dir = scratchDir('unigram');
    writeFileSync(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'Unigram', vocab: [] } }));
    expect(loadError(dir).field).toBe('model.vocab');
  });
});
