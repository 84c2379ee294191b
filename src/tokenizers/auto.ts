// AutoTokenizer: finds the tokenizer files in a model folder and builds a PreTrainedTokenizer from them.
//   tokenizer.json                          → used as is (@huggingface/tokenizers runs it)
//   vocab.txt                               → WordPiece (BERT), converted to tokenizer.json
//   vocab.json|encoder.json + merges.txt|vocab.bpe → byte-level BPE (GPT-2), converted
//   tokenizer.model|spiece.model            → SentencePiece protobuf, parsed and converted (BPE or Unigram)
//   source.spm + target.spm + vocab.json    → Marian / opus-mt (see marian.ts)
import { existsSync, readFileSync } from 'node:fs';
import { resolveModelDir, type ResolveModelOptions } from '../hub/resolve.js';
import { join } from 'node:path';
import { byteLevelBpeToTokenizerJson, parseMergesTxt, parseVocabJson } from './convert/byte-level-bpe.js';
import {
  parseSentencePieceModel,
  sentencePieceToTokenizerJson,
  slowSentencePieceDecoder,
} from './convert/sentencepiece.js';
import { parseVocabTxt, wordPieceToTokenizerJson } from './convert/wordpiece.js';
import { TokenizerFileError } from './errors.js';
import { isMarianFolder, MARIAN_DEFAULTS, marianToTokenizerJson } from './marian.js';
import { SPECIAL_TOKEN_KEYS } from './special-tokens.js';
import { validateTokenizerJson, type JsonObject, type TokenizerJson } from './tokenizer-json.js';
import { PreTrainedTokenizer, type TokenDecoder } from './tokenizer.js';

/** Hub options (revision, cacheDir, localFilesOnly, endpoint, token) as models take them; a local folder is used as it is. */
export interface FromPretrainedOptions extends ResolveModelOptions {
  /** Fields that override tokenizer_config.json (like keyword arguments to transformers' from_pretrained). */
  config?: JsonObject;
}

