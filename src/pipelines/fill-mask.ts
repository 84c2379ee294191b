/**
 * fill-mask with a masked language model (BERT): the likeliest tokens for the mask token in each text,
 * `[{ score, token, token_str, sequence }]`, as transformers. A text with several masks gets a list per mask.
 */
import { argsortDescending, inference, Pipeline, PipelineInputError, softmax, textBatch } from './base.js';
import type { MaskedLMModel } from '../models/modeling_outputs.js';

export interface FillMaskCandidate {
  score: number;
  token: number;
  token_str: string;
  /** The text with the mask replaced by this token. */
  sequence: string;
}

export interface FillMaskOptions {
  /** Candidates per mask, best first. Default 5. */
  topK?: number;
}

/** One mask: its candidates; several masks: a list of candidates per mask. */
export type FillMaskOutput = FillMaskCandidate[] | FillMaskCandidate[][];

export interface FillMaskPipeline {
  (text: string, options?: FillMaskOptions): Promise<FillMaskOutput>;
  (texts: string[], options?: FillMaskOptions): Promise<FillMaskOutput[]>;
}

export class FillMaskPipeline extends Pipeline<MaskedLMModel> {
  readonly task: string = 'fill-mask';

  protected async run(input: unknown, options: FillMaskOptions = {}): Promise<FillMaskOutput | FillMaskOutput[]> {
    this.checkUsable();
    const { texts, single } = textBatch(input);
    const topK = options.topK ?? 5;
    if (!Number.isInteger(topK) || topK < 1)
      throw new PipelineInputError(`topK must be a whole number >= 1, got ${options.topK}`);
    const maskToken = this.tokenizer.maskToken;
    const maskId = this.tokenizer.maskTokenId;
    if (maskToken === undefined || maskId === undefined)
      throw new PipelineInputError(`this model's tokenizer (${this.tokenizer.source}) has no mask token`);
    texts.forEach((text, i) => {
      if (!text.includes(maskToken))
        throw new PipelineInputError(
          `text${single ? '' : ` ${i}`} has no ${maskToken} to fill: "${text.slice(0, 80)}"`,
        );
    });
    const results = await this.inBatches(texts, (batch) =>
      inference(() => {
        const inputs = this.encode(batch);
        const logits = this.runEncoder('logits', inputs, (x) => ({ logits: this.model.forward(x).logits })).logits!; // (B, T, V)
        const [, t, v] = logits.shape as [number, number, number];
        return batch.map((_, row) => {
          const ids = Array.from(inputs.inputIds.data.subarray(row * t, (row + 1) * t));
          const perMask = ids
            .flatMap((id, position) => (id === maskId ? [position] : []))
            .map((position) => {
              const probs = softmax(logits.data.subarray((row * t + position) * v, (row * t + position + 1) * v));
              return argsortDescending(probs)
                .slice(0, topK)
                .map((token) => {
                  const filled = ids.map((id, p) => (p === position ? token : id));
                  return {
                    score: probs[token]!,
                    token,
                    token_str: this.tokenizer.decode([token]),
                    sequence: this.tokenizer.decode(filled, { skipSpecialTokens: true }),
                  };
                });
            });
          if (perMask.length === 0)
            throw new PipelineInputError(`text ${row}: its ${maskToken} was cut off by truncation; shorten the text`);
          return perMask.length === 1 ? perMask[0]! : perMask;
        });
      }),
    );
    return single ? results[0]! : results;
  }
}
