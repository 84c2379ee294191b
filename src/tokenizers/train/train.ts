// trainTokenizer: byte-level BPE (GPT-2 style, lossless on any text) or WordPiece (BERT style) from a corpus,
// producing a standard tokenizer.json. The normalizer and pre-tokenizer are the ones the trained tokenizer will run
// (instantiated through @huggingface/tokenizers), so training sees words exactly as encoding will.
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';
import { byteAlphabet, GPT2_SPLIT_PATTERN, toByteLevel } from '../bytes.js';
import { addedToken, serializeMerges, type JsonObject, type TokenizerJson } from '../tokenizer-json.js';
import { templateProcessing } from '../post-process.js';
import { PreTrainedTokenizer } from '../tokenizer.js';
import type { SpecialTokenKey } from '../special-tokens.js';
import { progress, type Progress } from '../../util/progress.js';
import { trainMerges } from './merges.js';

export type NormalizerName = 'lowercase' | 'nfkc' | 'nfc' | 'nfd' | 'nfkd' | 'strip_accents';

export interface TrainTokenizerOptions {
  type: 'bpe' | 'wordpiece';
  /** Text files, read as UTF-8, one training text per line. */
  files?: string[];
  /** Training texts (in addition to files). */
  texts?: Iterable<string>;
  /** Size of the final vocabulary, special tokens included. */
  vocabSize: number;
  /** Pairs seen fewer times are never merged. Default 2. */
  minFrequency?: number;
  /**
   * Special tokens, given the first ids. Default: ["<|endoftext|>"] for bpe, [PAD] [UNK] [CLS] [SEP] [MASK] for
   * wordpiece. Their roles (pad, bos, ...) are recognised by the usual names; others become additional tokens.
   */
  specialTokens?: string[];
  /** Applied in order before pre-tokenization (and written into tokenizer.json). Default none. */
  normalizer?: NormalizerName | NormalizerName[];
  /** Longest text the model will take (model_max_length in tokenizer_config.json). */
  modelMaxLength?: number;
  /** Show progress (a bar on a terminal, JSON lines otherwise). Default true. */
  progress?: boolean;
}

const DEFAULT_SPECIALS = {
  bpe: ['<|endoftext|>'],
  wordpiece: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'],
};

/** The conventional names of each special token role, as HF models use them. */
const ROLE_NAMES: Record<SpecialTokenKey, string[]> = {
  pad_token: ['[PAD]', '<pad>', '<|pad|>'],
  unk_token: ['[UNK]', '<unk>', '<|unk|>'],
  cls_token: ['[CLS]', '<cls>'],
  sep_token: ['[SEP]', '<sep>'],
  mask_token: ['[MASK]', '<mask>'],
  bos_token: ['<s>', '<bos>', '<|endoftext|>', '<|begin_of_text|>', '<|startoftext|>'],
  eos_token: ['</s>', '<eos>', '<|endoftext|>', '<|end_of_text|>'],
};

const NORMALIZER_JSON: Record<NormalizerName, JsonObject> = {
  lowercase: { type: 'Lowercase' },
  nfkc: { type: 'NFKC' },
  nfc: { type: 'NFC' },
  nfd: { type: 'NFD' },
  nfkd: { type: 'NFKD' },
  strip_accents: { type: 'StripAccents' },
};

const WORDPIECE_PREFIX = '##';

function normalizerJson(names: NormalizerName[]): JsonObject | null {
  for (const n of names) {
    if (!(n in NORMALIZER_JSON))
      throw new RangeError(
        `trainTokenizer: unknown normalizer ${JSON.stringify(n)} (expected one of ${Object.keys(NORMALIZER_JSON).join(', ')})`,
      );
  }
  if (names.length === 0) return null;
  return names.length === 1
    ? NORMALIZER_JSON[names[0]!]
    : { type: 'Sequence', normalizers: names.map((n) => NORMALIZER_JSON[n]) };
}

/** The components around the model: what the trained tokenizer.json will hold besides vocab and merges. */
function pipeline(
  type: 'bpe' | 'wordpiece',
  normalizer: JsonObject | null,
): Omit<TokenizerJson, 'model' | 'added_tokens'> {
  const common = { version: '1.0', truncation: null, padding: null, normalizer };
  if (type === 'bpe') {
    const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
    return {
      ...common,
      pre_tokenizer: byteLevel,
      post_processor: { ...byteLevel, trim_offsets: false },
      decoder: byteLevel,
    };
  }
  return {
    ...common,
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: null,
    decoder: { type: 'WordPiece', prefix: WORDPIECE_PREFIX, cleanup: false },
  };
}

