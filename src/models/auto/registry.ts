/**
 * Which classes serve each `model_type`, per task. Every architecture's modeling file registers itself here when it
 * is imported (src/models/auto/index.ts imports them all), so Auto classes and config parsing know it.
 */
import { knownModelTypes, registerConfig, type ConfigClass } from '../configuration_utils.js';
import type { PreTrainedModelClass } from '../modeling_utils.js';

export interface ModelRegistration {
  config: ConfigClass;
  /** The bare model (AutoModel). */
  base?: PreTrainedModelClass;
  causalLM?: PreTrainedModelClass;
  seq2seqLM?: PreTrainedModelClass;
  sequenceClassification?: PreTrainedModelClass;
  maskedLM?: PreTrainedModelClass;
  /** Extractive QA: start/end logits per token (…ForQuestionAnswering). */
  questionAnswering?: PreTrainedModelClass;
  /** NER-style labels per token (…ForTokenClassification). */
  tokenClassification?: PreTrainedModelClass;
}

export type ModelTask = Exclude<keyof ModelRegistration, 'config'>;

const MODELS = new Map<string, ModelRegistration>();

export function registerModel(modelType: string, registration: ModelRegistration): void {
  if (registration.config.modelType !== modelType) {
    throw new Error(`registerModel: ${registration.config.name} reads model_type '${registration.config.modelType}', not '${modelType}'`);
  }
  registerConfig(registration.config);
  MODELS.set(modelType, registration);
}

export function registrationFor(modelType: string): ModelRegistration | undefined {
  return MODELS.get(modelType);
}

/** The registered class named `name` (a config.json `architectures` entry), if any. */
export function classByName(name: string): PreTrainedModelClass | undefined {
  for (const registration of MODELS.values()) {
    for (const [task, cls] of Object.entries(registration)) {
      if (task !== 'config' && (cls as PreTrainedModelClass).name === name) return cls as PreTrainedModelClass;
    }
  }
  return undefined;
}

export { knownModelTypes };
