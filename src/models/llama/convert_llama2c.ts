/**
 * Karpathy's llama2.c checkpoints (legacy format) and tokenizers, converted to attn's Hugging Face-named Llama.
 *
 * Checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size — negative when the classifier
 * is not shared with the embedding — and seq_len), then float32 weights: embedding, attention RMSNorm weights, wq,
 * wk, wv, wo, FFN RMSNorm weights, w1, w2, w3 (each stacked over layers, stored as PyTorch (out, in)), final norm,
 * the two RoPE tables (unused: recomputed), and the classifier when unshared.
 *
 * llama2.c rotates interleaved pairs (x0, x1), (x2, x3), … of each head, transformers rotates halves (x_j, x_{j+D/2});
 * like transformers' convert_llama_weights_to_hf, the rows of wq and wk are permuted per head so that the same
 * model computes the same thing in the half layout.
 */
import { readFile } from 'node:fs/promises';
import { GenerationConfig } from '../../generation/configuration_utils.js';
import { Tensor } from '../../tensor/tensor.js';
import {
  PieceType,
  sentencePieceToTokenizerJson,
  slowSentencePieceDecoder,
  type SentencePieceModel,
} from '../../tokenizers/convert/sentencepiece.js';
import { PreTrainedTokenizer } from '../../tokenizers/tokenizer.js';
import { LlamaConfig } from './configuration_llama.js';
import { LlamaForCausalLM } from './modeling_llama.js';

export class Llama2cFormatError extends Error {}

const HEADER_INTS = 7;

/** The HF Llama config a llama2.c header describes. */
function configFromHeader(header: Int32Array, path: string): { config: LlamaConfig; sharedClassifier: boolean } {
  const [dim, hiddenDim, layers, heads, kvHeads, signedVocab, seqLen] = Array.from(header);
  const fields = { dim, hidden_dim: hiddenDim, n_layers: layers, n_heads: heads, n_kv_heads: kvHeads, seq_len: seqLen };
  for (const [name, value] of Object.entries(fields)) {
    if (!(value! > 0))
      throw new Llama2cFormatError(
        `${path}: header field ${name} is ${value}; expected a positive number (is this a llama2.c legacy checkpoint?)`,
      );
  }
  if (dim! % heads! !== 0 || heads! % kvHeads! !== 0 || (dim! / heads!) % 2 !== 0) {
    throw new Llama2cFormatError(
      `${path}: dim ${dim}, n_heads ${heads} and n_kv_heads ${kvHeads} do not give whole, even heads`,
    );
  }
  const config = new LlamaConfig(
    {
      model_type: 'llama',
      architectures: ['LlamaForCausalLM'],
      vocab_size: Math.abs(signedVocab!),
      hidden_size: dim,
      intermediate_size: hiddenDim,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      max_position_embeddings: seqLen,
      rms_norm_eps: 1e-5,
      rope_theta: 10000,
      bos_token_id: 1,
      eos_token_id: 2,
      tie_word_embeddings: signedVocab! > 0,
      torch_dtype: 'float32',
    },
    path,
  );
  return { config, sharedClassifier: signedVocab! > 0 };
}

/** Reorders each head's rows from interleaved pairs (2j, 2j+1) to halves (j, j + D/2). */
function interleavedToHalves(weight: Float32Array, heads: number, headDim: number, inFeatures: number): Float32Array {
  const out = new Float32Array(weight.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    for (let j = 0; j < half; j++) {
      for (let p = 0; p < 2; p++) {
        const from = (h * headDim + 2 * j + p) * inFeatures;
        const to = (h * headDim + p * half + j) * inFeatures;
        out.set(weight.subarray(from, from + inFeatures), to);
      }
    }
  }
  return out;
}

