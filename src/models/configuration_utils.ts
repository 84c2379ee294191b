/**
 * `config.json` as Hugging Face writes it. A configuration class reads its snake_case fields into camelCase
 * properties (`hidden_size` → `hiddenSize`) through the typed readers below, which check each value and name the
 * file and field when one is wrong. The JSON that was read is kept, so `toJSON()` writes it back with only the
 * changed (or newly set) properties replaced: a model saved by attn keeps every field attn does not know.
 */
import { readRegularTextFile } from '../io/files.js';
import { join } from 'node:path';
import { writeFileAtomic } from '../util/fs.js';

export type JsonObject = Record<string, unknown>;
export type TokenIds = number | number[] | null;

export class ConfigError extends Error {}

/** camelCase property → snake_case config field (`numHiddenLayers` → `num_hidden_layers`). */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** `pruned_heads`: whole-number layer keys, each a list of whole-number heads. */
function isHeadLists(v: unknown): boolean {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  return Object.entries(v).every(
    ([k, heads]) => /^\d+$/.test(k) && Array.isArray(heads) && heads.every((h) => Number.isInteger(h) && h >= 0),
  );
}

function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export type ConfigClass<C extends PretrainedConfig = PretrainedConfig> = {
  new (raw?: JsonObject, source?: string): C;
  readonly modelType: string;
};

/** Configuration classes by `model_type`, filled by each architecture's module (see models/auto). */
const CONFIG_REGISTRY = new Map<string, ConfigClass>();

export function registerConfig(cls: ConfigClass): void {
  CONFIG_REGISTRY.set(cls.modelType, cls);
}

export function knownModelTypes(): string[] {
  return [...CONFIG_REGISTRY.keys()].sort();
}

export class PretrainedConfig {
  /** The `model_type` this class reads; '' for the generic base. */
  static readonly modelType: string = '';

  // ES private fields: not own enumerable properties, so `toJSON()` never writes them out.
  readonly #raw: JsonObject;
  readonly #source: string;
  /** Values the readers filled in because the field was absent: written back only when changed. */
  readonly #defaults = new Map<string, unknown>();

  modelType: string;
  architectures: string[] | null;
  /** Label names by class index (JSON object keys are strings; they are numbers here). */
  id2label: Record<number, string>;
  label2id: Record<string, number>;
  /** 'regression' | 'single_label_classification' | 'multi_label_classification' | null (inferred from labels). */
  problemType: string | null;
  padTokenId: number | null;
  bosTokenId: number | null;
  eosTokenId: TokenIds;
  decoderStartTokenId: number | null;
  tieWordEmbeddings: boolean;
  isEncoderDecoder: boolean;
  useCache: boolean;
  /** Attention heads removed, by layer (transformers' pruned_heads; see models/pruning.ts). */
  prunedHeads: Record<number, number[]>;

  /** `source` names the file the values came from, in every error. */
  constructor(raw: JsonObject = {}, source = 'config') {
    this.#raw = { ...raw };
    this.#source = source;
    const declared = (this.constructor as ConfigClass).modelType;
    this.modelType = this.str('model_type', declared);
    if (declared && this.modelType !== declared) {
      throw new ConfigError(
        `${source}: model_type is '${this.modelType}', but ${this.constructor.name} reads '${declared}'`,
      );
    }
    this.architectures = this.read(
      'architectures',
      null,
      (v) => Array.isArray(v) && v.every((a) => typeof a === 'string'),
      'a list of class names',
    ) as string[] | null;
    const id2label = this.read(
      'id2label',
      null,
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
      'an object { "0": "NEGATIVE", … }',
    ) as JsonObject | null;
    this.id2label = id2label ? this.parseId2Label(id2label) : defaultLabels(this.num('num_labels', 2));
    // transformers saves labels only as id2label/label2id, and only when they differ from the two default labels.
    delete this.#raw['num_labels'];
    if (!id2label) this.#defaults.set('id2label', defaultLabels(2));
    const label2id = this.read(
      'label2id',
      null,
      (v) => v !== null && typeof v === 'object' && !Array.isArray(v),
      'an object { "NEGATIVE": 0, … }',
    ) as Record<string, number> | null;
    this.label2id = label2id ?? invert(this.id2label);
    if (!label2id) this.#defaults.set('label2id', invert(defaultLabels(2)));
    this.problemType = this.optStr('problem_type');
    this.padTokenId = this.optNum('pad_token_id');
    this.bosTokenId = this.optNum('bos_token_id');
    this.eosTokenId = this.tokenIds('eos_token_id');
    this.decoderStartTokenId = this.optNum('decoder_start_token_id');
    this.tieWordEmbeddings = this.bool('tie_word_embeddings', true);
    this.isEncoderDecoder = this.bool('is_encoder_decoder', false);
    this.useCache = this.bool('use_cache', true);
    const pruned = this.read('pruned_heads', {}, isHeadLists, 'an object { "<layer>": [<head>, …] }') as Record<
      string,
      number[]
    >;
    this.prunedHeads = Object.fromEntries(Object.entries(pruned).map(([layer, heads]) => [Number(layer), [...heads]]));
  }

