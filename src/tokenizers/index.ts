export { AutoTokenizer, type FromPretrainedOptions } from './auto.js';
export {
  PreTrainedTokenizer,
  type AddedTokenSpec,
  type ChatTemplateMessage,
  type ChatTemplateOptions,
  type DecodeOptions,
  type EncodeOptions,
  type Encoding,
  type Padding,
  type Truncation,
} from './tokenizer.js';
export { TokenizerFileError } from './errors.js';
export type { TokenizerJson, AddedTokenJson } from './tokenizer-json.js';
export { SPECIAL_TOKEN_KEYS, type SpecialTokenKey } from './special-tokens.js';
export { trainTokenizer, type TrainTokenizerOptions, type NormalizerName } from './train/train.js';
