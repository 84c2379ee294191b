export {
  TrainingArguments,
  type TrainingArgumentsInit,
  type IntervalStrategy,
  type LrSchedulerType,
  type StepMode,
} from './training_args.js';
export { compileOptimizerStep } from './compiled_step.js';
export {
  EarlyStoppingCallback,
  type EarlyStoppingOptions,
  type TrainerCallback,
  type TrainerControl,
  type TrainerState,
  type LogEntry,
  type CallbackContext,
} from './callbacks.js';
export {
  averageCheckpoints,
  CheckpointError,
  listCheckpoints,
  loadModelWeights,
  type StatefulCollator,
} from './checkpoint.js';
export {
  Trainer,
  TrainingError,
  batchToInputs,
  lengthGroupedOrder,
  type TrainableModel,
  type TrainingInputs,
  type EvalPrediction,
  type ComputeMetrics,
  type TrainerOptions,
  type TrainOptions,
  type TrainOutput,
} from './trainer.js';
export { Seq2SeqTrainer, Seq2SeqTrainingArguments, type Seq2SeqTrainingArgumentsInit } from './seq2seq_trainer.js';
export { classificationMetrics } from './metrics.js';
export {
  DistillationTrainer,
  distillationLoss,
  teacherLogits,
  TEACHER_LOGITS,
  type DistillationOptions,
  type DistillationLossOptions,
  type DistillationTrainerOptions,
} from './distillation.js';