  /** The file (or description) this configuration was read from. */
  get source(): string {
    return this.#source;
  }

  get numLabels(): number {
    return Object.keys(this.id2label).length;
  }

  /** Resizes the label set to LABEL_0…LABEL_{n-1}, as transformers does for `num_labels=n`. */
  set numLabels(n: number) {
    if (!Number.isInteger(n) || n < 1)
      throw new ConfigError(`${this.#source}: num_labels must be a whole number >= 1, got ${n}`);
    if (n === this.numLabels) return;
    this.id2label = defaultLabels(n);
    this.label2id = invert(this.id2label);
  }

  /**
   * The longest sequence (prompt, cached and new tokens) the model takes: the size of its position table, or null
   * when nothing bounds it (T5's relative positions; Llama overrides it for dynamic NTK rope scaling). Generation,
   * the pipelines and the chat server read the window here and nowhere else.
   */
  get contextWindow(): number | null {
    const positions: unknown = (this as { maxPositionEmbeddings?: unknown }).maxPositionEmbeddings;
    return typeof positions === 'number' && positions > 0 ? positions : null;
  }

  /** A field of the JSON that no property reads (e.g. `torch_dtype`). */
  rawField(key: string): unknown {
    return this.#raw[key];
  }

  // ---- typed readers: each records the default it used, and names file and field on a bad value ----

