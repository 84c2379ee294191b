/**
 * `pipeline(task, model?, options?)`: a ready-to-call model for a task, as in Hugging Face.
 *
 *   const classify = await pipeline('sentiment-analysis');
 *   await classify('I love this movie');   // [{ label: 'POSITIVE', score: 0.99 }]
 *   classify.dispose();
 *
 * Without `model`, the task's default model installed with attn (models/<name> in the package) is used; `lang`
 * picks among defaults in several languages (sentiment: 'en', 'ko'). `model` is a folder, the name of an
 * installed model, a hub repo id, or (text-generation) a llama2.c checkpoint file with its tokenizer beside it.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { HubDownloadOptions } from '../hub/download.js';
import { registrationFor, type ModelTask } from '../models/auto/registry.js';
import type { PretrainedConfig } from '../models/configuration_utils.js';
import {
  llama2cToPreTrainedTokenizer,
  loadLlama2cModel,
  loadLlama2cTokenizer,
} from '../models/llama/convert_llama2c.js';
import { Pipeline, PipelineInputError, type PipelineOptions } from './base.js';
import { FeatureExtractionPipeline } from './feature-extraction.js';
import { FillMaskPipeline } from './fill-mask.js';
import { hasHead, installedModelsDir, loadForTask, ModelLoadError, readModelConfig, resolveModel } from './load.js';
import { ExtractiveSummarizationPipeline, SummarizationPipeline } from './summarization.js';
import { loadNgramHead, TextClassificationPipeline } from './text-classification.js';
import { TextGenerationPipeline } from './text-generation.js';
import { languagePair, TranslationPipeline } from './translation.js';
import { QuestionAnsweringPipeline } from './question-answering.js';
import { TokenClassificationPipeline } from './token-classification.js';
import { ZeroShotClassificationPipeline } from './zero-shot-classification.js';
import { applyWeightDtype, checkWeightDtype, readQuantizationConfig } from '../models/quantization.js';
import { getBackend } from '../tensor/engine.js';

const ENCODER_HEADS = new Set<ModelTask>([
  'sequenceClassification',
  'base',
  'maskedLM',
  'questionAnswering',
  'tokenClassification',
]);

export { Pipeline, PipelineInputError, type PipelineOptions } from './base.js';
export { ModelLoadError, installedModelsDir } from './load.js';
export * from './feature-extraction.js';
export * from './fill-mask.js';
export * from './summarization.js';
export * from './text-classification.js';
export * from './text-generation.js';
export type { GenerationOptions } from './text2text-generation.js';
export * from './translation.js';
export * from './zero-shot-classification.js';
export * from './question-answering.js';
export * from './token-classification.js';

/** The tasks `pipeline()` knows, by their canonical names (aliases and translation_xx_to_yy resolve to these). */
export const TASKS = [
  'text-classification',
  'zero-shot-classification',
  'summarization',
  'translation',
  'text-generation',
  'feature-extraction',
  'fill-mask',
  'question-answering',
  'token-classification',
] as const;
export type Task = (typeof TASKS)[number];

const ALIASES: Record<string, Task> = { 'sentiment-analysis': 'text-classification', ner: 'token-classification' };

/**
 * The default model of each task, by language (or language pair): folders under models/ in the package, shipped
 * with attn. 'en' (or the pair's key) is used when no `lang` is given.
 */
export const DEFAULT_MODELS: Readonly<Record<Task, Readonly<Record<string, string>>>> = {
  'text-classification': { en: 'sentiment-en', ko: 'sentiment-ko' },
  'zero-shot-classification': { en: 'use-lite' },
  summarization: { en: 'use-lite' },
  translation: { 'de-en': 'translation-de-en' },
  'text-generation': { en: 'tinystories-llama' },
  'feature-extraction': { en: 'use-lite' },
  'fill-mask': {},
  'question-answering': {},
  'token-classification': {},
};

/** Hub options as models and tokenizers take them: revision, cacheDir, localFilesOnly, endpoint, token. */
export type PipelineFactoryOptions = PipelineOptions &
  HubDownloadOptions & {
    /** Picks the default model for this language ('en', 'ko'); ignored when `model` is given. */
    lang?: string;
    /** translation: the language pair (also read from task names like 'translation_de_to_en'). */
    srcLang?: string;
    tgtLang?: string;
    /**
     * text-classification: add the n-gram classifier a folder ships (config.json `ngram_head`) to the transformer's
     * logits (default true); false gives the transformer alone, as transformers computes it.
     */
    ngramHead?: boolean;
  };

/** The canonical task and, for translation_xx_to_yy, its language pair; unknown names are errors listing the known. */
export function parseTask(task: string): { task: Task; srcLang?: string; tgtLang?: string } {
  const pair = languagePair(task);
  if (pair) return { task: 'translation', ...pair };
  const canonical = ALIASES[task] ?? (TASKS as readonly string[]).find((t) => t === task);
  if (canonical === undefined) {
    throw new PipelineInputError(
      `unknown task '${task}'; attn knows ${[...TASKS, ...Object.keys(ALIASES), 'translation_xx_to_yy'].join(', ')}`,
    );
  }
  return { task: canonical as Task };
}

