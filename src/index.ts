/**
 * attn: transformers in TypeScript. Each part of the library is a namespace (`import { nn, optim } from 'attn'`),
 * so names that several parts use (FromPretrainedOptions, CheckpointError, …) never clash; the names most programs
 * start from are also exported at the top level:
 *
 *   import { pipeline, AutoTokenizer, AutoModelForSequenceClassification, Trainer, TrainingArguments } from 'attn';
 */
import './backends/register.js';
export * as tensor from './tensor/index.js';
export * as nn from './nn/index.js';
export * as optim from './optim/index.js';
export * as models from './models/index.js';
export * as tokenizers from './tokenizers/index.js';
export * as generation from './generation/index.js';
export * as pipelines from './pipelines/index.js';
export * as data from './data/index.js';
export * as metrics from './metrics/index.js';
export * as training from './training/index.js';
export * as hub from './hub/index.js';

export { Tensor, noGrad, tidy, manualSeed, setBackend } from './tensor/index.js';
export {
  AutoConfig,
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForQuestionAnswering,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
  AutoModelForTokenClassification,
  PreTrainedModel,
  PretrainedConfig,
  quantize,
  dequantize,
  magnitudePrune,
} from './models/index.js';
export { AutoTokenizer, PreTrainedTokenizer, trainTokenizer } from './tokenizers/index.js';
export { generate, generateAsync, GenerationConfig, TextStreamer, TextIteratorStreamer } from './generation/index.js';
export { pipeline, type Task } from './pipelines/index.js';
export { Dataset, loadDataset } from './data/index.js';
export {
  Trainer,
  TrainingArguments,
  Seq2SeqTrainer,
  Seq2SeqTrainingArguments,
  DistillationTrainer,
} from './training/index.js';
export { resolveModelDir, pushToHub, hubDownload } from './hub/index.js';

// The chat client and the OpenAI-compatible server (src/chat has no index of its own).
export {
  ChatClient,
  ChatApiError,
  type ChatClientOptions,
  type ChatRequest,
  type ChatResult,
  type ChatStreamChunk,
} from './chat/client.js';
export {
  startChatServer,
  loadChatModel,
  loadEmbedder,
  type ChatServer,
  type ChatServerOptions,
} from './chat/server.js';
export { Conversation, type ConversationOptions } from './chat/conversation.js';
export type { ChatModel, Embedder, ChatRole } from './chat/types.js';