  protected read(
    key: string,
    fallback: unknown,
    ok: (v: unknown) => boolean,
    expected: string,
    nullable = fallback === null,
  ): unknown {
    if (!(key in this.#raw) || this.#raw[key] === undefined) {
      this.#defaults.set(key, fallback);
      return fallback;
    }
    const value = this.#raw[key];
    if (value === null && nullable) return null;
    if (!ok(value))
      throw new ConfigError(`${this.#source}: field '${key}' is ${JSON.stringify(value)}; expected ${expected}`);
    return value;
  }

  protected num(key: string, fallback: number): number {
    return this.read(key, fallback, (v) => typeof v === 'number' && Number.isFinite(v), 'a number') as number;
  }

  /** A whole number >= 1 (sizes, counts). */
  protected size(key: string, fallback: number): number {
    return this.read(key, fallback, (v) => Number.isInteger(v) && (v as number) >= 1, 'a whole number >= 1') as number;
  }

  protected optNum(key: string, fallback: number | null = null): number | null {
    return this.read(key, fallback, (v) => typeof v === 'number' && Number.isFinite(v), 'a number or null', true) as
      number | null;
  }

  protected str(key: string, fallback: string): string {
    return this.read(key, fallback, (v) => typeof v === 'string', 'a string') as string;
  }

  protected optStr(key: string): string | null {
    return this.read(key, null, (v) => typeof v === 'string', 'a string or null') as string | null;
  }

  protected bool(key: string, fallback: boolean): boolean {
    return this.read(key, fallback, (v) => typeof v === 'boolean', 'true or false') as boolean;
  }

  protected tokenIds(key: string, fallback: TokenIds = null): TokenIds {
    const isId = (v: unknown): boolean => Number.isInteger(v);
    return this.read(
      key,
      fallback,
      (v) => isId(v) || (Array.isArray(v) && v.every(isId)),
      'a token id, a list of ids, or null',
      true,
    ) as TokenIds;
  }

  /** Any JSON value, unchecked (nested structures like `rope_scaling`). */
  protected any<T>(key: string, fallback: T): T {
    return this.read(key, fallback, () => true, 'a JSON value') as T;
  }

  private parseId2Label(raw: JsonObject): Record<number, string> {
    const out: Record<number, string> = {};
    for (const [k, v] of Object.entries(raw)) {
      if (!/^\d+$/.test(k) || typeof v !== 'string') {
        throw new ConfigError(
          `${this.#source}: id2label entry ${JSON.stringify(k)}: ${JSON.stringify(v)} must map a class index to a label name`,
        );
      }
      out[Number(k)] = v;
    }
    return out;
  }

  /**
   * The JSON to save: what was read, with every property written under its snake_case name when it was in the file
   * or differs from the default the reader filled in. Keys sorted, as transformers writes them.
   */
  toJSON(): JsonObject {
    const out: JsonObject = { ...this.#raw };
    for (const [name, value] of Object.entries(this)) {
      if (typeof value === 'function') continue;
      const key = snakeCase(name);
      if (key in this.#raw && this.#raw[key] !== undefined) out[key] = value;
      else if (!(this.#defaults.has(key) && sameValue(this.#defaults.get(key), value))) out[key] = value;
    }
    // Always written, even when it was only the class's default: Auto classes dispatch on it when loading.
    if (this.modelType) out['model_type'] = this.modelType;
    return Object.fromEntries(
      Object.entries(out)
        .filter(([, v]) => v !== undefined)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
    );
  }

  toJSONString(): string {
    return JSON.stringify(this.toJSON(), null, 2) + '\n';
  }

  /** Writes `config.json` into `dir` atomically. */
  async saveTo(dir: string): Promise<void> {
    await writeFileAtomic(join(dir, 'config.json'), this.toJSONString());
  }

  /** A copy with `overrides` (camelCase properties) applied. */
  withOverrides(overrides: Partial<Record<string, unknown>>): this {
    const copy = new (this.constructor as ConfigClass<this>)(this.toJSON(), this.#source);
    for (const [k, v] of Object.entries(overrides)) {
      if (v === undefined) continue;
      Object.assign(copy, { [k]: v });
    }
    return copy;
  }

  /**
   * Reads `dir/config.json` with the class registered for its `model_type` (or this class when it is a concrete one):
   * an unknown `model_type` is an error naming the file and the known types.
   */
  static async fromFile(path: string): Promise<PretrainedConfig> {
    return configFromJSON(await readJsonObject(path, 'model configuration'), path);
  }
}

/** A JSON object file (config.json, generation_config.json): a regular file of sane size, else an error naming it. */
export async function readJsonObject(path: string, what: string): Promise<JsonObject> {
  let value: unknown;
  try {
    value = JSON.parse(await readRegularTextFile(path, what));
  } catch (err) {
    throw new ConfigError(`${path}: cannot read the ${what} (${(err as Error).message})`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new ConfigError(`${path}: expected a JSON object`);
  return value as JsonObject;
}

/** The registered configuration class for `raw.model_type`. */
export function configFromJSON(raw: JsonObject, source = 'config'): PretrainedConfig {
  const modelType = raw['model_type'];
  if (typeof modelType !== 'string') {
    throw new ConfigError(
      `${source}: field 'model_type' is ${JSON.stringify(modelType)}; expected one of ${knownModelTypes().join(', ')}`,
    );
  }
  const cls = CONFIG_REGISTRY.get(modelType);
  if (!cls)
    throw new ConfigError(`${source}: unknown model_type '${modelType}'; attn knows ${knownModelTypes().join(', ')}`);
  return new cls(raw, source);
}

function defaultLabels(n: number): Record<number, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [i, `LABEL_${i}`]));
}

function invert(id2label: Record<number, string>): Record<string, number> {
  return Object.fromEntries(Object.entries(id2label).map(([k, v]) => [v, Number(k)]));
}