function* corpusLines(options: TrainTokenizerOptions): Generator<string> {
  for (const file of options.files ?? []) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new Error(
        `trainTokenizer: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      );
    }
    yield* text.split('\n');
  }
  if (options.texts) yield* options.texts;
}

function progressBar(
  options: TrainTokenizerOptions,
  bar: { label: string; unit: string; total?: number },
): Progress | undefined {
  return options.progress === false ? undefined : progress(bar);
}

/**
 * Counts the pre-tokenized words of the corpus as the trained tokenizer's own normalizer and pre-tokenizer see them.
 * Byte-level BPE splits with GPT-2's pattern and maps each distinct word to bytes once (the ByteLevel pre-tokenizer
 * maps every occurrence, which dominates training time on a large corpus).
 */
function countWords(
  options: TrainTokenizerOptions,
  components: Omit<TokenizerJson, 'model' | 'added_tokens'>,
): Map<string, number> {
  // A throwaway tokenizer with an empty model: only its normalizer and pre-tokenizer are used.
  const probe = new Tokenizer(
    {
      ...components,
      added_tokens: [],
      post_processor: null,
      decoder: null,
      model: {
        type: 'WordPiece',
        vocab: { '[UNK]': 0 },
        unk_token: '[UNK]',
        continuing_subword_prefix: WORDPIECE_PREFIX,
      },
    },
    {},
  );
  const byteLevel = options.type === 'bpe';
  const split = (text: string): string[] =>
    byteLevel ? (text.match(GPT2_SPLIT_PATTERN) ?? []) : probe.pre_tokenizer ? probe.pre_tokenizer(text) : [text];
  const counts = new Map<string, number>();
  const bar = progressBar(options, { label: 'tokenizer: counting words', unit: 'lines' });
  for (const line of corpusLines(options)) {
    bar?.tick();
    if (line.trim() === '') continue;
    for (const w of split(probe.normalizer ? probe.normalizer(line) : line)) counts.set(w, (counts.get(w) ?? 0) + 1);
  }
  bar?.done({ words: counts.size });
  return byteLevel ? new Map([...counts].map(([w, n]) => [toByteLevel(w), n])) : counts;
}

function specialTokenConfig(specials: string[]): JsonObject {
  const config: JsonObject = {};
  const additional: string[] = [];
  for (const token of specials) {
    const roles = (Object.keys(ROLE_NAMES) as SpecialTokenKey[]).filter((r) => ROLE_NAMES[r].includes(token));
    for (const role of roles) if (config[role] === undefined) config[role] = token;
    if (roles.length === 0) additional.push(token);
  }
  if (additional.length > 0) config['additional_special_tokens'] = additional;
  return config;
}

/**
 * Trains a tokenizer and returns it ready to use; `savePretrained(dir)` writes tokenizer.json (loadable by
 * AutoTokenizer and by Python's `tokenizers`), tokenizer_config.json and special_tokens_map.json.
 */
export function trainTokenizer(options: TrainTokenizerOptions): PreTrainedTokenizer {
  const { type } = options;
  if (type !== 'bpe' && type !== 'wordpiece')
    throw new RangeError(`trainTokenizer: type must be 'bpe' or 'wordpiece', got ${JSON.stringify(type)}`);
  if (!options.files?.length && !options.texts) throw new RangeError('trainTokenizer: give files or texts to train on');
  const specials = [...new Set(options.specialTokens ?? DEFAULT_SPECIALS[type])];
  if (!Number.isInteger(options.vocabSize) || options.vocabSize <= specials.length) {
    throw new RangeError(
      `trainTokenizer: vocabSize must be an integer above the ${specials.length} special tokens, got ${options.vocabSize}`,
    );
  }
  const names =
    options.normalizer === undefined
      ? []
      : typeof options.normalizer === 'string'
        ? [options.normalizer]
        : options.normalizer;
  const components = pipeline(type, normalizerJson(names));

  const counts = countWords(options, components);
  const words = [...counts.keys()];
  const splitWord =
    type === 'bpe' ? (w: string) => [...w] : (w: string) => [...w].map((c, i) => (i === 0 ? c : WORDPIECE_PREFIX + c));
  let mergeBar: Progress | undefined;
  const { symbols, merges } = trainMerges({
    words: words.map(splitWord),
    counts: words.map((w) => counts.get(w)!),
    initialAlphabet: type === 'bpe' ? byteAlphabet() : [],
    maxSymbols: options.vocabSize - specials.length,
    minFrequency: options.minFrequency ?? 2,
    join:
      type === 'bpe'
        ? (l, r) => l + r
        : (l, r) => l + (r.startsWith(WORDPIECE_PREFIX) ? r.slice(WORDPIECE_PREFIX.length) : r),
    onMerge: (mostMerges) =>
      (mergeBar ??= progressBar(options, { label: 'tokenizer: merging', unit: 'merges', total: mostMerges }))?.tick(),
  });
  mergeBar?.done();

  const vocab: Record<string, number> = {};
  let nextId = 0;
  for (const t of [...specials, ...symbols]) if (vocab[t] === undefined) vocab[t] = nextId++;
  const specialConfig = specialTokenConfig(specials);
  const unk = (specialConfig['unk_token'] as string | undefined) ?? null;
  if (type === 'wordpiece' && unk === null)
    throw new RangeError('trainTokenizer: a WordPiece tokenizer needs an unknown token such as [UNK] in specialTokens');

  const json: TokenizerJson = {
    ...components,
    added_tokens: specials.map((t, i) => addedToken(i, t)),
    model:
      type === 'bpe'
        ? {
            type: 'BPE',
            dropout: null,
            unk_token: null,
            continuing_subword_prefix: null,
            end_of_word_suffix: null,
            fuse_unk: false,
            byte_fallback: false,
            ignore_merges: false,
            vocab,
            merges: serializeMerges(merges),
          }
        : {
            type: 'WordPiece',
            unk_token: unk,
            continuing_subword_prefix: WORDPIECE_PREFIX,
            max_input_chars_per_word: 100,
            vocab,
          },
  };
  const cls = specialConfig['cls_token'] as string | undefined;
  const sep = specialConfig['sep_token'] as string | undefined;
  if (type === 'wordpiece' && cls !== undefined && sep !== undefined) {
    json.post_processor = templateProcessing(`${cls} $A ${sep}`, `${cls} $A ${sep} $B:1 ${sep}:1`, vocab);
  }
  const config: JsonObject = {
    ...specialConfig,
    // Byte-level BPE decodes losslessly; transformers' punctuation clean-up would break that.
    clean_up_tokenization_spaces: type === 'wordpiece',
    ...(options.modelMaxLength !== undefined ? { model_max_length: options.modelMaxLength } : {}),
  };
  return new PreTrainedTokenizer(json, config, { source: '(trained)' });
}
