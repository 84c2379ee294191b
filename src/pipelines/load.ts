/**
 * Finding and loading a pipeline's model: a name is tried as a folder, then as a model installed in the
 * project's models/ folder, then as a hub repo (cache first when offline); the model is loaded with the head the
 * task needs, and a folder of the wrong kind is refused with a message that says what it is and what is needed.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hubCacheDir } from '../hub/env.js';
import { isValidRepoId } from '../hub/errors.js';
import { resolveModelDir } from '../hub/resolve.js';
import type { HubDownloadOptions } from '../hub/download.js';
import { modelClassFor } from '../models/auto/modeling_auto.js';
import { registrationFor, type ModelTask } from '../models/auto/registry.js';
import type { ModelForTask } from '../models/modeling_outputs.js';
import { PretrainedConfig } from '../models/configuration_utils.js';
import { loadFromDir, type FromPretrainedOptions, type PreTrainedModel } from '../models/modeling_utils.js';
import { AutoTokenizer } from '../tokenizers/auto.js';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.js';
import { projectRoot } from '../util/paths.js';

/** A model that cannot serve: not found, or not the kind the task needs. */
export class ModelLoadError extends Error {}

/** The folder of models installed with attn (the default models live here). */
export const installedModelsDir: string = join(projectRoot, 'models');

const HEAD_NAMES: Record<ModelTask, string> = {
  base: 'an encoder (any model with a base model)',
  causalLM: 'a causal language model (GPT-2, Llama: …ForCausalLM / …LMHeadModel)',
  seq2seqLM: 'an encoder–decoder model (BART, T5, Marian: …ForConditionalGeneration / MarianMTModel)',
  sequenceClassification: 'a fine-tuned sequence classifier (…ForSequenceClassification)',
  maskedLM: 'a masked language model (…ForMaskedLM)',
  questionAnswering: 'an extractive question-answering model (…ForQuestionAnswering)',
  tokenClassification: 'a token classifier (…ForTokenClassification, e.g. NER)',
};

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The folder a model name stands for: a folder path as given, a model installed in models/, or a hub repo id
 * (downloaded, or found in the cache). Anything else is an error naming every place that was looked at.
 */
export async function resolveModel(nameOrPath: string, hub: HubDownloadOptions = {}): Promise<string> {
  if (isDirectory(nameOrPath)) return resolve(nameOrPath);
  const installed = join(installedModelsDir, nameOrPath);
  if (isDirectory(installed)) return installed;
  if (isValidRepoId(nameOrPath)) {
    try {
      return await resolveModelDir(nameOrPath, hub);
    } catch (err) {
      throw new ModelLoadError(
        `model '${nameOrPath}': not a folder, not installed in ${installedModelsDir}, and the hub gave no copy: ${(err as Error).message}`,
      );
    }
  }
  throw new ModelLoadError(
    `model '${nameOrPath}' not found: it is not a folder (${resolve(nameOrPath)}), not installed in ${installedModelsDir}, ` +
      `and not a hub repo id like 'org/name' (hub cache: ${hubCacheDir()}). Run 'attn models' to list the models you have, or pass a model folder.`,
  );
}

/** config.json of a model folder, with the folder named in the error when it is missing or unreadable. */
export async function readModelConfig(dir: string): Promise<PretrainedConfig> {
  const path = join(dir, 'config.json');
  if (!existsSync(path)) throw new ModelLoadError(`${dir} is not a model folder: it has no config.json`);
  return PretrainedConfig.fromFile(path);
}

/** Whether the folder's model_type registers a class for `head` (e.g. seq2seqLM for BART, not for BERT). */
export function hasHead(config: PretrainedConfig, head: ModelTask): boolean {
  return registrationFor(config.modelType)?.[head] !== undefined;
}

/** What the folder holds, for messages: "a bert model saved as BertForMaskedLM". */
function kindOf(config: PretrainedConfig): string {
  const saved = config.architectures?.length ? ` saved as ${config.architectures.join(', ')}` : '';
  return `a ${config.modelType} model${saved}`;
}

export interface LoadedModel<M extends PreTrainedModel = PreTrainedModel> {
  dir: string;
  config: PretrainedConfig;
  model: M;
  tokenizer: PreTrainedTokenizer;
}

/**
 * Loads the model with `head` and its tokenizer. A head the checkpoint does not hold (a base encoder handed
 * to text-classification, whose classifier would be random) is refused rather than answered with noise.
 */
export async function loadForTask<T extends ModelTask>(
  task: string,
  dir: string,
  head: T,
  config?: PretrainedConfig,
  warn: (message: string) => void = (message) => console.warn(message),
  weights: Pick<FromPretrainedOptions, 'readWeights' | 'dtype'> = {},
): Promise<LoadedModel<ModelForTask[T]>> {
  const cfg = config ?? (await readModelConfig(dir));
  const wrongKind = (why: string) =>
    new ModelLoadError(`${task} needs ${HEAD_NAMES[head]}, but ${dir} holds ${kindOf(cfg)}${why}`);
  if (!hasHead(cfg, head)) throw wrongKind('');
  // Weights left random make it the wrong kind of model (below); unused checkpoint tensors are worth a warning.
  const model = await loadFromDir(modelClassFor(cfg, head), dir, {
    config: cfg,
    onWarning: () => undefined,
    ...weights,
  });
  if (head !== 'base' && (model.loadingInfo?.newlyInitialized.length ?? 0) > 0) {
    throw wrongKind(
      `: its checkpoint lacks ${model.loadingInfo!.newlyInitialized.join(', ')}, which would be left random`,
    );
  }
  const unused = model.loadingInfo?.unexpectedKeys ?? [];
  if (unused.length > 0)
    warn(`${dir}: the checkpoint holds tensor(s) ${model.constructor.name} does not use: ${unused.join(', ')}`);
  let tokenizer: PreTrainedTokenizer;
  try {
    tokenizer = await AutoTokenizer.fromPretrained(dir);
  } catch (err) {
    throw new ModelLoadError(`${dir} has no usable tokenizer (${(err as Error).message})`);
  }
  return { dir, config: cfg, model, tokenizer };
}
