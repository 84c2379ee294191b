/**
 * The small contracts between the chat server / RAG and the models that serve them. Language models
 * (e.g. the stories260K Llama) implement `ChatModel`; sentence encoders implement `Embedder`.
 */

export type ChatRole = 'system' | 'developer' | 'user' | 'assistant' | 'tool';

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface ChatMessage {
  role: ChatRole;
  content: string;
  /** Set on `tool` messages: the id of the assistant's tool call this message answers. */
  tool_call_id?: string;
  /** Set on `assistant` messages that call tools. */
  tool_calls?: ToolCall[];
  name?: string;
}

export interface ChatGenerateOptions {
  maxTokens: number;
  /** 0 means greedy. */
  temperature: number;
  topP: number;
  /**
   * A hint: callers (the server) also cut the text at the first stop string themselves, so a model may ignore it.
   */
  stop: string[];
  seed?: number;
  /**
   * Aborts generation (client gone, stop string seen). A model then resolves soon with what it has so far;
   * rejecting is also accepted by callers.
   */
  signal: AbortSignal;
}

export type FinishReason = 'stop' | 'length';

export interface Usage {
  promptTokens: number;
  completionTokens: number;
}

export interface GenerateResult {
  text: string;
  finishReason: FinishReason;
  usage: Usage;
}

export interface ChatModel {
  id: string;
  /**
   * A string prompt is raw completion; messages are formatted with the model's own chat template.
   * `onText` receives the text as it is produced, in order; the deltas concatenate to `text`.
   */
  generate(
    prompt: string | ChatMessage[],
    opts: ChatGenerateOptions,
    onText?: (delta: string) => void,
  ): Promise<GenerateResult>;
}

export interface Embedder {
  id: string;
  dimension: number;
  /** One vector of `dimension` values per text, in order. */
  embed(texts: string[]): Promise<Float32Array[]>;
  /**
   * For embedders that read at most `maxTokens` tokens of a text (a transformer's window; the rest is cut): how
   * many tokens a text is, so that RAG makes chunks the embedder reads whole.
   */
  tokenWindow?: { maxTokens: number; countTokens(text: string): number };
}
