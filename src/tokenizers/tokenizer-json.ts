// The shape of a Hugging Face `tokenizer.json` (the `tokenizers` library's serialization), as far as attn reads or
// writes it. Component objects (normalizer, pre_tokenizer, ...) are kept as plain JSON: @huggingface/tokenizers
// interprets them, and they must survive a load/save round trip unchanged.
import { TokenizerFileError } from './errors.js';
import { checkTokenizerRegexes } from './regex-guard.js';

export type JsonObject = { [key: string]: unknown };

export interface AddedTokenJson {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

export interface TokenizerJson {
  version: string;
  truncation: null | JsonObject;
  padding: null | JsonObject;
  added_tokens: AddedTokenJson[];
  normalizer: null | JsonObject;
  pre_tokenizer: null | JsonObject;
  post_processor: null | JsonObject;
  decoder: null | JsonObject;
  model: JsonObject & { type: string };
}

export function addedToken(id: number, content: string, special = true): AddedTokenJson {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: !special, special };
}

export type MergePair = [left: string, right: string];

/**
 * BPE merges as tokenizer.json stores them: "left right" strings, which every version of the Python `tokenizers`
 * library reads, unless a token holds a space, which only the newer [left, right] form can carry.
 */
export function serializeMerges(merges: MergePair[]): string[] | MergePair[] {
  return merges.some(([l, r]) => l.includes(' ') || r.includes(' ')) ? merges : merges.map(([l, r]) => `${l} ${r}`);
}

/** The fields every model of that type must have, with the JSON type expected. */
const MODEL_FIELDS: Record<string, Record<string, 'object' | 'array'>> = {
  BPE: { vocab: 'object', merges: 'array' },
  WordPiece: { vocab: 'object' },
  Unigram: { vocab: 'array' },
  WordLevel: { vocab: 'object' },
};

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Checks the parts of a parsed tokenizer.json that a mistake would otherwise surface as an obscure crash deep in
 * @huggingface/tokenizers, and fills the optional top-level fields older files omit.
 */
export function validateTokenizerJson(value: unknown, file: string): TokenizerJson {
  if (!isObject(value)) throw new TokenizerFileError(file, undefined, 'expected a JSON object at the top level');
  const model = value['model'];
  if (!isObject(model)) throw new TokenizerFileError(file, 'model', 'missing or not an object');
  const type = model['type'] ?? inferModelType(model);
  if (typeof type !== 'string' || !(type in MODEL_FIELDS)) {
    throw new TokenizerFileError(
      file,
      'model.type',
      `${JSON.stringify(type)} is not one of ${Object.keys(MODEL_FIELDS).join(', ')}`,
    );
  }
  for (const [field, kind] of Object.entries(MODEL_FIELDS[type]!)) {
    const v = model[field];
    const ok = kind === 'array' ? Array.isArray(v) : isObject(v);
    if (!ok) throw new TokenizerFileError(file, `model.${field}`, `missing or not an ${kind} (model type ${type})`);
  }
  checkVocabulary(model['vocab'] as JsonObject | unknown[], file);
  const added = value['added_tokens'] ?? [];
  if (!Array.isArray(added)) throw new TokenizerFileError(file, 'added_tokens', 'expected an array');
  added.forEach((token, i) => {
    if (!isObject(token) || !isTokenId(token['id']) || typeof token['content'] !== 'string') {
      const expected = 'expected an object with a numeric "id" (a non-negative integer) and a string "content"';
      throw new TokenizerFileError(file, `added_tokens[${i}]`, expected);
    }
  });
  for (const field of ['normalizer', 'pre_tokenizer', 'post_processor', 'decoder'] as const) {
    const v = value[field] ?? null;
    if (v !== null && !isObject(v)) throw new TokenizerFileError(file, field, 'expected an object or null');
  }
  checkTokenizerRegexes(value, file);
  return {
    version: typeof value['version'] === 'string' ? value['version'] : '1.0',
    truncation: (value['truncation'] as JsonObject | null) ?? null,
    padding: (value['padding'] as JsonObject | null) ?? null,
    added_tokens: (added as AddedTokenJson[]).map((t) => ({
      ...addedToken(t.id, t.content, t.special ?? false),
      ...t,
    })),
    normalizer: (value['normalizer'] as JsonObject | null) ?? null,
    pre_tokenizer: (value['pre_tokenizer'] as JsonObject | null) ?? null,
    post_processor: (value['post_processor'] as JsonObject | null) ?? null,
    decoder: (value['decoder'] as JsonObject | null) ?? null,
    model: { ...model, type },
  };
}

function isTokenId(id: unknown): id is number {
  return typeof id === 'number' && Number.isSafeInteger(id) && id >= 0;
}

/** A vocabulary must have tokens, and ids that can index an embedding table (token → id objects; Unigram lists). */
function checkVocabulary(vocab: JsonObject | unknown[], file: string): void {
  const size = Array.isArray(vocab) ? vocab.length : Object.keys(vocab).length;
  if (size === 0) throw new TokenizerFileError(file, 'model.vocab', 'is empty: a tokenizer needs at least one token');
  if (Array.isArray(vocab)) return;
  for (const [token, id] of Object.entries(vocab)) {
    if (!isTokenId(id)) {
      throw new TokenizerFileError(
        file,
        `model.vocab[${JSON.stringify(token)}]`,
        `id ${JSON.stringify(id)} is not a non-negative integer`,
      );
    }
  }
}

/** Files written before the `type` tag existed are recognised by their fields, as the Rust library does. */
function inferModelType(model: JsonObject): string | undefined {
  if (Array.isArray(model['vocab'])) return 'Unigram';
  if ('merges' in model) return 'BPE';
  if ('continuing_subword_prefix' in model) return 'WordPiece';
  return undefined;
}