/** Reads a llama2.c legacy checkpoint into a LlamaForCausalLM (eval mode) with transformers' parameter names. */
export async function loadLlama2cModel(path: string): Promise<LlamaForCausalLM> {
  const bytes = await readFile(path);
  if (bytes.length < HEADER_INTS * 4)
    throw new Llama2cFormatError(`${path}: ${bytes.length} bytes, too short for the 28-byte llama2.c header`);
  const aligned = new Uint8Array(bytes.length);
  aligned.set(bytes);
  const header = new Int32Array(aligned.buffer, 0, HEADER_INTS);
  const { config, sharedClassifier } = configFromHeader(header, path);
  const {
    hiddenSize: dim,
    intermediateSize: hidden,
    numHiddenLayers: layers,
    numAttentionHeads: heads,
    numKeyValueHeads: kvHeads,
    vocabSize: vocab,
  } = config;
  const headDim = dim / heads;
  const seqLen = config.maxPositionEmbeddings;

  const floats = new Float32Array(aligned.buffer, HEADER_INTS * 4, (aligned.length - HEADER_INTS * 4) >> 2);
  let offset = 0;
  const take = (what: string, count: number): Float32Array => {
    if (offset + count > floats.length) {
      throw new Llama2cFormatError(
        `${path}: truncated: ${what} needs ${count} floats at offset ${offset}, the file has ${floats.length}`,
      );
    }
    const part = floats.slice(offset, offset + count);
    offset += count;
    return part;
  };
  const perLayer = (what: string, size: number): Float32Array[] => {
    const all = take(what, layers * size);
    return Array.from({ length: layers }, (_, l) => all.subarray(l * size, (l + 1) * size));
  };

  const embedding = take('token_embedding_table', vocab * dim);
  const attentionNorm = perLayer('rms_att_weight', dim);
  const wq = perLayer('wq', heads * headDim * dim);
  const wk = perLayer('wk', kvHeads * headDim * dim);
  const wv = perLayer('wv', kvHeads * headDim * dim);
  const wo = perLayer('wo', dim * heads * headDim);
  const ffnNorm = perLayer('rms_ffn_weight', dim);
  const w1 = perLayer('w1', hidden * dim);
  const w2 = perLayer('w2', dim * hidden);
  const w3 = perLayer('w3', hidden * dim);
  const finalNorm = take('rms_final_weight', dim);
  take('freq_cis_real and freq_cis_imag', seqLen * headDim);
  const classifier = sharedClassifier ? null : take('wcls', vocab * dim);
  if (offset !== floats.length) {
    throw new Llama2cFormatError(
      `${path}: ${floats.length - offset} floats left after the weights the header describes: header and file disagree`,
    );
  }

  const tensors = new Map<string, Tensor>();
  const put = (name: string, data: Float32Array, shape: number[]): void =>
    void tensors.set(name, new Tensor(data, shape));
  put('model.embed_tokens.weight', embedding, [vocab, dim]);
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    put(`${p}.input_layernorm.weight`, attentionNorm[l]!, [dim]);
    put(`${p}.self_attn.q_proj.weight`, interleavedToHalves(wq[l]!, heads, headDim, dim), [heads * headDim, dim]);
    put(`${p}.self_attn.k_proj.weight`, interleavedToHalves(wk[l]!, kvHeads, headDim, dim), [kvHeads * headDim, dim]);
    put(`${p}.self_attn.v_proj.weight`, wv[l]!, [kvHeads * headDim, dim]);
    put(`${p}.self_attn.o_proj.weight`, wo[l]!, [dim, heads * headDim]);
    put(`${p}.post_attention_layernorm.weight`, ffnNorm[l]!, [dim]);
    put(`${p}.mlp.gate_proj.weight`, w1[l]!, [hidden, dim]);
    put(`${p}.mlp.down_proj.weight`, w2[l]!, [dim, hidden]);
    put(`${p}.mlp.up_proj.weight`, w3[l]!, [hidden, dim]);
  }
  put('model.norm.weight', finalNorm, [dim]);
  if (classifier) put('lm_head.weight', classifier, [vocab, dim]);

  const model = new LlamaForCausalLM(config);
  model.loadingInfo = model.loadCheckpointTensors(tensors, path);
  model.generationConfig = new GenerationConfig({ bosTokenId: 1, eosTokenId: 2 });
  return model.eval();
}

/** A llama2.c tokenizer (tokenizer.bin / tok512.bin): pieces with their merge scores. */
export interface Llama2cTokenizer {
  /** Piece text by id; llama2.c stores SentencePiece's '▁' as a space, bytes as '<0xXX>', BOS as '\n<s>\n'. */
  pieces: string[];
  scores: Float32Array;
  maxTokenLength: number;
  /** Ids generated after a BOS → text as llama2.c's run.c prints it (a leading space dropped after BOS, byte pieces as bytes). */
  decode(ids: readonly number[]): string;
}

