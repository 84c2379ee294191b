// SentencePiece `tokenizer.model` (a protobuf ModelProto) → tokenizer.json, following the conversions transformers
// uses for its fast tokenizers: BPE models the way `LlamaConverter` does, Unigram models the way `T5Converter` does.
import { TokenizerFileError } from '../errors.js';
import {
  addedToken,
  serializeMerges,
  type AddedTokenJson,
  type JsonObject,
  type MergePair,
  type TokenizerJson,
} from '../tokenizer-json.js';
import { templateProcessing } from '../post-process.js';
import { readFields, type WireField } from './protobuf.js';

/** SentencePiece.Type in sentencepiece_model.proto. */
export const enum PieceType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export interface SentencePiece {
  piece: string;
  score: number;
  type: PieceType;
}

export interface SentencePieceModel {
  pieces: SentencePiece[];
  modelType: 'unigram' | 'bpe' | 'word' | 'char';
  byteFallback: boolean;
  bosId: number;
  eosId: number;
  padId: number;
  unkId: number;
  addDummyPrefix: boolean;
  removeExtraWhitespaces: boolean;
  /** Base64 of NormalizerSpec.precompiled_charsmap: an NFKC-style map applied before everything else. */
  precompiledCharsmap: string;
}

const MODEL_TYPES = ['unigram', 'bpe', 'word', 'char'] as const;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function lastValue(fields: WireField[], field: number): WireField['value'] | undefined {
  let found: WireField['value'] | undefined;
  for (const f of fields) if (f.field === field) found = f.value;
  return found;
}

function numberField(fields: WireField[], field: number, fallback: number, file: string, name: string): number {
  const v = lastValue(fields, field);
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw new TokenizerFileError(file, name, 'expected a number, found bytes');
  return v;
}

function bytesField(fields: WireField[], field: number, file: string, name: string): Uint8Array | undefined {
  const v = lastValue(fields, field);
  if (v !== undefined && typeof v === 'number')
    throw new TokenizerFileError(file, name, 'expected bytes, found a number');
  return v;
}

/** Parses a ModelProto (field numbers from sentencepiece_model.proto). */
export function parseSentencePieceModel(bytes: Uint8Array, file: string): SentencePieceModel {
  let top: WireField[];
  try {
    top = readFields(bytes);
  } catch (err) {
    throw new TokenizerFileError(file, undefined, `not a SentencePiece model protobuf (${(err as Error).message})`);
  }
  const pieces: SentencePiece[] = [];
  for (const f of top) {
    if (f.field !== 1) continue;
    if (typeof f.value === 'number')
      throw new TokenizerFileError(file, `pieces[${pieces.length}]`, 'expected a message');
    const where = `pieces[${pieces.length}]`;
    const sub = readFields(f.value);
    const raw = bytesField(sub, 1, file, `${where}.piece`);
    if (raw === undefined) throw new TokenizerFileError(file, `${where}.piece`, 'missing');
    let piece: string;
    try {
      piece = utf8.decode(raw);
    } catch {
      throw new TokenizerFileError(file, `${where}.piece`, 'not valid UTF-8');
    }
    pieces.push({
      piece,
      score: numberField(sub, 2, 0, file, `${where}.score`),
      type: numberField(sub, 3, PieceType.Normal, file, `${where}.type`) as PieceType,
    });
  }
  if (pieces.length === 0) throw new TokenizerFileError(file, 'pieces', 'no pieces: this is not a SentencePiece model');

  const trainer = readFields(bytesField(top, 2, file, 'trainer_spec') ?? new Uint8Array());
  const normalizer = readFields(bytesField(top, 3, file, 'normalizer_spec') ?? new Uint8Array());
  const modelTypeNumber = numberField(trainer, 3, 1, file, 'trainer_spec.model_type');
  const modelType = MODEL_TYPES[modelTypeNumber - 1];
  if (modelType === undefined) {
    throw new TokenizerFileError(file, 'trainer_spec.model_type', `unknown value ${modelTypeNumber} (expected 1..4)`);
  }
  const charsmap = bytesField(normalizer, 2, file, 'normalizer_spec.precompiled_charsmap');
  const unkIndex = pieces.findIndex((p) => p.type === PieceType.Unknown);
  return {
    pieces,
    modelType,
    byteFallback: numberField(trainer, 35, 0, file, 'trainer_spec.byte_fallback') !== 0,
    unkId: unkIndex >= 0 ? unkIndex : numberField(trainer, 40, 0, file, 'trainer_spec.unk_id'),
    bosId: numberField(trainer, 41, 1, file, 'trainer_spec.bos_id'),
    eosId: numberField(trainer, 42, 2, file, 'trainer_spec.eos_id'),
    padId: numberField(trainer, 43, -1, file, 'trainer_spec.pad_id'),
    addDummyPrefix: numberField(normalizer, 3, 1, file, 'normalizer_spec.add_dummy_prefix') !== 0,
    removeExtraWhitespaces: numberField(normalizer, 4, 1, file, 'normalizer_spec.remove_extra_whitespaces') !== 0,
    precompiledCharsmap: charsmap ? Buffer.from(charsmap).toString('base64') : '',
  };
}

