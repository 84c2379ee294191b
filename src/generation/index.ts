export { GenerationConfig, tokenIdList, type GenerationParams, type EarlyStopping } from './configuration_utils.js';
export * as logitsProcess from './logits_process.js';
export type { LogitsProcessor, StepContext } from './logits_process.js';
export { BeamSearchScorer } from './beam_search.js';
export {
  TextStreamer,
  TextIteratorStreamer,
  type Streamer,
  type Decode,
  type StreamDecoder,
  type TextStreamerOptions,
} from './streamers.js';
export { generate, generateAsync, type GenerateOptions, type GenerateOutput, type GenerativeModel } from './utils.js';
