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
import { loadPretrained, type FromPretrainedOptions, type PreTrainedModel, type PreTrainedModelClass } from '../modeling_utils.js';
import { classByName, registrationFor, type ModelTask } from './registry.js';
import type { Tensor } from '../../tensor/tensor.js';
import type {
  BaseModelOutput,
  CausalLM,
  QuestionAnsweringModelOutput,
  Seq2SeqLM,
  SequenceClassifierOutput,
  TokenClassifierOutput,
} from '../modeling_outputs.js';

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
export function modelClassFor(config: PretrainedConfig, task: ModelTask): PreTrainedModelClass {
  const registration = registrationFor(config.modelType);
  if (!registration) throw new ConfigError(`${config.source}: unknown model_type '${config.modelType}'; attn knows ${knownModelTypes().join(', ')}`);
  const registered = registration[task];
  const named = config.architectures?.map(classByName).find((cls) => cls !== undefined && cls === registered);
  const cls = named ?? registered;
  if (!cls) {
    const available = (Object.keys(registration) as Array<ModelTask | 'config'>).filter((k) => k !== 'config').map((k) => TASK_NAMES[k as ModelTask]);
    throw new ConfigError(`${config.source}: model_type '${config.modelType}' has no ${TASK_NAMES[task]}; it has ${available.join(', ')}`);
  }
  return cls;
}

/** Inputs every encoder head takes (BERT-style models also read tokenTypeIds). */
export interface EncoderInputs {
  inputIds: Tensor; // (B, T) int32
  attentionMask?: Tensor | null;
  tokenTypeIds?: Tensor | null;
  labels?: Tensor | null;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

/** What each Auto class returns: a PreTrainedModel with its task's forward pass. */
export type BaseModel = PreTrainedModel & { forward(inputs: EncoderInputs): BaseModelOutput };
export type SequenceClassificationModel = PreTrainedModel & { forward(inputs: EncoderInputs): SequenceClassifierOutput };
export type MaskedLMModel = PreTrainedModel & { forward(inputs: EncoderInputs): { logits: Tensor; loss?: Tensor } };
/** Inputs of a QA head: `startPositions` / `endPositions` (B) int32 give the training loss. */
export type QuestionAnsweringInputs = Omit<EncoderInputs, 'labels'> & { startPositions?: Tensor | null; endPositions?: Tensor | null };
export type QuestionAnsweringModel = PreTrainedModel & { forward(inputs: QuestionAnsweringInputs): QuestionAnsweringModelOutput };
export type TokenClassificationModel = PreTrainedModel & { forward(inputs: EncoderInputs): TokenClassifierOutput };
export type CausalLMModel = PreTrainedModel & CausalLM;
export type Seq2SeqLMModel = PreTrainedModel & Seq2SeqLM;

function autoModel<M extends PreTrainedModel>(task: ModelTask) {
  return {
    /** Loads the checkpoint at `nameOrDir` into the class registered for its config's model_type and this task. */
    async fromPretrained(nameOrDir: string, options: FromPretrainedOptions = {}): Promise<M> {
      const dir = await resolveModelDir(nameOrDir, options);
      const config = options.config ?? (await PretrainedConfig.fromFile(join(dir, 'config.json')));
      return (await loadPretrained(modelClassFor(config, task), dir, { ...options, config })) as M;
    },
    /** A freshly initialised model for `config` (no weights loaded). */
    fromConfig(config: PretrainedConfig): M {
      const cls = modelClassFor(config, task);
      return new cls(config as never) as M;
    },
  };
}

export const AutoModel = autoModel<BaseModel>('base');
export const AutoModelForCausalLM = autoModel<CausalLMModel>('causalLM');
export const AutoModelForSeq2SeqLM = autoModel<Seq2SeqLMModel>('seq2seqLM');
export const AutoModelForSequenceClassification = autoModel<SequenceClassificationModel>('sequenceClassification');
export const AutoModelForMaskedLM = autoModel<MaskedLMModel>('maskedLM');
export const AutoModelForQuestionAnswering = autoModel<QuestionAnsweringModel>('questionAnswering');
export const AutoModelForTokenClassification = autoModel<TokenClassificationModel>('tokenClassification');