/**
 * BPE merges implied by a SentencePiece BPE vocabulary: every split of a piece into two pieces of the vocabulary
 * is a merge, ranked by the merged piece's score (SentencePiece merges the highest-scoring pair first). Ties keep
 * vocabulary order, as transformers' SentencePieceExtractor does.
 */
export function mergesFromScores(pieces: SentencePiece[]): MergePair[] {
  const ids = new Map<string, number>();
  pieces.forEach((p, i) => ids.set(p.piece, i));
  const merges: { left: string; right: string; score: number; order: number }[] = [];
  pieces.forEach((p) => {
    const chars = [...p.piece];
    const local: { left: string; right: string }[] = [];
    for (let cut = 1; cut < chars.length; cut++) {
      const left = chars.slice(0, cut).join('');
      const right = chars.slice(cut).join('');
      if (ids.has(left) && ids.has(right)) local.push({ left, right });
    }
    local.sort((a, b) => ids.get(a.left)! - ids.get(b.left)! || ids.get(a.right)! - ids.get(b.right)!);
    for (const m of local) merges.push({ ...m, score: p.score, order: merges.length });
  });
  merges.sort((a, b) => b.score - a.score || a.order - b.order);
  return merges.map((m): MergePair => [m.left, m.right]);
}

const METASPACE = '\u2581';

function specialPieces(model: SentencePieceModel): AddedTokenJson[] {
  const added: AddedTokenJson[] = [];
  model.pieces.forEach((p, id) => {
    if (p.type === PieceType.Control || p.type === PieceType.Unknown) added.push(addedToken(id, p.piece, true));
    else if (p.type === PieceType.UserDefined) added.push({ ...addedToken(id, p.piece, false), normalized: false });
  });
  return added;
}

/**
 * Builds the tokenizer.json. `config` is tokenizer_config.json: `add_bos_token` / `add_eos_token` choose the
 * template (defaults: BOS for BPE models as Llama does, EOS for Unigram models as T5 does), and `legacy: false`
 * selects transformers' non-legacy handling of text that follows a special token.
 */
