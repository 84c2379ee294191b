import type { ChatClient, ChatResult, SamplingOptions } from './client.js';
import type { ChatMessage } from './types.js';

/** A rough token count for when the model's tokenizer is not at hand: about 4 characters per token in English. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Role markers and separators that chat templates add around each message. */
const TOKENS_PER_MESSAGE = 4;

export interface ConversationOptions {
  /** The system message, always sent first and never trimmed. */
  system?: string;
  /** Most tokens the messages sent may take (system message included). */
  maxTokens: number;
  /** Counts the tokens of a text; default `estimateTokens`. Pass the model's tokenizer for exact budgets. */
  countTokens?: (text: string) => number;
}

/**
 * A chat history that pins the system message and keeps what is sent within a token budget, dropping the
 * oldest turns first. A turn is a user message with everything that answers it (assistant, tool calls, tool
 * results), so a tool result is never sent without the call it answers.
 */
export class Conversation {
  readonly system: string | undefined;
  private readonly history: ChatMessage[] = [];
  private readonly maxTokens: number;
  private readonly countTokens: (text: string) => number;

  constructor(options: ConversationOptions) {
    this.system = options.system;
    this.maxTokens = options.maxTokens;
    this.countTokens = options.countTokens ?? estimateTokens;
    if (this.system !== undefined && this.messageTokens({ role: 'system', content: this.system }) > this.maxTokens) {
      throw new Error(`Conversation: the system message alone takes more than the ${this.maxTokens}-token budget`);
    }
  }

  add(message: ChatMessage): this {
    if (message.role === 'system')
      throw new Error('Conversation: the system message is pinned; pass it as the `system` option');
    this.history.push(message);
    return this;
  }

  /** Everything added so far, untrimmed. */
  get all(): readonly ChatMessage[] {
    return this.history;
  }

  /**
   * What to send: the system message, then the most recent whole turns that fit the budget. The latest turn is
   * always kept, even over budget, since there is nothing to answer without it.
   */
  messages(): ChatMessage[] {
    const system: ChatMessage[] = this.system === undefined ? [] : [{ role: 'system', content: this.system }];
    let budget = this.maxTokens - system.reduce((n, m) => n + this.messageTokens(m), 0);
    const turns = this.turns();
    const kept: ChatMessage[][] = [];
    for (let i = turns.length - 1; i >= 0; i--) {
      const cost = turns[i]!.reduce((n, m) => n + this.messageTokens(m), 0);
      if (cost > budget && kept.length > 0) break;
      budget -= cost;
      kept.unshift(turns[i]!);
    }
    return [...system, ...kept.flat()];
  }

  /**
   * Adds `text` as the user's message, asks the model, records and returns its answer. When the call fails the
   * user message is taken back out, so the same text can simply be sent again.
   */
  async send(client: ChatClient, text: string, options: SamplingOptions = {}): Promise<ChatResult> {
    this.add({ role: 'user', content: text });
    try {
      const result = await client.chat({ ...options, messages: this.messages() });
      this.add(result.message);
      return result;
    } catch (err) {
      this.history.pop();
      throw err;
    }
  }

  private messageTokens(message: ChatMessage): number {
    const toolCalls = message.tool_calls ? this.countTokens(JSON.stringify(message.tool_calls)) : 0;
    return TOKENS_PER_MESSAGE + this.countTokens(message.content) + toolCalls;
  }

  private turns(): ChatMessage[][] {
    const turns: ChatMessage[][] = [];
    for (const message of this.history) {
      if (message.role === 'user' || turns.length === 0) turns.push([message]);
      else turns.at(-1)!.push(message);
    }
    return turns;
  }
}
