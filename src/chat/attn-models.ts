/**
 * attn's own models behind the chat server and RAG: a causal language model as a `ChatModel` and a sentence
 * encoder as an `Embedder`. Both are loaded through `pipeline()` (a folder, an installed model name or a hub id,
 * with its tokenizer and the right head checked), so serving adds no second way of finding models.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TextStreamer, type Streamer } from '../generation/streamers.js';
import { generateAsync } from '../generation/utils.js';
import {
  defaultModelName,
  installedModelsDir,
  pipeline,
  type FeatureExtractionPipeline,
  type TextGenerationPipeline,
} from '../pipelines/index.js';
import type { ChatMessage, ChatModel, Embedder, ChatGenerateOptions, GenerateResult } from './types.js';

/** The model `attn serve` serves when given none: the installed text-generation default (models/tinystories-llama). */
export const DEFAULT_CHAT_MODEL: string = defaultModelName('text-generation')!;

/** The installed sentence encoder (models/use-lite) that embeds for RAG and /v1/embeddings when none is named. */
export const DEFAULT_SENTENCE_ENCODER: string = defaultModelName('feature-extraction')!;

/** The embedder used when none is named: the installed sentence encoder, or the built-in lexical one without it. */
export function defaultEmbedderName(): string {
  return existsSync(join(installedModelsDir, DEFAULT_SENTENCE_ENCODER, 'config.json'))
    ? DEFAULT_SENTENCE_ENCODER
    : 'lexical';
}

/** Thrown from inside generation to end it between two tokens once the caller's signal aborts. */
class GenerationAborted extends Error {}

/**
 * A causal LM (GPT-2, Llama) as a chat model. Messages go through the tokenizer's chat template when it has one;
 * models without one (base models such as tinystories-llama) get a plain "role: content" transcript ending in
 * "assistant:", which is what such a model can continue.
 */
export class AttnChatModel implements ChatModel {
  private constructor(
    readonly id: string,
    private readonly generator: TextGenerationPipeline,
  ) {}

  /** `nameOrDir`: a model folder, a model installed in models/, or a hub repo id; it is also the served model id. */
  static async load(nameOrDir: string): Promise<AttnChatModel> {
    return new AttnChatModel(nameOrDir, await pipeline('text-generation', nameOrDir));
  }

  private get hasChatTemplate(): boolean {
    const template = this.generator.tokenizer.config['chat_template'];
    return typeof template === 'string' || Array.isArray(template);
  }

  /**
   * The text a conversation becomes. A chat template writes its own special tokens (BOS, role markers), so its
   * prompt is tokenized without adding them again; a transcript is tokenized as any raw prompt.
   */
  promptFor(messages: ChatMessage[]): { text: string; addSpecialTokens: boolean } {
    if (this.hasChatTemplate) {
      // Spread into plain objects: the tokenizer's message type carries an index signature for extra fields.
      const text = this.generator.tokenizer.applyChatTemplate(
        messages.map((m) => ({ ...m })),
        { addGenerationPrompt: true },
      );
      return { text, addSpecialTokens: false };
    }
    return { text: messages.map((m) => `${m.role}: ${m.content}\n`).join('') + 'assistant:', addSpecialTokens: true };
  }

