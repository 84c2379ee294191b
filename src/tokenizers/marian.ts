// Marian / opus-mt tokenizer folders (Helsinki-NLP/opus-mt-*): `source.spm` and `target.spm` are SentencePiece
// Unigram models of the two languages and `vocab.json` maps their pieces to the model's ids (one vocabulary shared
// by encoder and decoder). transformers' MarianTokenizer segments source text with source.spm, looks every piece
// up in vocab.json (unknown pieces → <unk>), appends </s>, and decodes ids through the same vocab.json.
//
// As a tokenizer.json: a Unigram model whose entries are vocab.json's, in id order, scored with source.spm's
// scores. Pieces only the target language has get a score so low that segmentation never picks them, so source text
// is segmented as source.spm segments it. A leading `>>xx<<` language code (multi-target models) is its own token.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseVocabJson } from './convert/byte-level-bpe.js';
import { parseSentencePieceModel, sentencePieceToTokenizerJson } from './convert/sentencepiece.js';
import { TokenizerFileError } from './errors.js';
import { templateProcessing } from './post-process.js';
import { specialTokenContent } from './special-tokens.js';
import { addedToken, type AddedTokenJson, type JsonObject, type TokenizerJson } from './tokenizer-json.js';

export const MARIAN_FILES = ['source.spm', 'target.spm', 'vocab.json'] as const;

/** Below any real SentencePiece score (log-probabilities, around −20 at worst): never chosen when a source piece fits. */
const TARGET_ONLY_SCORE = -1e9;

const LANGUAGE_CODE = /^>>.+<<$/;

/** Whether `dir` has the opus-mt layout (its source.spm is the sign). */
export function isMarianFolder(dir: string): boolean {
  return existsSync(join(dir, 'source.spm'));
}

/** Special tokens MarianTokenizer assumes when tokenizer_config.json does not name them. */
export const MARIAN_DEFAULTS: JsonObject = { eos_token: '</s>', unk_token: '<unk>', pad_token: '<pad>' };

/** The tokenizer.json for an opus-mt folder; a missing or inconsistent file is an error naming it. */
export function marianToTokenizerJson(dir: string, config: JsonObject): TokenizerJson {
  const missing = MARIAN_FILES.filter((name) => !existsSync(join(dir, name)));
  if (missing.length > 0) {
    throw new TokenizerFileError(
      dir,
      undefined,
      `a Marian (opus-mt) tokenizer needs ${MARIAN_FILES.join(', ')}; missing ${missing.join(', ')}`,
    );
  }
  if (config['separate_vocabs'] === true) {
    throw new TokenizerFileError(
      join(dir, 'tokenizer_config.json'),
      'separate_vocabs',
      'true (a target_vocab.json of its own) is not supported; attn reads one shared vocab.json',
    );
  }
  const sourceFile = join(dir, 'source.spm');
  const source = parseSentencePieceModel(new Uint8Array(readFileSync(sourceFile)), sourceFile);
  if (source.modelType !== 'unigram') {
    throw new TokenizerFileError(
      sourceFile,
      'trainer_spec.model_type',
      `is ${source.modelType}; opus-mt models are Unigram`,
    );
  }
  // target.spm decodes as source.spm does for ordinary pieces (▁ → space); it is checked to be a SentencePiece model.
  parseSentencePieceModel(new Uint8Array(readFileSync(join(dir, 'target.spm'))), join(dir, 'target.spm'));
  const vocabFile = join(dir, 'vocab.json');
  const vocab = parseVocabJson(JSON.parse(readFileSync(vocabFile, 'utf8')), vocabFile);
  const byId: string[] = [];
  for (const [piece, id] of Object.entries(vocab)) {
    if (byId[id] !== undefined)
      throw new TokenizerFileError(vocabFile, piece, `id ${id} is also ${JSON.stringify(byId[id])}`);
    byId[id] = piece;
  }
  const gap = Array.from({ length: byId.length }, (_, id) => id).find((id) => byId[id] === undefined);
  if (gap !== undefined)
    throw new TokenizerFileError(
      vocabFile,
      undefined,
      `ids must run 0..${byId.length - 1} without gaps; ${gap} is unused`,
    );

  const special = (key: string) => {
    const token = specialTokenContent(config[key]) ?? (MARIAN_DEFAULTS[key] as string);
    if (vocab[token] === undefined)
      throw new TokenizerFileError(vocabFile, key, `${JSON.stringify(token)} is not in the vocabulary`);
    return token;
  };
  const [eos, unk, pad] = [special('eos_token'), special('unk_token'), special('pad_token')];
  const scores = new Map(source.pieces.map((p) => [p.piece, p.score]));
  const added: AddedTokenJson[] = [eos, unk, pad].map((token) => addedToken(vocab[token]!, token, true));
  for (const piece of byId)
    if (LANGUAGE_CODE.test(piece)) added.push({ ...addedToken(vocab[piece]!, piece, false), normalized: false });

  // Normalizer, pre-tokenizer and decoder as source.spm defines them; ids, specials and template from vocab.json.
  const fromSource = sentencePieceToTokenizerJson(source, {});
  return {
    ...fromSource,
    added_tokens: added.sort((a, b) => a.id - b.id),
    post_processor: templateProcessing(`$A ${eos}`, `$A $B:1 ${eos}:1`, vocab),
    model: {
      type: 'Unigram',
      unk_id: vocab[unk]!,
      vocab: byId.map((piece) => [piece, scores.get(piece) ?? TARGET_ONLY_SCORE]),
      byte_fallback: false,
    },
  };
}