/** The default model's name for a task (and language), or undefined when attn ships none for it. */
export function defaultModelName(task: Task, lang?: string): string | undefined {
  const table = DEFAULT_MODELS[task];
  return lang !== undefined ? table[lang] : (table.en ?? Object.values(table)[0]);
}

/** The default model's folder, with an error saying what is missing and what to do when it is not installed. */
export function defaultModelDir(task: Task, lang?: string): string {
  const table = DEFAULT_MODELS[task];
  const name = defaultModelName(task, lang);
  if (name === undefined) {
    const choices = Object.keys(table);
    const why =
      choices.length === 0
        ? `attn ships no default model for ${task}`
        : `attn's ${task} defaults are for ${choices.join(', ')}, not '${lang}'`;
    throw new ModelLoadError(`${why}; pass a model folder or hub repo id (--model M on the command line)`);
  }
  const dir = join(installedModelsDir, name);
  if (!existsSync(join(dir, 'config.json'))) {
    throw new ModelLoadError(
      `the default ${task} model is ${dir}, which is not installed (no config.json there); pass another model, or restore the models/ folder of the attn package`,
    );
  }
  return dir;
}

/** The heads a folder was saved with (from config.json's architectures); none listed means a base model. */
function savedHeads(config: PretrainedConfig): ModelTask[] {
  const registration = registrationFor(config.modelType);
  if (registration === undefined) return [];
  const heads = (config.architectures ?? []).flatMap((name) =>
    (Object.keys(registration) as Array<ModelTask | 'config'>).filter(
      (key): key is ModelTask => key !== 'config' && registration[key]?.name === name,
    ),
  );
  return heads.length > 0 ? heads : ['base'];
}

/** The tasks a model folder can serve, judged from its config.json (for `attn models`). */
export function tasksFor(config: PretrainedConfig): Task[] {
  const tasks = new Set<Task>();
  for (const head of savedHeads(config)) {
    if (head === 'sequenceClassification') {
      tasks.add('text-classification');
      if (Object.keys(config.label2id).some((label) => label.toLowerCase().startsWith('entail')))
        tasks.add('zero-shot-classification');
    } else if (head === 'causalLM') tasks.add('text-generation');
    else if (head === 'seq2seqLM') ['summarization', 'translation'].forEach((t) => tasks.add(t as Task));
    else if (head === 'maskedLM') tasks.add('fill-mask');
    else if (head === 'questionAnswering') tasks.add('question-answering');
    else if (head === 'tokenClassification') tasks.add('token-classification');
    else ['feature-extraction', 'zero-shot-classification', 'summarization'].forEach((t) => tasks.add(t as Task));
  }
  return TASKS.filter((task) => tasks.has(task));
}

/** `lang` for translation defaults: the pair 'de-en'. */
function defaultLang(task: Task, options: PipelineFactoryOptions): string | undefined {
  if (task !== 'translation') return options.lang;
  return options.srcLang !== undefined && options.tgtLang !== undefined
    ? `${options.srcLang}-${options.tgtLang}`
    : undefined;
}

/** A llama2.c checkpoint file (`.bin`, e.g. karpathy's stories260K.bin) rather than a model folder or repo id. */
function isLlama2cCheckpoint(model: string): boolean {
  try {
    return model.endsWith('.bin') && statSync(model).isFile();
  } catch {
    return false;
  }
}

/** text-generation from a llama2.c checkpoint, with the tokenizer beside it (tokenizer.bin, or the one tok*.bin). */
async function llama2cPipeline(
  task: Task,
  file: string,
  options: PipelineFactoryOptions,
): Promise<TextGenerationPipeline> {
  if (task !== 'text-generation')
    throw new ModelLoadError(`${file} is a llama2.c checkpoint: it serves text-generation, not ${task}`);
  const dir = dirname(file);
  const tokenizers = readdirSync(dir).filter((name) => name === 'tokenizer.bin' || /^tok.*\.bin$/.test(name));
  const tokenizerFile = tokenizers.includes('tokenizer.bin')
    ? 'tokenizer.bin'
    : tokenizers.length === 1
      ? tokenizers[0]
      : undefined;
  if (tokenizerFile === undefined) {
    const found = tokenizers.length > 0 ? `found ${tokenizers.join(', ')}` : 'found none';
    throw new ModelLoadError(
      `${file}: a llama2.c checkpoint needs its tokenizer beside it (tokenizer.bin, or a single tok*.bin); ${found}`,
    );
  }
  const model = await loadLlama2cModel(file);
  applyWeightDtype(model, options.dtype, file);
  const tokenizer = await loadLlama2cTokenizer(join(dir, tokenizerFile), model.config.vocabSize);
  return new TextGenerationPipeline(model, llama2cToPreTrainedTokenizer(tokenizer, join(dir, tokenizerFile)), options);
}

