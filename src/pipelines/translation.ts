/**
 * translation with an encoder–decoder model: `translation_de_to_en`-style tasks, or `translation` with
 * `srcLang` / `tgtLang`. How a model is told the pair, as transformers does it:
 * - T5-style checkpoints list their pairs in task_specific_params (`translation_en_to_de`: a prefix such as
 *   "translate English to German: ");
 * - multi-target Marian models take a `>>de<<` target token before the text;
 * - a single-pair model (opus-mt-de-en, attn's default) needs nothing.
 */
import { PipelineInputError, textBatch } from './base.js';
import { Text2TextPipeline, type GenerationOptions, type TaskSettings } from './text2text-generation.js';

export interface TranslationResult {
  translation_text: string;
}

export type TranslationOptions = GenerationOptions & {
  srcLang?: string;
  tgtLang?: string;
};

/** 'translation_de_to_en' → { srcLang: 'de', tgtLang: 'en' }; undefined for other names. */
export function languagePair(task: string): { srcLang: string; tgtLang: string } | undefined {
  const match = /^translation_([a-zA-Z-]+)_to_([a-zA-Z-]+)$/.exec(task);
  return match ? { srcLang: match[1]!, tgtLang: match[2]! } : undefined;
}

export interface TranslationPipeline {
  (text: string, options?: TranslationOptions): Promise<TranslationResult[]>;
  (texts: string[], options?: TranslationOptions): Promise<TranslationResult[]>;
}

export class TranslationPipeline extends Text2TextPipeline {
  readonly task: string = 'translation';
  /** The pair the pipeline was created for (from the task name or options); a call may name another. */
  pair: { srcLang?: string; tgtLang?: string } = {};

  protected async run(input: unknown, options: TranslationOptions = {}): Promise<TranslationResult[]> {
    const { texts } = textBatch(input);
    const { srcLang = this.pair.srcLang, tgtLang = this.pair.tgtLang, ...generation } = options;
    const translations = await this.generateTexts(texts, this.pairSettings(srcLang, tgtLang), generation);
    return translations.map((translation_text) => ({ translation_text }));
  }

  /** How this model is told to translate srcLang → tgtLang; an error when it shows it cannot. */
  pairSettings(srcLang: string | undefined, tgtLang: string | undefined): TaskSettings {
    const declared = Object.keys((this.model.config.rawField('task_specific_params') ?? {}) as object).filter((k) =>
      k.startsWith('translation'),
    );
    if (srcLang !== undefined && tgtLang !== undefined && declared.includes(`translation_${srcLang}_to_${tgtLang}`)) {
      return this.taskSettings(`translation_${srcLang}_to_${tgtLang}`);
    }
    if (declared.length > 0) {
      const wanted = srcLang && tgtLang ? `${srcLang}→${tgtLang}` : 'no language pair (pass srcLang and tgtLang)';
      throw new PipelineInputError(
        `this model translates ${declared.map((k) => k.replace('translation_', '').replace('_to_', '→')).join(', ')}; asked for ${wanted}`,
      );
    }
    const targetToken = tgtLang === undefined ? undefined : `>>${tgtLang}<<`;
    if (targetToken !== undefined && this.tokenizer.getVocab().has(targetToken))
      return { prefix: `${targetToken} `, generation: {} };
    return { prefix: '', generation: {} };
  }
}