const BOS = 1;

export async function loadLlama2cTokenizer(path: string, vocabSize?: number): Promise<Llama2cTokenizer> {
  const bytes = await readFile(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const rawPieces: Uint8Array[] = [];
  const scores: number[] = [];
  if (bytes.length < 4) throw new Llama2cFormatError(`${path}: too short for a llama2.c tokenizer`);
  const maxTokenLength = view.getInt32(0, true);
  let at = 4;
  while (at < bytes.length && (vocabSize === undefined || rawPieces.length < vocabSize)) {
    if (at + 8 > bytes.length)
      throw new Llama2cFormatError(`${path}: truncated at piece ${rawPieces.length} (byte ${at})`);
    scores.push(view.getFloat32(at, true));
    const length = view.getInt32(at + 4, true);
    if (length < 0 || at + 8 + length > bytes.length) {
      throw new Llama2cFormatError(
        `${path}: piece ${rawPieces.length} claims ${length} bytes at byte ${at + 8}, past the end of the file`,
      );
    }
    rawPieces.push(bytes.subarray(at + 8, at + 8 + length));
    at += 8 + length;
  }
  if (vocabSize !== undefined && rawPieces.length !== vocabSize) {
    throw new Llama2cFormatError(`${path}: holds ${rawPieces.length} pieces, expected ${vocabSize}`);
  }
  const utf8 = new TextDecoder();
  const pieces = rawPieces.map((p) => utf8.decode(p));
  const pieceBytes = (id: number, previous: number): Uint8Array => {
    const raw = rawPieces[id];
    if (raw === undefined)
      throw new RangeError(`llama2.c tokenizer ${path}: token id ${id} is outside [0, ${rawPieces.length})`);
    const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(pieces[id]!);
    if (byte) return Uint8Array.of(parseInt(byte[1]!, 16));
    return previous === BOS && raw[0] === 0x20 ? raw.subarray(1) : raw;
  };
  return {
    pieces,
    scores: Float32Array.from(scores),
    maxTokenLength,
    decode(ids: readonly number[]): string {
      const parts = ids.map((id, i) => pieceBytes(id, i === 0 ? BOS : ids[i - 1]!));
      const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let position = 0;
      for (const p of parts) {
        joined.set(p, position);
        position += p.length;
      }
      return utf8.decode(joined);
    },
  };
}

/**
 * A llama2.c tokenizer as a PreTrainedTokenizer: the SentencePiece BPE model it was exported from (scores as merge
 * ranks, byte fallback, a dummy prefix space), converted as transformers' LlamaConverter does. llama2.c stores '▁' as
 * a space and BOS/EOS as '\n<s>\n' / '\n</s>\n'; ids 0, 1, 2 are <unk>, <s>, </s> as in the Llama vocabulary.
 */
export function llama2cToPreTrainedTokenizer(tokenizer: Llama2cTokenizer, source: string): PreTrainedTokenizer {
  const special = ['<unk>', '<s>', '</s>'];
  const pieces = tokenizer.pieces.map((text, id) => {
    const score = tokenizer.scores[id]!;
    if (id < special.length)
      return { piece: special[id]!, score, type: id === 0 ? PieceType.Unknown : PieceType.Control };
    if (/^<0x[0-9A-Fa-f]{2}>$/.test(text)) return { piece: text, score, type: PieceType.Byte };
    return { piece: text.replaceAll(' ', '\u2581'), score, type: PieceType.Normal };
  });
  const model: SentencePieceModel = {
    pieces,
    modelType: 'bpe',
    byteFallback: true,
    bosId: 1,
    eosId: 2,
    padId: -1,
    unkId: 0,
    addDummyPrefix: true,
    removeExtraWhitespaces: false,
    precompiledCharsmap: '',
  };
  const config = {
    bos_token: '<s>',
    eos_token: '</s>',
    unk_token: '<unk>',
    clean_up_tokenization_spaces: false,
    legacy: true,
  };
  return new PreTrainedTokenizer(sentencePieceToTokenizerJson(model, config), config, {
    source,
    decodeTokens: slowSentencePieceDecoder({ legacy: true, addDummyPrefix: true }),
  });
}