export function pipeline(
  task: 'sentiment-analysis' | 'text-classification',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<TextClassificationPipeline>;
export function pipeline(
  task: 'zero-shot-classification',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<ZeroShotClassificationPipeline>;
export function pipeline(
  task: 'summarization',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<SummarizationPipeline | ExtractiveSummarizationPipeline>;
export function pipeline(
  task: 'translation' | `translation_${string}_to_${string}`,
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<TranslationPipeline>;
export function pipeline(
  task: 'text-generation',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<TextGenerationPipeline>;
export function pipeline(
  task: 'feature-extraction',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<FeatureExtractionPipeline>;
export function pipeline(
  task: 'fill-mask',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<FillMaskPipeline>;
export function pipeline(
  task: 'question-answering',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<QuestionAnsweringPipeline>;
export function pipeline(
  task: 'token-classification' | 'ner',
  model?: string,
  options?: PipelineFactoryOptions,
): Promise<TokenClassificationPipeline>;
export function pipeline(task: string, model?: string, options?: PipelineFactoryOptions): Promise<Pipeline>;
export async function pipeline(
  taskName: string,
  model?: string,
  options: PipelineFactoryOptions = {},
): Promise<Pipeline> {
  const { task, ...pair } = parseTask(taskName);
  checkWeightDtype(options.dtype, `pipeline('${taskName}')`);
  if (model !== undefined && isLlama2cCheckpoint(model)) return llama2cPipeline(task, model, options);
  const srcLang = options.srcLang ?? pair.srcLang;
  const tgtLang = options.tgtLang ?? pair.tgtLang;
  const dir =
    model !== undefined
      ? await resolveModel(model, options)
      : defaultModelDir(task, defaultLang(task, { ...options, srcLang, tgtLang }));
  const config = await readModelConfig(dir);
  const load = async <T extends ModelTask>(head: T) => {
    // Encoder heads run as a compiled graph that reads the weights from the checkpoint itself (base.ts runEncoder):
    // JS then never reads them. Generation's graphs do the same for a quantized checkpoint (compiled_decoding.ts):
    // its int8 / q4 codes would cost 4 bytes each in JS; a float one stays read, its prompt graph fed from JS.
    // The translation default runs its compiled graphs 1.9x faster than op by op (notes/issue-17-int8-memory.md,
    // "Compiled seq2seq speed"). Quantizing on load needs their values.
    const readWeights =
      !(ENCODER_HEADS.has(head) || readQuantizationConfig(config) !== null) ||
      options.compiled === false ||
      (options.compiledWeights ?? 'file') !== 'file' ||
      options.dtype === 'q8' ||
      options.dtype === 'q4' ||
      getBackend().name !== 'onnx';
    // fp16 rounds on load what the file does not store as F16 (those weights are then read, not left on disk);
    // fp32 widens F16 weights as it reads them.
    const dtype = options.dtype === 'fp16' ? 'float16' : options.dtype === 'fp32' ? 'float32' : undefined;
    const loadedForTask = await loadForTask(taskName, dir, head, config, options.onWarning, { readWeights, dtype });
    const { model: loaded, tokenizer } = loadedForTask;
    applyWeightDtype(loaded, options.dtype, dir);
    return [loaded, tokenizer, options] as const;
  };
  switch (task) {
    case 'text-classification': {
      const classifier = new TextClassificationPipeline(...(await load('sequenceClassification')));
      if (options.ngramHead !== false) classifier.ngramHead = await loadNgramHead(dir, config);
      return classifier;
    }
    case 'zero-shot-classification': {
      // A classifier is taken as an NLI model (its labels are checked at the first call); anything else as an encoder.
      const isClassifier = config.architectures?.some((a) => a.endsWith('ForSequenceClassification')) ?? false;
      const scorer = isClassifier
        ? new TextClassificationPipeline(...(await load('sequenceClassification')))
        : new FeatureExtractionPipeline(...(await load('base')));
      return new ZeroShotClassificationPipeline(scorer);
    }
    case 'summarization':
      return hasHead(config, 'seq2seqLM')
        ? new SummarizationPipeline(...(await load('seq2seqLM')))
        : new ExtractiveSummarizationPipeline(new FeatureExtractionPipeline(...(await load('base'))));
    case 'translation': {
      const translator = new TranslationPipeline(...(await load('seq2seqLM')));
      translator.pair = { srcLang, tgtLang };
      return translator;
    }
    case 'text-generation':
      return new TextGenerationPipeline(...(await load('causalLM')));
    case 'feature-extraction':
      return new FeatureExtractionPipeline(...(await load('base')));
    case 'fill-mask':
      return new FillMaskPipeline(...(await load('maskedLM')));
    case 'question-answering':
      return new QuestionAnsweringPipeline(...(await load('questionAnswering')));
    case 'token-classification':
      return new TokenClassificationPipeline(...(await load('tokenClassification')));
  }
}
