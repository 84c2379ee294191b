/**
 * What summarization and translation share with an encoder–decoder model (BART, T5, Marian): a task prefix and
 * generation defaults from config.json's `task_specific_params` (T5's "summarize: ", BART-CNN's beam settings),
 * the caller's generation options over them, batched generation, and decoding without special tokens.
 */
import type { GenerationParams } from '../generation/configuration_utils.js';
import { generate } from '../generation/utils.js';
import type { Seq2SeqLMModel } from '../models/modeling_outputs.js';
import { noGrad } from '../tensor/engine.js';
import { Pipeline, PipelineInputError } from './base.js';

/** Decoding options a caller may pass (camelCase, as `generate` takes them). */
export type GenerationOptions = Partial<GenerationParams> & {
  /** Seeds sampling, so the same seed gives the same text. */
  seed?: number;
};

/** The task_specific_params fields that are generation settings (transformers applies them to the model config). */
const TASK_PARAM_FIELDS: Record<string, keyof GenerationParams> = {
  max_length: 'maxLength',
  min_length: 'minLength',
  num_beams: 'numBeams',
  length_penalty: 'lengthPenalty',
  early_stopping: 'earlyStopping',
  max_new_tokens: 'maxNewTokens',
};

export interface TaskSettings {
  prefix: string;
  generation: GenerationOptions;
}

export abstract class Text2TextPipeline extends Pipeline<Seq2SeqLMModel> {
  /** The prefix and generation defaults config.json's task_specific_params gives `key` (e.g. 'summarization'). */
  taskSettings(key: string): TaskSettings {
    const all = this.model.config.rawField('task_specific_params');
    const params = (all !== null && typeof all === 'object' ? (all as Record<string, unknown>)[key] : undefined) as
      Record<string, unknown> | undefined;
    const generation: Record<string, unknown> = {};
    for (const [field, name] of Object.entries(TASK_PARAM_FIELDS))
      if (params?.[field] !== undefined) generation[name] = params[field];
    return {
      prefix: typeof params?.prefix === 'string' ? params.prefix : '',
      generation: generation as GenerationOptions,
    };
  }

  /** Generates one text per input (prefix added), decoded without special tokens. */
  protected async generateTexts(
    texts: string[],
    settings: TaskSettings,
    options: GenerationOptions,
  ): Promise<string[]> {
    this.checkUsable();
    const decoding = { ...settings.generation, ...options };
    if ((decoding.numReturnSequences ?? 1) !== 1)
      throw new PipelineInputError(
        `${this.task} returns one text per input; numReturnSequences must be 1, got ${decoding.numReturnSequences}`,
      );
    return this.inBatches(texts, (batch) => {
      const inputs = this.encode(batch.map((text) => settings.prefix + text));
      try {
        const out = noGrad(() =>
          generate(this.model, inputs.inputIds, { ...decoding, attentionMask: inputs.attentionMask }),
        );
        return this.tokenizer.batchDecode(out.sequences, { skipSpecialTokens: true }).map((text) => text.trim());
      } catch (err) {
        // Unknown or out-of-range decoding options are the caller's to fix; `generate` names them.
        if (err instanceof RangeError) throw new PipelineInputError(`${this.task}: ${err.message}`);
        throw err;
      } finally {
        for (const t of Object.values(inputs)) t.dispose();
      }
    });
  }
}
