// BERT-style `vocab.txt` (one WordPiece token per line, id = line number) → tokenizer.json, with the same
// components transformers' BertConverter builds from a BertTokenizer.
import { TokenizerFileError } from '../errors.js';
import { addedToken, type JsonObject, type TokenizerJson } from '../tokenizer-json.js';
import { templateProcessing } from '../post-process.js';
import { specialTokenContent } from '../special-tokens.js';

export function parseVocabTxt(text: string, file: string): Record<string, number> {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0)
    throw new TokenizerFileError(file, undefined, 'empty vocabulary (expected one token per line)');
  const vocab: Record<string, number> = Object.create(null);
  // A repeated line keeps its last id, as transformers' load_vocab does.
  lines.forEach((line, id) => (vocab[line.endsWith('\r') ? line.slice(0, -1) : line] = id));
  return vocab;
}

/** BertTokenizer's defaults for the tokenizer_config fields read here. */
const BERT_SPECIALS = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};

export function wordPieceToTokenizerJson(
  vocab: Record<string, number>,
  config: JsonObject,
  file: string,
): TokenizerJson {
  const special = Object.fromEntries(
    Object.entries(BERT_SPECIALS).map(([key, fallback]) => [key, specialTokenContent(config[key]) ?? fallback]),
  ) as typeof BERT_SPECIALS;
  for (const key of ['unk_token', 'cls_token', 'sep_token'] as const) {
    if (vocab[special[key]] === undefined) {
      throw new TokenizerFileError(file, key, `${JSON.stringify(special[key])} is not in the vocabulary`);
    }
  }
  const { cls_token: cls, sep_token: sep } = special;
  const present = Object.values(special).filter((t) => vocab[t] !== undefined);
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [...new Set(present)].map((t) => addedToken(vocab[t]!, t)).sort((a, b) => a.id - b.id),
    normalizer: {
      type: 'BertNormalizer',
      clean_text: true,
      handle_chinese_chars: (config['tokenize_chinese_chars'] as boolean | undefined) ?? true,
      strip_accents: (config['strip_accents'] as boolean | null | undefined) ?? null,
      lowercase: (config['do_lower_case'] as boolean | undefined) ?? true,
    },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: templateProcessing(`${cls} $A ${sep}`, `${cls} $A ${sep} $B:1 ${sep}:1`, vocab),
    // Cleanup happens after decoding, where `cleanUpTokenizationSpaces: false` can turn it off; a decoder-level
    // cleanup would apply regardless.
    decoder: { type: 'WordPiece', prefix: '##', cleanup: false },
    model: {
      type: 'WordPiece',
      unk_token: special.unk_token,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab,
    },
  };
}
