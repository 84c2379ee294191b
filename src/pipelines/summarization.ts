/**
 * summarization, two ways, chosen by the model folder:
 * - abstractive, with an encoder–decoder checkpoint (BART, T5): generated text, `minLength` / `maxLength` /
 *   `numBeams` over the checkpoint's task_specific_params.summarization defaults;
 * - extractive (the offline default, a sentence encoder): the text's most central sentences — those whose
 *   embeddings are closest to the mean of all its sentence embeddings — kept in their original order. Nothing is
 *   rewritten, and each result says so: `method: 'extractive'` and the indices of the sentences it kept.
 */
import { Pipeline, PipelineInputError, textBatch } from './base.js';
import { dot, type FeatureExtractionPipeline } from './feature-extraction.js';
import { Text2TextPipeline, type GenerationOptions } from './text2text-generation.js';

export interface SummarizationResult {
  summary_text: string;
  method: 'abstractive' | 'extractive';
  /** Extractive: the indices of the sentences kept, in order. */
  sentences?: number[];
}

export type SummarizationOptions = GenerationOptions & {
  /** Extractive: how many sentences to keep. Default a third of them, from 1 to 3. */
  numSentences?: number;
};

export interface SummarizationPipeline {
  (text: string, options?: SummarizationOptions): Promise<SummarizationResult[]>;
  (texts: string[], options?: SummarizationOptions): Promise<SummarizationResult[]>;
}

export class SummarizationPipeline extends Text2TextPipeline {
  readonly task: string = 'summarization';

  protected async run(input: unknown, options: SummarizationOptions = {}): Promise<SummarizationResult[]> {
    const { texts } = textBatch(input);
    const { numSentences, ...generation } = options;
    if (numSentences !== undefined) throw new PipelineInputError('numSentences is for extractive summarization; this model writes its own summary (use maxLength)');
    const summaries = await this.generateTexts(texts, this.taskSettings('summarization'), generation);
    return summaries.map((summary_text) => ({ summary_text, method: 'abstractive' }));
  }
}

export interface ExtractiveSummarizationPipeline {
  (text: string, options?: SummarizationOptions): Promise<SummarizationResult[]>;
  (texts: string[], options?: SummarizationOptions): Promise<SummarizationResult[]>;
}

export class ExtractiveSummarizationPipeline extends Pipeline {
  readonly task: string = 'summarization';

  constructor(private readonly encoder: FeatureExtractionPipeline) {
    super(encoder.model, encoder.tokenizer, { batchSize: encoder.batchSize });
  }

  protected async run(input: unknown, options: SummarizationOptions = {}): Promise<SummarizationResult[]> {
    const { texts } = textBatch(input);
    const { numSentences, maxLength } = options;
    if (numSentences !== undefined && (!Number.isInteger(numSentences) || numSentences < 1)) {
      throw new PipelineInputError(`numSentences must be a whole number >= 1, got ${numSentences}`);
    }
    // Every sentence of every text is embedded in one batched pass; each text then picks from its own.
    const sentencesOf = texts.map(splitSentences);
    const vectors = await this.encoder.embed(sentencesOf.flat());
    let offset = 0;
    return sentencesOf.map((sentences) => {
      const own = vectors.slice(offset, (offset += sentences.length));
      const keep = numSentences ?? Math.min(3, Math.max(1, Math.round(sentences.length / 3)));
      const kept = this.centralSentences(sentences, own, keep, maxLength);
      return { summary_text: kept.map((i) => sentences[i]).join(' '), method: 'extractive', sentences: kept };
    });
  }

  /**
   * The `keep` sentences nearest the mean embedding (the text's centre), in text order; with `maxTokens`, fewer
   * when they would not fit (always at least the most central one).
   */
  private centralSentences(sentences: string[], vectors: Float32Array[], keep: number, maxTokens: number | undefined): number[] {
    const centre = new Float32Array(vectors[0]!.length);
    for (const v of vectors) for (let j = 0; j < centre.length; j++) centre[j] += v[j]! / vectors.length;
    const ranked = vectors.map((v, i) => ({ i, score: dot(v, centre) })).sort((a, b) => b.score - a.score || a.i - b.i);
    const chosen: number[] = [];
    let tokens = 0;
    for (const { i } of ranked) {
      if (chosen.length >= keep) break;
      const length = this.tokenizer.encodeIds(sentences[i]!, { addSpecialTokens: false }).length;
      if (maxTokens !== undefined && chosen.length > 0 && tokens + length > maxTokens) continue;
      chosen.push(i);
      tokens += length;
    }
    return chosen.sort((a, b) => a - b);
  }
}

/**
 * Sentences of a text: split after . ! ? (and their full-width forms, 。) followed by white space, and at line
 * breaks. A period after a single capital letter or a common abbreviation, or a mark followed by a lower-case
 * word (`"Why?" she asked`), does not end a sentence.
 */
export function splitSentences(text: string): string[] {
  const sentences: string[] = [];
  for (const line of text.split(/\n+/)) {
    let start = 0;
    for (const match of line.matchAll(/[.!?。！？]+(["'”’)\]]*)\s+(?=(\p{Ll})?)/gu)) {
      const end = match.index + match[0].trimEnd().length;
      const before = line.slice(start, end);
      if (/(?:^|\s)(?:[A-Z]|Mr|Mrs|Ms|Dr|Prof|St|vs|etc|e\.g|i\.e)\.$/.test(before)) continue;
      if (match[1] !== '' && match[2] !== undefined) continue; // a quoted question inside a sentence
      sentences.push(before.trim());
      start = end;
    }
    sentences.push(line.slice(start).trim());
  }
  return sentences.filter((s) => s !== '');
}