  async generate(
    prompt: string | ChatMessage[],
    opts: ChatGenerateOptions,
    onText?: (delta: string) => void,
  ): Promise<GenerateResult> {
    const { text: promptText, addSpecialTokens } =
      typeof prompt === 'string' ? { text: prompt, addSpecialTokens: true } : this.promptFor(prompt);
    const tokenizer = this.generator.tokenizer;
    const { promptIds, maxNewTokens } = fitContextWindow(
      tokenizer.encodeIds(promptText, { addSpecialTokens }),
      opts.maxTokens,
      this.generator.maxTokens,
    );
    const eosTokenId = tokenizer.eosTokenId;
    const decode = (ids: readonly number[]) => tokenizer.decode([...ids], { skipSpecialTokens: true });

    let text = '';
    let completionTokens = 0;
    let lastToken: number | undefined;
    const textStreamer = new TextStreamer(tokenizer, {
      skipSpecialTokens: true,
      callback: (piece) => {
        if (piece.length === 0) return;
        text += piece;
        onText?.(piece);
      },
    });
    // Generation has no signal of its own: the streamer sees every token as it comes, so it is where an abort
    // (client gone, stop string seen by the server) ends the loop, one token at most after the signal.
    let promptSeen = false;
    const streamer: Streamer = {
      put: (ids) => {
        if (opts.signal.aborted) throw new GenerationAborted();
        // The first put is the prompt: it is neither completion text nor a completion token.
        if (!promptSeen) {
          promptSeen = true;
          return;
        }
        completionTokens += ids.length;
        lastToken = ids.at(-1);
        textStreamer.put(ids);
      },
      end: () => textStreamer.end(),
    };
    const usage = () => ({ promptTokens: promptIds.length, completionTokens });
    if (opts.signal.aborted) return { text, finishReason: 'stop', usage: usage() };

    const sampling = opts.temperature > 0;
    try {
      await generateAsync(this.generator.model, [promptIds], {
        maxNewTokens,
        doSample: sampling,
        ...(sampling ? { temperature: opts.temperature, topP: opts.topP, seed: opts.seed } : {}),
        ...(opts.stop.length > 0 ? { stopStrings: opts.stop, decode } : {}),
        padTokenId: tokenizer.padTokenId ?? eosTokenId ?? null,
        streamer,
      });
    } catch (err) {
      if (err instanceof GenerationAborted) return { text, finishReason: 'stop', usage: usage() };
      throw err;
    }
    const endedByModel = lastToken === eosTokenId || opts.stop.some((s) => text.includes(s));
    return {
      text,
      finishReason: completionTokens >= maxNewTokens && !endedByModel ? 'length' : 'stop',
      usage: usage(),
    };
  }
}

/**
 * Fits prompt + new tokens into the context window. A prompt keeps its newest tokens and at least half the window
 * (a request's max_tokens defaults to the server's limit, far beyond a small model's window, and must not crowd
 * the prompt out); the new tokens get the rest, up to what was asked.
 */
export function fitContextWindow(
  promptIds: number[],
  maxTokens: number,
  contextWindow: number,
): { promptIds: number[]; maxNewTokens: number } {
  const promptRoom = contextWindow - Math.min(maxTokens, Math.floor(contextWindow / 2));
  const kept = promptIds.length > promptRoom ? promptIds.slice(promptIds.length - promptRoom) : promptIds;
  if (kept.length === 0)
    throw new RangeError(
      'the prompt is empty and the tokenizer adds no BOS token to start from; give some prompt text',
    );
  return { promptIds: kept, maxNewTokens: Math.min(maxTokens, contextWindow - kept.length) };
}

/** A sentence encoder (use-lite, or any encoder mean-pooled) as an embedder: unit-length vectors, one per text. */
export class AttnEmbedder implements Embedder {
  private constructor(
    readonly id: string,
    readonly dimension: number,
    private readonly encoder: FeatureExtractionPipeline,
  ) {}

  /** `nameOrId` as for pipelines; it is the embedder's id, which a RAG index records to reload it by. */
  static async load(nameOrId: string): Promise<AttnEmbedder> {
    const encoder = await pipeline('feature-extraction', nameOrId);
    // The pooled width is the model's, whichever config field names it: one probe says it for every architecture.
    const [probe] = await encoder.embed(['dimension']);
    return new AttnEmbedder(nameOrId, probe!.length, encoder);
  }

  embed(texts: string[]): Promise<Float32Array[]> {
    return texts.length === 0 ? Promise.resolve([]) : this.encoder.embed(texts, true);
  }

  get tokenWindow(): NonNullable<Embedder['tokenWindow']> {
    const { tokenizer, maxTokens } = this.encoder;
    return { maxTokens, countTokens: (text) => tokenizer.encodeIds(text).length };
  }
}
