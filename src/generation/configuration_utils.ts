import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Decoding settings, as Hugging Face's GenerationConfig: defaults, then `generation_config.json` (or the generation
 * fields of `config.json` when a checkpoint has none), then the options of one `generate` call.
 */

export type EarlyStopping = boolean | 'never';

export interface GenerationParams {
  maxLength: number;
  /** Overrides maxLength: the prompt's length plus this many tokens. */
  maxNewTokens: number | null;
  minLength: number;
  minNewTokens: number | null;
  doSample: boolean;
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  /** n-grams of this size may occur only once in a row (0: off). */
  noRepeatNgramSize: number;
  /** Token sequences that may not be generated (single ids are banned outright). */
  badWordsIds: number[][] | null;
  numBeams: number;
  numReturnSequences: number;
  lengthPenalty: number;
  earlyStopping: EarlyStopping;
  useCache: boolean;
  bosTokenId: number | null;
  eosTokenId: number | number[] | null;
  padTokenId: number | null;
  decoderStartTokenId: number | null;
  forcedBosTokenId: number | null;
  forcedEosTokenId: number | number[] | null;
}

const DEFAULTS: GenerationParams = {
  maxLength: 20,
  maxNewTokens: null,
  minLength: 0,
  minNewTokens: null,
  doSample: false,
  temperature: 1,
  topK: 50,
  topP: 1,
  repetitionPenalty: 1,
  noRepeatNgramSize: 0,
  badWordsIds: null,
  numBeams: 1,
  numReturnSequences: 1,
  lengthPenalty: 1,
  earlyStopping: false,
  useCache: true,
  bosTokenId: null,
  eosTokenId: null,
  padTokenId: null,
  decoderStartTokenId: null,
  forcedBosTokenId: null,
  forcedEosTokenId: null,
};

export const GENERATION_PARAM_NAMES = Object.keys(DEFAULTS) as Array<keyof GenerationParams>;

/** Fields of `config.json` a checkpoint without `generation_config.json` contributes (HF's `from_model_config`). */
const MODEL_CONFIG_FIELDS: Array<keyof GenerationParams> = [
  'bosTokenId',
  'eosTokenId',
  'padTokenId',
  'decoderStartTokenId',
  'forcedBosTokenId',
  'forcedEosTokenId',
];

/** Files carry keys this library does not act on (e.g. `transformers_version`); they are ignored, not errors. */
function fromJsonRecord(
  record: Record<string, unknown>,
  only?: Array<keyof GenerationParams>,
): Partial<GenerationParams> {
  const out: Partial<GenerationParams> = {};
  for (const name of only ?? GENERATION_PARAM_NAMES) {
    const value = record[toSnakeCase(name)] ?? record[name];
    if (value !== undefined && value !== null) (out as Record<string, unknown>)[name] = value;
  }
  return out;
}

function toSnakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

export class GenerationConfig implements GenerationParams {
  maxLength = DEFAULTS.maxLength;
  maxNewTokens = DEFAULTS.maxNewTokens;
  minLength = DEFAULTS.minLength;
  minNewTokens = DEFAULTS.minNewTokens;
  doSample = DEFAULTS.doSample;
  temperature = DEFAULTS.temperature;
  topK = DEFAULTS.topK;
  topP = DEFAULTS.topP;
  repetitionPenalty = DEFAULTS.repetitionPenalty;
  noRepeatNgramSize = DEFAULTS.noRepeatNgramSize;
  badWordsIds = DEFAULTS.badWordsIds;
  numBeams = DEFAULTS.numBeams;
  numReturnSequences = DEFAULTS.numReturnSequences;
  lengthPenalty = DEFAULTS.lengthPenalty;
  earlyStopping = DEFAULTS.earlyStopping;
  useCache = DEFAULTS.useCache;
  bosTokenId = DEFAULTS.bosTokenId;
  eosTokenId = DEFAULTS.eosTokenId;
  padTokenId = DEFAULTS.padTokenId;
  decoderStartTokenId = DEFAULTS.decoderStartTokenId;
  forcedBosTokenId = DEFAULTS.forcedBosTokenId;
  forcedEosTokenId = DEFAULTS.forcedEosTokenId;

  /** Keys of the file this library does not act on (`transformers_version`, …), written back by `toJSON`. */
  private readonly otherFields: Record<string, unknown>;

  constructor(params: Partial<GenerationParams> = {}, otherFields: Record<string, unknown> = {}) {
    Object.assign(this, params);
    this.otherFields = otherFields;
  }