export function sentencePieceToTokenizerJson(model: SentencePieceModel, config: JsonObject): TokenizerJson {
  const ids = new Map(model.pieces.map((p, i) => [p.piece, i]));
  const pieceAt = (id: number) => (id >= 0 && id < model.pieces.length ? model.pieces[id]!.piece : undefined);
  const isBpe = model.modelType === 'bpe';
  const addBos = (config['add_bos_token'] as boolean | undefined) ?? isBpe;
  const addEos = (config['add_eos_token'] as boolean | undefined) ?? !isBpe;
  const bos = addBos ? pieceAt(model.bosId) : undefined;
  const eos = addEos ? pieceAt(model.eosId) : undefined;
  const single = [bos, '$A', eos].filter((t) => t !== undefined).join(' ');
  const pair = `${single} ${[bos && `${bos}:1`, '$B:1', eos && `${eos}:1`].filter(Boolean).join(' ')}`;
  const post = templateProcessing(single, pair, Object.fromEntries(ids));
  const unk = pieceAt(model.unkId) ?? null;

  if (isBpe) {
    const legacy = config['legacy'] !== false;
    const vocab: Record<string, number> = {};
    model.pieces.forEach((p, i) => (vocab[p.piece] = i));
    const replaceSpaces = { type: 'Replace', pattern: { String: ' ' }, content: METASPACE };
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: specialPieces(model),
      // Legacy mode prefixes every stretch of text between special tokens with "▁"; non-legacy only the first.
      normalizer: legacy
        ? {
            type: 'Sequence',
            normalizers: [...(model.addDummyPrefix ? [{ type: 'Prepend', prepend: METASPACE }] : []), replaceSpaces],
          }
        : replaceSpaces,
      pre_tokenizer: legacy
        ? null
        : {
            type: 'Metaspace',
            replacement: METASPACE,
            prepend_scheme: model.addDummyPrefix ? 'first' : 'never',
            split: false,
          },
      post_processor: post,
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: METASPACE }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          ...(model.addDummyPrefix ? [{ type: 'Strip', content: ' ', start: 1, stop: 0 }] : []),
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: unk,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: model.byteFallback,
        ignore_merges: false,
        vocab,
        merges: serializeMerges(mergesFromScores(model.pieces)),
      },
    };
  }
  if (model.modelType !== 'unigram') {
    throw new Error(`SentencePiece ${model.modelType} models are not supported (only bpe and unigram)`);
  }
  const normalizers: JsonObject[] = [];
  if (model.precompiledCharsmap)
    normalizers.push({ type: 'Precompiled', precompiled_charsmap: model.precompiledCharsmap });
  if (model.removeExtraWhitespaces) {
    normalizers.push({ type: 'Strip', strip_left: false, strip_right: true });
    normalizers.push({ type: 'Replace', pattern: { Regex: ' {2,}' }, content: METASPACE });
  }
  const metaspace = {
    type: 'Metaspace',
    replacement: METASPACE,
    prepend_scheme: model.addDummyPrefix ? 'always' : 'never',
    split: true,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specialPieces(model),
    normalizer: normalizers.length > 0 ? { type: 'Sequence', normalizers } : null,
    pre_tokenizer: model.removeExtraWhitespaces
      ? { type: 'Sequence', pretokenizers: [{ type: 'WhitespaceSplit' }, metaspace] }
      : metaspace,
    post_processor: post,
    decoder: { type: 'Metaspace', replacement: METASPACE, prepend_scheme: metaspace.prepend_scheme, split: true },
    model: {
      type: 'Unigram',
      unk_id: model.unkId,
      vocab: model.pieces.map((p) => [p.piece, p.score]),
      byte_fallback: model.byteFallback,
    },
  };
}

const BYTE_PIECE = /^<0x([0-9A-Fa-f]{2})>$/;

/**
 * transformers' slow SentencePiece decoding (LlamaTokenizer.convert_tokens_to_string): special tokens are written
 * as they are, each run of ordinary pieces is decoded the way `sp_model.decode` does (▁ → space, byte pieces →
 * UTF-8, one leading space dropped when the model adds a dummy prefix), and in legacy mode a space goes before a
 * special token that follows ordinary text. The fast decoder differs around special tokens ("<s> Hello" vs
 * "<s>Hello"), so models loaded from tokenizer.model decode this way.
 */
export function slowSentencePieceDecoder(options: { legacy: boolean; addDummyPrefix: boolean }) {
  const decodeRun = (pieces: string[]): string => {
    const bytes: number[] = [];
    for (const piece of pieces) {
      const byte = BYTE_PIECE.exec(piece);
      if (byte) bytes.push(parseInt(byte[1]!, 16));
      else bytes.push(...Buffer.from(piece.replaceAll(METASPACE, ' '), 'utf8'));
    }
    const text = Buffer.from(bytes).toString('utf8');
    return options.legacy && options.addDummyPrefix && text.startsWith(' ') ? text.slice(1) : text;
  };
  return (tokens: string[], isSpecial: (token: string) => boolean): string => {
    if (tokens.length > 0 && tokens[0]!.startsWith(METASPACE)) tokens = [tokens[0]!.slice(1), ...tokens.slice(1)];
    let out = '';
    let run: string[] = [];
    let previousSpecial = false;
    tokens.forEach((token, i) => {
      if (isSpecial(token)) {
        if (!previousSpecial && i !== 0 && options.legacy) out += ' ';
        out += decodeRun(run) + token;
        run = [];
        previousSpecial = true;
      } else {
        run.push(token);
        previousSpecial = false;
      }
    });
    return out + decodeRun(run);
  };
}
