// GPT-2-style byte-level BPE files (`vocab.json` / `encoder.json` + `merges.txt` / `vocab.bpe`) → tokenizer.json,
// with the components transformers' GPT2Converter builds.
import { TokenizerFileError } from '../errors.js';
import { addedToken, type JsonObject, type MergePair, type TokenizerJson } from '../tokenizer-json.js';
import { templateProcessing } from '../post-process.js';
import { specialTokenContent } from '../special-tokens.js';

export function parseVocabJson(value: unknown, file: string): Record<string, number> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerFileError(file, undefined, 'expected a JSON object mapping token → id');
  }
  for (const [token, id] of Object.entries(value)) {
    if (!Number.isInteger(id) || (id as number) < 0) {
      throw new TokenizerFileError(file, token, `id ${JSON.stringify(id)} is not a non-negative integer`);
    }
  }
  return value as Record<string, number>;
}

/** merges.txt: an optional "#version" line, then one "left right" pair per line, highest priority first. */
export function parseMergesTxt(text: string, file: string): MergePair[] {
  const merges: MergePair[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '' || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '') {
      throw new TokenizerFileError(file, `line ${i + 1}`, `expected "left right", found ${JSON.stringify(line)}`);
    }
    merges.push([parts[0]!, parts[1]!]);
  });
  return merges;
}

export function byteLevelBpeToTokenizerJson(
  vocab: Record<string, number>,
  merges: MergePair[],
  config: JsonObject,
  vocabFile: string,
): TokenizerJson {
  const addPrefixSpace = (config['add_prefix_space'] as boolean | undefined) ?? false;
  const bos = specialTokenContent(config['bos_token']) ?? '<|endoftext|>';
  const eos = specialTokenContent(config['eos_token']) ?? '<|endoftext|>';
  const unk = specialTokenContent(config['unk_token']) ?? '<|endoftext|>';
  const specials = [...new Set([bos, eos, unk])].filter((t) => vocab[t] !== undefined);
  const addBos = config['add_bos_token'] === true;
  if (addBos && vocab[bos] === undefined) {
    throw new TokenizerFileError(vocabFile, 'bos_token', `${JSON.stringify(bos)} is not in the vocabulary`);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((t) => addedToken(vocab[t]!, t)).sort((a, b) => a.id - b.id),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: true, use_regex: true },
    post_processor: addBos
      ? templateProcessing(`${bos} $A`, `${bos} $A ${bos}:1 $B:1`, vocab)
      : { type: 'ByteLevel', add_prefix_space: addPrefixSpace, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges: merges.map(([l, r]) => `${l} ${r}`),
    },
  };
}
