/**
 * Auto classes: read config.json, pick the class registered for its `model_type` and the task, and load it.
 * Importing this module registers every architecture attn ships.
 */
import '../bert/modeling_bert.js';
import '../distilbert/modeling_distilbert.js';
import '../gpt2/modeling_gpt2.js';
import '../llama/modeling_llama.js';
import '../mistral/modeling_mistral.js';
import '../qwen2/modeling_qwen2.js';
import '../roberta/modeling_roberta.js';
import '../bart/modeling_bart.js';
import '../marian/modeling_marian.js';
import '../t5/modeling_t5.js';
import '../use/modeling_use.js';
import { join } from 'node:path';
import { resolveModelDir } from '../../hub/resolve.js';
import { ConfigError, PretrainedConfig, knownModelTypes } from '../configuration_utils.js';
import { loadFromDir, type FromPretrainedOptions, type PreTrainedModelClass } from '../modeling_utils.js';
import { classByName, MODEL_TASKS, registrationFor, type ModelTask } from './registry.js';
import type { ModelForTask } from '../modeling_outputs.js';

const TASK_NAMES: Record<ModelTask, string> = {
  base: 'a base model (AutoModel)',
  causalLM: 'a causal LM head (AutoModelForCausalLM)',
  seq2seqLM: 'a sequence-to-sequence LM (AutoModelForSeq2SeqLM)',
  sequenceClassification: 'a sequence classification head (AutoModelForSequenceClassification)',
  maskedLM: 'a masked LM head (AutoModelForMaskedLM)',
  questionAnswering: 'an extractive question-answering head (AutoModelForQuestionAnswering)',
  tokenClassification: 'a token classification head (AutoModelForTokenClassification)',
};

export class AutoConfig {
  /** The configuration of a local folder or hub repo, parsed by the class its `model_type` names. */
  static async fromPretrained(nameOrDir: string, options: FromPretrainedOptions = {}): Promise<PretrainedConfig> {
    const dir = await resolveModelDir(nameOrDir, options);
    return PretrainedConfig.fromFile(join(dir, 'config.json'));
  }
}

/** The class serving `task` for this configuration: the one `architectures` names if it fits, else the registered one. */
export function modelClassFor<T extends ModelTask>(
  config: PretrainedConfig,
  task: T,
): PreTrainedModelClass<ModelForTask[T]> {
  const registration = registrationFor(config.modelType);
  if (!registration)
    throw new ConfigError(
      `${config.source}: unknown model_type '${config.modelType}'; attn knows ${knownModelTypes().join(', ')}`,
    );
  // TypeScript cannot relate a mapped type's entry to its key's type parameter: the registry's type guarantees it.
  const registered = registration[task] as PreTrainedModelClass<ModelForTask[T]> | undefined;
  const named = config.architectures
    ?.map(classByName)
    .find((cls) => cls !== undefined && cls === registered) as typeof registered;
  const cls = named ?? registered;
  if (!cls) {
    const available = MODEL_TASKS.filter((k) => registration[k] !== undefined).map((k) => TASK_NAMES[k]);
    throw new ConfigError(
      `${config.source}: model_type '${config.modelType}' has no ${TASK_NAMES[task]}; it has ${available.join(', ')}`,
    );
  }
  return cls;
}

export type {
  BaseModel,
  CausalLMModel,
  MaskedLMModel,
  ModelForTask,
  ModelInputs,
  QuestionAnsweringInputs,
  QuestionAnsweringModel,
  Seq2SeqLMModel,
  SequenceClassificationModel,
  TokenClassificationModel,
} from '../modeling_outputs.js';

function autoModel<T extends ModelTask>(task: T) {
  return {
    /** Loads the checkpoint at `nameOrDir` into the class registered for its config's model_type and this task. */
    async fromPretrained(nameOrDir: string, options: FromPretrainedOptions = {}): Promise<ModelForTask[T]> {
      const dir = await resolveModelDir(nameOrDir, options);
      const config = options.config ?? (await PretrainedConfig.fromFile(join(dir, 'config.json')));
      return loadFromDir(modelClassFor(config, task), dir, { ...options, config }, nameOrDir);
    },
    /** A freshly initialised model for `config` (no weights loaded). */
    fromConfig(config: PretrainedConfig): ModelForTask[T] {
      const cls = modelClassFor(config, task);
      return new cls(config as never);
    },
  };
}

export const AutoModel = autoModel('base');
export const AutoModelForCausalLM = autoModel('causalLM');
export const AutoModelForSeq2SeqLM = autoModel('seq2seqLM');
export const AutoModelForSequenceClassification = autoModel('sequenceClassification');
export const AutoModelForMaskedLM = autoModel('maskedLM');
export const AutoModelForQuestionAnswering = autoModel('questionAnswering');
export const AutoModelForTokenClassification = autoModel('tokenClassification');