export function readJsonFile(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TokenizerFileError(
      file,
      undefined,
      `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerFileError(file, undefined, `not valid JSON (${(err as Error).message})`);
  }
}

function readOptionalObject(file: string): JsonObject {
  if (!existsSync(file)) return {};
  const value = readJsonFile(file);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TokenizerFileError(file, undefined, 'expected a JSON object');
  }
  return value as JsonObject;
}

function firstExisting(dir: string, names: string[]): string | undefined {
  return names.map((n) => join(dir, n)).find((p) => existsSync(p));
}

/** Special tokens the original (slow) tokenizer classes assume when the config does not name them. */
const FORMAT_DEFAULTS: Record<'wordpiece' | 'bpe' | 'sentencepiece-bpe' | 'sentencepiece-unigram', JsonObject> = {
  wordpiece: { unk_token: '[UNK]', sep_token: '[SEP]', pad_token: '[PAD]', cls_token: '[CLS]', mask_token: '[MASK]' },
  bpe: { bos_token: '<|endoftext|>', eos_token: '<|endoftext|>', unk_token: '<|endoftext|>' },
  'sentencepiece-bpe': { clean_up_tokenization_spaces: false },
  'sentencepiece-unigram': {},
};

interface Built {
  json: TokenizerJson;
  /** Config values the original tokenizer class assumes. */
  defaults: JsonObject;
  decodeTokens?: TokenDecoder;
}

function buildTokenizerJson(dir: string, config: JsonObject): Built {
  const tokenizerJson = join(dir, 'tokenizer.json');
  if (existsSync(tokenizerJson)) {
    return { json: validateTokenizerJson(readJsonFile(tokenizerJson), tokenizerJson), defaults: {} };
  }
  if (isMarianFolder(dir)) return { json: marianToTokenizerJson(dir, config), defaults: MARIAN_DEFAULTS };
  const vocabTxt = join(dir, 'vocab.txt');
  if (existsSync(vocabTxt)) {
    const vocab = parseVocabTxt(readFileSync(vocabTxt, 'utf8'), vocabTxt);
    return { json: wordPieceToTokenizerJson(vocab, config, vocabTxt), defaults: FORMAT_DEFAULTS.wordpiece };
  }
  const vocabJson = firstExisting(dir, ['vocab.json', 'encoder.json']);
  if (vocabJson) {
    const mergesFile = firstExisting(dir, ['merges.txt', 'vocab.bpe']);
    if (!mergesFile) {
      throw new TokenizerFileError(
        join(dir, 'merges.txt'),
        undefined,
        `missing: ${vocabJson} needs its BPE merges (merges.txt or vocab.bpe), or source.spm and target.spm beside it (Marian)`,
      );
    }
    const vocab = parseVocabJson(readJsonFile(vocabJson), vocabJson);
    const merges = parseMergesTxt(readFileSync(mergesFile, 'utf8'), mergesFile);
    return { json: byteLevelBpeToTokenizerJson(vocab, merges, config, vocabJson), defaults: FORMAT_DEFAULTS.bpe };
  }
  const spm = firstExisting(dir, ['tokenizer.model', 'spiece.model', 'sentencepiece.bpe.model']);
  if (spm) {
    const model = parseSentencePieceModel(new Uint8Array(readFileSync(spm)), spm);
    const piece = (id: number) => model.pieces[id]?.piece;
    const specials: JsonObject = {};
    for (const [key, id] of [
      ['bos_token', model.bosId],
      ['eos_token', model.eosId],
      ['unk_token', model.unkId],
      ['pad_token', model.padId],
    ] as const) {
      if (piece(id) !== undefined) specials[key] = piece(id);
    }
    const format = model.modelType === 'bpe' ? 'sentencepiece-bpe' : 'sentencepiece-unigram';
    return {
      json: sentencePieceToTokenizerJson(model, config),
      defaults: { ...FORMAT_DEFAULTS[format], ...specials },
      decodeTokens:
        model.modelType === 'bpe'
          ? slowSentencePieceDecoder({ legacy: config['legacy'] !== false, addDummyPrefix: model.addDummyPrefix })
          : undefined,
    };
  }
  throw new TokenizerFileError(
    dir,
    undefined,
    'no tokenizer found: expected tokenizer.json, vocab.txt, vocab.json + merges.txt, tokenizer.model, or source.spm + target.spm + vocab.json (Marian / opus-mt)',
  );
}

/** Recent checkpoints keep the chat template in chat_template.jinja, which wins over tokenizer_config.json's (as in transformers). */
function chatTemplateFile(dir: string): JsonObject {
  const file = join(dir, 'chat_template.jinja');
  if (!existsSync(file)) return {};
  try {
    return { chat_template: readFileSync(file, 'utf8') };
  } catch (err) {
    throw new TokenizerFileError(
      file,
      undefined,
      `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

export class AutoTokenizer {
  /** Loads the tokenizer of a model folder, or of a hub repo id (through the hub cache). */
  static async fromPretrained(nameOrDir: string, options: FromPretrainedOptions = {}): Promise<PreTrainedTokenizer> {
    const dir = await resolveModelDir(nameOrDir, options);
    return AutoTokenizer.fromDirectory(dir, options);
  }

  static fromDirectory(dir: string, options: FromPretrainedOptions = {}): PreTrainedTokenizer {
    const fileConfig = readOptionalObject(join(dir, 'tokenizer_config.json'));
    const specialMap = readOptionalObject(join(dir, 'special_tokens_map.json'));
    // special_tokens_map.json may only name special tokens; anything else in it is ignored, as in transformers.
    const specialOnly = Object.fromEntries(
      Object.entries(specialMap).filter(
        ([k]) => (SPECIAL_TOKEN_KEYS as readonly string[]).includes(k) || k === 'additional_special_tokens',
      ),
    );
    const config = { ...fileConfig, ...specialOnly, ...chatTemplateFile(dir), ...options.config };
    const { json, defaults, decodeTokens } = buildTokenizerJson(dir, config);
    return new PreTrainedTokenizer(json, { ...defaults, ...config }, { source: dir, decodeTokens });
  }
}
