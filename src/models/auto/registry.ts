/**
 * Which classes serve each `model_type`, per task. Every architecture's modeling file registers itself here when it
 * is imported (src/models/auto/index.ts imports them all), so Auto classes and config parsing know it.
 */
import { knownModelTypes, registerConfig, type ConfigClass } from '../configuration_utils.js';
import type { ModelForTask, ModelTask } from '../modeling_outputs.js';
import type { PreTrainedModelClass } from '../modeling_utils.js';

/** The config class of a `model_type` and the class serving each task it has (typed: a head must fit its task). */
export type ModelRegistration = { config: ConfigClass } & { [T in ModelTask]?: PreTrainedModelClass<ModelForTask[T]> };

export type { ModelTask };

/** Every task a registration may serve, in a fixed order. */
export const MODEL_TASKS: readonly ModelTask[] = [
  'base',
  'causalLM',
  'seq2seqLM',
  'sequenceClassification',
  'maskedLM',
  'questionAnswering',
  'tokenClassification',
];

const MODELS = new Map<string, ModelRegistration>();

export function registerModel(modelType: string, registration: ModelRegistration): void {
  if (registration.config.modelType !== modelType) {
    throw new Error(
      `registerModel: ${registration.config.name} reads model_type '${registration.config.modelType}', not '${modelType}'`,
    );
  }
  registerConfig(registration.config);
  MODELS.set(modelType, registration);
}

export function registrationFor(modelType: string): ModelRegistration | undefined {
  return MODELS.get(modelType);
}

/** Whether `model` is an instance of its model type's causal-LM class (its labels score the next token). */
export function isCausalLMModel(model: { config?: { modelType?: string } }): boolean {
  const causal = model.config?.modelType ? registrationFor(model.config.modelType)?.causalLM : undefined;
  return causal !== undefined && model instanceof causal;
}

/** The registered class named `name` (a config.json `architectures` entry), if any. */
export function classByName(name: string): PreTrainedModelClass | undefined {
  for (const registration of MODELS.values()) {
    for (const task of MODEL_TASKS) {
      const cls = registration[task];
      if (cls?.name === name) return cls;
    }
  }
  return undefined;
}

export { knownModelTypes };