  /** From a parsed `generation_config.json` (snake_case keys, as HF writes them): parsed once, when a model loads. */
  static fromJSON(record: Record<string, unknown>): GenerationConfig {
    const known = new Set(GENERATION_PARAM_NAMES.flatMap((name) => [name, toSnakeCase(name)]));
    const others = Object.fromEntries(Object.entries(record).filter(([key]) => !known.has(key)));
    return new GenerationConfig(fromJsonRecord(record), others);
  }

  /** Token ids of a model's `config.json` (snake_case or camelCase keys), for checkpoints without a generation config. */
  static fromModelConfig(config: object): GenerationConfig {
    return new GenerationConfig(fromJsonRecord(config as Record<string, unknown>, MODEL_CONFIG_FIELDS));
  }

  /** `dir/generation_config.json`, else the generation fields of `dir/config.json`, else the defaults. */
  static fromPretrained(dir: string): GenerationConfig {
    for (const [file, read] of [
      ['generation_config.json', GenerationConfig.fromJSON],
      ['config.json', GenerationConfig.fromModelConfig],
    ] as const) {
      const path = join(dir, file);
      if (!existsSync(path)) continue;
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
      } catch (err) {
        throw new SyntaxError(`GenerationConfig: ${path} is not valid JSON (${(err as Error).message})`);
      }
      return read(record);
    }
    return new GenerationConfig();
  }

  /** A copy with `overrides` applied (undefined values leave a field alone). */
  with(overrides: Partial<GenerationParams>): GenerationConfig {
    const merged = new GenerationConfig(this, this.otherFields);
    return Object.assign(merged, Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)));
  }

  /** snake_case record for `generation_config.json`. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { ...this.otherFields };
    for (const name of GENERATION_PARAM_NAMES) {
      if (this[name] !== DEFAULTS[name]) out[toSnakeCase(name)] = this[name];
    }
    return out;
  }

  /** Throws on values no decoding method accepts, naming the field and the value. */
  validate(): void {
    const fail = (field: string, value: unknown, expected: string): never => {
      throw new RangeError(`generate: ${field} = ${JSON.stringify(value)} is invalid: expected ${expected}`);
    };
    const wholeAtLeast = (field: keyof GenerationParams, min: number): void => {
      const v = this[field];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < min) fail(field, v, `a whole number >= ${min}`);
    };
    wholeAtLeast('maxLength', 1);
    if (this.maxNewTokens !== null) wholeAtLeast('maxNewTokens', 0);
    wholeAtLeast('minLength', 0);
    if (this.minNewTokens !== null) wholeAtLeast('minNewTokens', 0);
    wholeAtLeast('numBeams', 1);
    wholeAtLeast('numReturnSequences', 1);
    wholeAtLeast('topK', 0);
    wholeAtLeast('noRepeatNgramSize', 0);
    const bad = this.badWordsIds;
    if (
      bad !== null &&
      !(
        Array.isArray(bad) &&
        bad.every((seq) => Array.isArray(seq) && seq.length > 0 && seq.every((id) => Number.isInteger(id) && id >= 0))
      )
    ) {
      fail('badWordsIds', bad, 'a list of non-empty token id lists, e.g. [[5], [7, 8]]');
    }
    if (!(this.temperature > 0) || !Number.isFinite(this.temperature))
      fail('temperature', this.temperature, 'a finite number > 0');
    if (!(this.topP > 0 && this.topP <= 1)) fail('topP', this.topP, 'a number in (0, 1]');
    if (!(this.repetitionPenalty > 0) || !Number.isFinite(this.repetitionPenalty)) {
      fail('repetitionPenalty', this.repetitionPenalty, 'a finite number > 0');
    }
    if (!Number.isFinite(this.lengthPenalty)) fail('lengthPenalty', this.lengthPenalty, 'a finite number');
    if (![true, false, 'never'].includes(this.earlyStopping))
      fail('earlyStopping', this.earlyStopping, "true, false or 'never'");
    if (this.doSample && this.numBeams > 1)
      fail('numBeams', this.numBeams, '1 when doSample is true (beam sampling is not supported)');
    if (this.numReturnSequences > this.numBeams && !this.doSample) {
      fail('numReturnSequences', this.numReturnSequences, `at most numBeams (${this.numBeams}) without sampling`);
    }
  }
}

/** eos ids as a list (configs store one id or several). */
export function tokenIdList(ids: number | number[] | null | undefined): number[] {
  if (ids === null || ids === undefined) return [];
  return Array.isArray(ids) ? ids : [ids];
}
