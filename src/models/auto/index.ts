export {
  AutoConfig,
  AutoModel,
  AutoModelForCausalLM,
  AutoModelForMaskedLM,
  AutoModelForQuestionAnswering,
  AutoModelForTokenClassification,
  AutoModelForSeq2SeqLM,
  AutoModelForSequenceClassification,
  modelClassFor,
} from './modeling_auto.js';
export { isCausalLMModel, registerModel, registrationFor, type ModelRegistration, type ModelTask } from './registry.js';
