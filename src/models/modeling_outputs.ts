import type { DecoderCache, Seq2SeqCache } from '../nn/kv_cache.js';
import type { Tensor } from '../tensor/tensor.js';
import type { PreTrainedModel } from './modeling_utils.js';

/**
 * The contract between models and generation. Shapes: B batch, T tokens, V vocabulary, C hidden size,
 * H key/value heads, D head size. The cache types belong to nn (attention writes them); they are re-exported here
 * because they are part of this contract.
 */
export type { DecoderCache, LayerKV, Seq2SeqCache } from '../nn/kv_cache.js';

export interface CausalLMInputs {
  inputIds: Tensor; // (B, T) int32
  attentionMask?: Tensor | null; // (B, Tpast + T) int32 1 = token, 0 = padding
  positionIds?: Tensor | null; // (B, T) int32; default: Tpast + arange(T)
  pastKeyValues?: DecoderCache | null;
  useCache?: boolean;
  labels?: Tensor | null; // (B, T) int32, -100 ignored; shifted inside like HF
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface CausalLMOutput {
  logits: Tensor; // (B, T, V)
  loss?: Tensor;
  pastKeyValues?: DecoderCache;
  hiddenStates?: Tensor[];
  attentions?: Tensor[]; // per layer (B, heads, T, Tpast + T)
}

export interface Seq2SeqLMInputs {
  inputIds?: Tensor | null; // (B, S) int32; not needed when encoderHiddenStates is given
  attentionMask?: Tensor | null; // (B, S)
  decoderInputIds: Tensor; // (B, T)
  decoderAttentionMask?: Tensor | null;
  encoderHiddenStates?: Tensor | null; // (B, S, C) from a previous encode()
  pastKeyValues?: Seq2SeqCache | null;
  useCache?: boolean;
  labels?: Tensor | null;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface Seq2SeqLMOutput {
  logits: Tensor; // (B, T, V)
  loss?: Tensor;
  pastKeyValues?: Seq2SeqCache;
  encoderLastHiddenState: Tensor;
  encoderHiddenStates?: Tensor[];
  decoderHiddenStates?: Tensor[];
  crossAttentions?: Tensor[];
}

export interface SequenceClassifierOutput {
  logits: Tensor; // (B, numLabels)
  loss?: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

export interface BaseModelOutput {
  lastHiddenState: Tensor; // (B, T, C)
  poolerOutput?: Tensor; // (B, C)
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/** What generation needs from a decoder-only model. */
export interface CausalLM {
  readonly config: {
    vocabSize: number;
    contextWindow?: number | null;
    eosTokenId?: number | number[] | null;
    padTokenId?: number | null;
  };
  forward(inputs: CausalLMInputs): CausalLMOutput;
  /** This model with its one-token cached steps compiled to one graph (models/compiled_decoding.ts), if offered. */
  compiledDecoding?(): CausalLM;
}

/** What generation needs from an encoder–decoder model. */
export interface Seq2SeqLM {
  readonly config: {
    vocabSize: number;
    contextWindow?: number | null;
    decoderStartTokenId?: number | null;
    eosTokenId?: number | number[] | null;
    padTokenId?: number | null;
  };
  encode(inputIds: Tensor, attentionMask?: Tensor | null): Tensor; // (B, S, C)
  forward(inputs: Seq2SeqLMInputs): Seq2SeqLMOutput;
  /** This model with its encoder and decoder passes compiled (models/compiled_decoding.ts), if offered. */
  compiledDecoding?(): Seq2SeqLM;
}

/** Token classification (NER): a label distribution per token. */
export interface TokenClassifierOutput {
  logits: Tensor; // (B, T, numLabels)
  loss?: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/** Extractive question answering: how likely each token is to start and to end the answer span. */
export interface QuestionAnsweringModelOutput {
  startLogits: Tensor; // (B, T)
  endLogits: Tensor; // (B, T)
  loss?: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

// ---- heads: one input type, and what a model loaded for each task can do ----

/**
 * The inputs of every forward pass that reads token ids without a decoder (encoders and their heads); causal and
 * encoder–decoder models take CausalLMInputs / Seq2SeqLMInputs. BERT-style models also read tokenTypeIds.
 */
export interface ModelInputs {
  inputIds: Tensor; // (B, T) int32
  attentionMask?: Tensor | null; // (B, T) 1 = token, 0 = padding
  tokenTypeIds?: Tensor | null; // (B, T); default all 0
  positionIds?: Tensor | null; // (B, T) or (T); default arange(T)
  labels?: Tensor | null;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

/** Inputs of an extractive QA head: `startPositions` / `endPositions` (B) int32 give the training loss. */
export type QuestionAnsweringInputs = Omit<ModelInputs, 'labels'> & {
  startPositions?: Tensor | null;
  endPositions?: Tensor | null;
};

export interface MaskedLMOutput {
  logits: Tensor; // (B, T, V)
  loss?: Tensor;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/** A pretrained model with its task's forward pass: what the Auto classes, `loadForTask` and the pipelines hand on. */
export type BaseModel = PreTrainedModel & { forward(inputs: ModelInputs): BaseModelOutput };
export type SequenceClassificationModel = PreTrainedModel & { forward(inputs: ModelInputs): SequenceClassifierOutput };
export type MaskedLMModel = PreTrainedModel & { forward(inputs: ModelInputs): MaskedLMOutput };
export type QuestionAnsweringModel = PreTrainedModel & {
  forward(inputs: QuestionAnsweringInputs): QuestionAnsweringModelOutput;
};
export type TokenClassificationModel = PreTrainedModel & { forward(inputs: ModelInputs): TokenClassifierOutput };
export type CausalLMModel = PreTrainedModel & CausalLM;
export type Seq2SeqLMModel = PreTrainedModel & Seq2SeqLM;

/** The head model of each task; the registry, `modelClassFor`, `loadForTask` and `Pipeline<M>` are typed by it. */
export interface ModelForTask {
  base: BaseModel;
  causalLM: CausalLMModel;
  seq2seqLM: Seq2SeqLMModel;
  sequenceClassification: SequenceClassificationModel;
  maskedLM: MaskedLMModel;
  questionAnswering: QuestionAnsweringModel;
  tokenClassification: TokenClassificationModel;
}

export type ModelTask = keyof ModelForTask;
