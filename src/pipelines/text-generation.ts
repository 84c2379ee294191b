/**
 * text-generation with a decoder-only model (GPT-2, Llama): `[{ generated_text }]` per prompt, as transformers.
 * Prompts in a batch are padded on the left, so every row continues from its own last token. A conversation
 * (`[{ role, content }, …]`) goes through the tokenizer's chat template and comes back with the assistant's
 * reply appended (`returnFullText: false`: the reply's text alone).
 */
import { TextStreamer } from '../generation/streamers.js';
import { generateAsync } from '../generation/utils.js';
import type { CausalLMModel } from '../models/modeling_outputs.js';
import type { ChatTemplateMessage } from '../tokenizers/tokenizer.js';
import { describe, Pipeline, PipelineInputError, textBatch } from './base.js';
import type { GenerationOptions } from './text2text-generation.js';

export type TextGenerationOptions = GenerationOptions & {
  /** Include the prompt in `generated_text` (default true, as transformers). */
  returnFullText?: boolean;
  /** Called with each new piece of text as it is generated (one prompt at a time, no beams). */
  onText?: (text: string) => void;
};

export interface TextGenerationResult {
  generated_text: string;
}

export interface ChatGenerationResult {
  /** The conversation with the assistant's reply appended, or (returnFullText false) the reply's text. */
  generated_text: ChatTemplateMessage[] | string;
}

export interface TextGenerationPipeline {
  (prompt: string, options?: TextGenerationOptions): Promise<TextGenerationResult[]>;
  (prompts: string[], options?: TextGenerationOptions): Promise<TextGenerationResult[][]>;
  (conversation: ChatTemplateMessage[], options?: TextGenerationOptions): Promise<ChatGenerationResult[]>;
}

/** New tokens when neither the caller nor generation_config.json says (transformers' max_length 20 is too short to show anything). */
const DEFAULT_NEW_TOKENS = 50;

export class TextGenerationPipeline extends Pipeline<CausalLMModel> {
  readonly task: string = 'text-generation';

  protected async run(input: unknown, options: TextGenerationOptions = {}): Promise<unknown> {
    this.checkUsable();
    if (isConversation(input)) {
      const prompt = this.chatPrompt(input);
      // The template wrote the special tokens (BOS, role markers) itself.
      const [reply] = await this.complete([prompt], { ...options, returnFullText: false }, false);
      const text = reply![0]!.generated_text.trim();
      const fullText = options.returnFullText ?? true;
      return [{ generated_text: fullText ? [...input, { role: 'assistant', content: text }] : text }];
    }
    const { texts, single } = textBatch(input, 'prompt');
    const results = await this.complete(texts, options);
    return single ? results[0] : results;
  }

  private chatPrompt(messages: ChatTemplateMessage[]): string {
    if (
      typeof this.tokenizer.config['chat_template'] !== 'string' &&
      !Array.isArray(this.tokenizer.config['chat_template'])
    ) {
      throw new PipelineInputError(
        `this model's tokenizer (${this.tokenizer.source}) has no chat template, so it takes text prompts, not messages`,
      );
    }
    return this.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  }

  private async complete(
    prompts: string[],
    options: TextGenerationOptions,
    addSpecialTokens = true,
  ): Promise<TextGenerationResult[][]> {
    const { returnFullText = true, onText, ...decoding } = options;
    if (onText && prompts.length > 1)
      throw new PipelineInputError(`onText streams one prompt at a time; got ${prompts.length} prompts`);
    const hasOwnLength = decoding.maxLength !== undefined || this.model.generationConfig?.maxNewTokens != null;
    const settings = { maxNewTokens: hasOwnLength ? undefined : DEFAULT_NEW_TOKENS, ...decoding };
    const perPrompt = settings.numReturnSequences ?? 1;
    const results = await this.inBatches(prompts, async (batch) => {
      const inputs = this.encode(batch, {
        paddingSide: 'left',
        cutFrom: 'start',
        addSpecialTokens,
        maxTokens: this.promptBudget(settings.maxNewTokens),
      });
      const decode = (ids: readonly number[]) => this.tokenizer.decode([...ids], { skipSpecialTokens: true });
      try {
        const out = await generateAsync(this.model, inputs.inputIds, {
          ...settings,
          attentionMask: inputs.attentionMask,
          padTokenId: settings.padTokenId ?? this.tokenizer.padTokenId ?? this.tokenizer.eosTokenId ?? null,
          streamer: onText
            ? new TextStreamer(this.tokenizer, {
                skipPrompt: true,
                skipSpecialTokens: true,
                callback: (text) => text && onText(text),
              })
            : undefined,
        });
        const width = inputs.inputIds.shape[1]!;
        return out.sequences.map((row, r) => {
          // As transformers: decode the whole row and drop the prompt's decoded length, so a continuation keeps
          // the space that joins it to the prompt (SentencePiece decoders drop a leading one).
          const continuation = decode(row).slice(decode(row.slice(0, width)).length);
          return { generated_text: returnFullText ? batch[Math.floor(r / perPrompt)]! + continuation : continuation };
        });
      } catch (err) {
        if (err instanceof RangeError) throw new PipelineInputError(`text-generation: ${err.message}`);
        throw err;
      } finally {
        for (const t of Object.values(inputs)) t.dispose();
      }
    });
    return prompts.map((_, i) => results.slice(i * perPrompt, (i + 1) * perPrompt));
  }

  /** The longest prompt that leaves room for the new tokens in the context window (prompts are cut from the left). */
  private promptBudget(maxNewTokens: number | null | undefined): number {
    const budget = this.maxTokens - (maxNewTokens ?? 0);
    if (budget < 1)
      throw new PipelineInputError(
        `maxNewTokens ${maxNewTokens} leaves no room for a prompt in the model's context window of ${this.maxTokens} tokens`,
      );
    return budget;
  }
}

function isConversation(input: unknown): input is ChatTemplateMessage[] {
  if (!Array.isArray(input) || input.length === 0 || typeof input[0] !== 'object' || input[0] === null) return false;
  input.forEach((message: unknown, i) => {
    const m = message as Partial<ChatTemplateMessage> | null;
    if (typeof m?.role !== 'string' || typeof m.content !== 'string') {
      throw new PipelineInputError(`message ${i} is ${describe(message)}; expected { role: string, content: string }`);
    }
  });
  return true;
}
