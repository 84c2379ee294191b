// PreTrainedTokenizer: the batching layer over @huggingface/tokenizers. The library turns one text into ids and
// back; this class adds what a model needs around it: special tokens, truncation, padding, tensors, chat templates
// and saving in Hugging Face's folder layout.
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { pushSaved, type PushResult, type PushToHubOptions } from '../hub/push.js';
import { Tensor } from '../tensor/index.js';
import { Callable } from '../util/callable.js';
import { writeFileAtomic } from '../util/fs.js';
import { camelCaseOptions } from '../util/options.js';
import { PostProcessor } from './post-process.js';
import { SPECIAL_TOKEN_KEYS, specialTokenContent, type SpecialTokenKey } from './special-tokens.js';
import { addedToken, type JsonObject, type TokenizerJson } from './tokenizer-json.js';

export type Padding = boolean | 'longest' | 'max_length' | 'do_not_pad';
export type Truncation = boolean | 'longest_first' | 'only_first' | 'only_second' | 'do_not_truncate';
export type Side = 'left' | 'right';

export interface EncodeOptions {
  /** Second sequences for pair tasks (NLI, QA): one per text. */
  textPair?: string | string[];
  /** Add the model's special tokens ([CLS] … [SEP], <s>, …). Default true. */
  addSpecialTokens?: boolean;
  /** `true` / 'longest': pad to the longest row; 'max_length': pad to `maxLength`. Default false. */
  padding?: Padding;
  /** Cut rows longer than `maxLength` (default: the config's model_max_length). Default false. */
  truncation?: Truncation;
  maxLength?: number;
  padToMultipleOf?: number;
  /** Return int32 attn tensors of shape (B, T) instead of number[][]; rows must then be of equal length. */
  returnTensors?: boolean;
  paddingSide?: Side;
  /** Which end a truncated sequence loses: 'right' keeps its beginning (default: the tokenizer's truncationSide). */
  truncationSide?: Side;
}

export interface Encoding<T> {
  inputIds: T;
  attentionMask: T;
  tokenTypeIds: T;
}

/**
 * What calling a tokenizer returns: Hugging Face's names, which dataset columns, the collators and the Trainer use
 * (`dataset.map((batch) => tokenizer(batch.text, { truncation: true }), { batched: true })`). Rows of ids for a list
 * of texts, one row for a single text, or (B, T) int32 tensors with `returnTensors`.
 */
// A type, not an interface: it must fit `Record<string, unknown>`, as a Dataset.map result does.
export type BatchEncoding<T> = {
  input_ids: T;
  attention_mask: T;
  token_type_ids: T;
};

type TokenizerInput = string | string[];

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
  /** Remove the space before punctuation and contractions (" ." → "."); default from tokenizer_config.json. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ChatTemplateMessage {
  role: string;
  content: string;
  [key: string]: unknown;
}

export interface ChatTemplateOptions {
  /** End with the prompt for the assistant's reply (`add_generation_prompt` in the template). */
  addGenerationPrompt?: boolean;
  /** Return token ids instead of the rendered string. */
  tokenize?: boolean;
  /** A template to use instead of the config's `chat_template`, or the name of one of several in it. */
  chatTemplate?: string;
  /** More variables for the template (tools, documents, ...). */
  variables?: Record<string, unknown>;
}

export interface AddedTokenSpec {
  content: string;
  special?: boolean;
  lstrip?: boolean;
  rstrip?: boolean;
  singleWord?: boolean;
  normalized?: boolean;
}

/**
 * Turns tokens (special ones included unless skipped) into text, for formats whose original decoding
 * @huggingface/tokenizers does not reproduce; see slowSentencePieceDecoder.
 */
export type TokenDecoder = (tokens: string[], isSpecial: (token: string) => boolean) => string;

export interface TokenizerOptions {
  /** Where it was loaded from, for messages. */
  source?: string;
  decodeTokens?: TokenDecoder;
}

/** transformers' clean_up_tokenization: drop the space tokenizers leave before punctuation and contractions. */
export function cleanUpTokenization(text: string): string {
  return text
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** transformers writes int(1e30) as model_max_length when a tokenizer has no limit. */
const NO_LENGTH_LIMIT = 1e12;

type IdRows = number[] | Int32Array | Tensor;

function toIdArray(ids: IdRows): number[] {
  if (ids instanceof Tensor) {
    if (ids.shape.length !== 1)
      throw new RangeError(`decode: expected a 1-D tensor of ids, got shape [${ids.shape.join(', ')}]`);
    return Array.from(ids.data);
  }
  return Array.from(ids);
}

/** Calling a tokenizer (as in transformers and transformers.js); options also by their snake_case names. */
export interface PreTrainedTokenizer {
  (text: string, options?: EncodeOptions & { returnTensors?: false }): BatchEncoding<number[]>;
  (texts: string[], options?: EncodeOptions & { returnTensors?: false }): BatchEncoding<number[][]>;
  (texts: TokenizerInput, options: EncodeOptions & { returnTensors: true }): BatchEncoding<Tensor>;
}

export class PreTrainedTokenizer extends Callable<[TokenizerInput, EncodeOptions?], BatchEncoding<unknown>> {
  /** The tokenizer.json this tokenizer runs; added tokens are kept in its `added_tokens`. */
  readonly json: TokenizerJson;
  /** tokenizer_config.json merged with special_tokens_map.json (which wins, as in transformers). */
  readonly config: JsonObject;
  /** Where it was loaded from, for messages. */
  readonly source: string;
  paddingSide: Side;
  truncationSide: Side;
  /** The longest sequence the model takes, or undefined when the config sets no limit. */
  modelMaxLength: number | undefined;
  private readonly specialTokens = new Map<SpecialTokenKey, string>();
  private additionalSpecialTokens: string[];
  private inner!: Tokenizer;
  private postProcessor!: PostProcessor;
  private vocab!: Map<string, number>;
  private idToToken!: string[];
  private warnedLongInput = false;
  private readonly decodeTokens: TokenDecoder | undefined;

  constructor(json: TokenizerJson, config: JsonObject = {}, options: TokenizerOptions = {}) {
    super();
    this.json = structuredClone(json);
    this.config = { ...config };
    this.source = options.source ?? '(in memory)';
    this.decodeTokens = options.decodeTokens;
    for (const key of SPECIAL_TOKEN_KEYS) {
      const content = specialTokenContent(config[key]);
      if (content !== undefined) this.specialTokens.set(key, content);
    }
    const additional = config['additional_special_tokens'];
    this.additionalSpecialTokens = Array.isArray(additional)
      ? additional.map(specialTokenContent).filter((t): t is string => t !== undefined)
      : [];
    this.paddingSide = config['padding_side'] === 'left' ? 'left' : 'right';
    this.truncationSide = config['truncation_side'] === 'left' ? 'left' : 'right';
    const maxLength = config['model_max_length'];
    this.modelMaxLength = typeof maxLength === 'number' && maxLength < NO_LENGTH_LIMIT ? maxLength : undefined;
    this.rebuild();
  }

  /** Recreates the @huggingface/tokenizers instance after the added tokens changed. */
  private rebuild(): void {
    this.inner = new Tokenizer(this.json, {
      ...this.config,
      clean_up_tokenization_spaces: this.config['clean_up_tokenization_spaces'] ?? true,
      additional_special_tokens: this.additionalSpecialTokens,
    });
    this.vocab = this.inner.get_vocab(true);
    this.idToToken = [];
    for (const [token, id] of this.vocab) this.idToToken[id] = token;
    this.postProcessor = new PostProcessor(this.json.post_processor, (t) => this.vocab.get(t));
  }

  /** Number of ids, added tokens included (`len(tokenizer)` in transformers). */
  get vocabSize(): number {
    return this.idToToken.length;
  }

  getVocab(): Map<string, number> {
    return new Map(this.vocab);
  }

  // ---- special tokens -------------------------------------------------------------------------------------------

  getSpecialToken(key: SpecialTokenKey): string | undefined {
    return this.specialTokens.get(key);
  }

  getSpecialTokenId(key: SpecialTokenKey): number | undefined {
    const token = this.specialTokens.get(key);
    return token === undefined ? undefined : this.vocab.get(token);
  }

  get bosToken(): string | undefined {
    return this.getSpecialToken('bos_token');
  }
  get eosToken(): string | undefined {
    return this.getSpecialToken('eos_token');
  }
  get unkToken(): string | undefined {
    return this.getSpecialToken('unk_token');
  }
  get padToken(): string | undefined {
    return this.getSpecialToken('pad_token');
  }
  get sepToken(): string | undefined {
    return this.getSpecialToken('sep_token');
  }
  get clsToken(): string | undefined {
    return this.getSpecialToken('cls_token');
  }
  get maskToken(): string | undefined {
    return this.getSpecialToken('mask_token');
  }
  get bosTokenId(): number | undefined {
    return this.getSpecialTokenId('bos_token');
  }
  get eosTokenId(): number | undefined {
    return this.getSpecialTokenId('eos_token');
  }
  get unkTokenId(): number | undefined {
    return this.getSpecialTokenId('unk_token');
  }
  get padTokenId(): number | undefined {
    return this.getSpecialTokenId('pad_token');
  }
  get sepTokenId(): number | undefined {
    return this.getSpecialTokenId('sep_token');
  }
  get clsTokenId(): number | undefined {
    return this.getSpecialTokenId('cls_token');
  }
  get maskTokenId(): number | undefined {
    return this.getSpecialTokenId('mask_token');
  }

  /** The named special tokens and the additional ones, without repeats. */
  get allSpecialTokens(): string[] {
    return [...new Set([...this.specialTokens.values(), ...this.additionalSpecialTokens])];
  }

  get allSpecialIds(): number[] {
    return this.allSpecialTokens.map((t) => this.vocab.get(t)).filter((id): id is number => id !== undefined);
  }

  /**
   * Sets named special tokens (e.g. `{ pad_token: tokenizer.eosToken }` for GPT-2 fine-tuning) and additional ones;
   * tokens not yet in the vocabulary are added with new ids. Returns how many ids were added.
   */
  addSpecialTokens(
    tokens: Partial<Record<SpecialTokenKey, string>> & { additional_special_tokens?: string[] },
  ): number {
    const { additional_special_tokens: additional = [], ...named } = tokens;
    const contents = [...Object.values(named), ...additional].filter((t): t is string => typeof t === 'string');
    // The config is kept in step, so a tokenizer built from (json, config) or saved and reloaded has them too.
    for (const [key, content] of Object.entries(named)) {
      if (content === undefined) continue;
      this.specialTokens.set(key as SpecialTokenKey, content);
      this.config[key] = content;
    }
    this.additionalSpecialTokens = [...new Set([...this.additionalSpecialTokens, ...additional])];
    if (this.additionalSpecialTokens.length > 0)
      this.config['additional_special_tokens'] = this.additionalSpecialTokens;
    return this.addTokens(contents.map((content) => ({ content, special: true })));
  }

  /** Adds tokens the pre-tokenizer must never split; returns how many were new. */
  addTokens(tokens: (string | AddedTokenSpec)[]): number {
    let added = 0;
    for (const spec of tokens) {
      const t: AddedTokenSpec = typeof spec === 'string' ? { content: spec } : spec;
      if (t.content === '') throw new RangeError('addTokens: an added token cannot be empty');
      const known = this.json.added_tokens.find((a) => a.content === t.content);
      if (known) {
        if (t.special) known.special = true;
        continue;
      }
      const existingId = this.vocab.get(t.content);
      const special = t.special ?? false;
      this.json.added_tokens.push({
        ...addedToken(existingId ?? this.vocabSize + added, t.content, special),
        lstrip: t.lstrip ?? false,
        rstrip: t.rstrip ?? false,
        single_word: t.singleWord ?? false,
        normalized: t.normalized ?? !special,
      });
      if (existingId === undefined) added++;
    }
    this.rebuild();
    return added;
  }

  // ---- tokens and ids -------------------------------------------------------------------------------------------

  /** The tokens of one text, without special tokens (`tokenizer.tokenize` in transformers). */
  tokenize(text: string): string[] {
    return this.inner.tokenize(text);
  }

  convertTokensToIds(token: string): number;
  convertTokensToIds(tokens: string[]): number[];
  convertTokensToIds(tokens: string | string[]): number | number[] {
    const one = (token: string): number => {
      const id = this.vocab.get(token) ?? this.unkTokenId;
      if (id === undefined)
        throw new RangeError(
          `convertTokensToIds: ${JSON.stringify(token)} is not in the vocabulary and there is no unk token`,
        );
      return id;
    };
    return typeof tokens === 'string' ? one(tokens) : tokens.map(one);
  }

  convertIdsToTokens(id: number): string;
  convertIdsToTokens(ids: number[]): string[];
  convertIdsToTokens(ids: number | number[]): string | string[] {
    const one = (id: number): string => {
      const token = this.idToToken[id];
      if (token === undefined)
        throw new RangeError(`convertIdsToTokens: id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      return token;
    };
    return typeof ids === 'number' ? one(ids) : ids.map(one);
  }

  /** Ids of one text (and optional pair), with special tokens unless told otherwise; no truncation or padding. */
  encodeIds(text: string, options: { textPair?: string; addSpecialTokens?: boolean } = {}): number[] {
    const a = this.inner.encode(text, { add_special_tokens: false }).ids;
    const b =
      options.textPair === undefined ? null : this.inner.encode(options.textPair, { add_special_tokens: false }).ids;
    if (options.addSpecialTokens === false) return b === null ? a : [...a, ...b];
    return this.postProcessor.process(a, b).ids;
  }

  // ---- batches ---------------------------------------------------------------------------------------------------

  /** `tokenizer(texts, options)`: `encode` under Hugging Face's names (see BatchEncoding). */
  protected invoke(texts: TokenizerInput, options: EncodeOptions = {}): BatchEncoding<unknown> {
    const named = camelCaseOptions(options, 'tokenizer');
    const { inputIds, attentionMask, tokenTypeIds } = this.encode(texts, named);
    // One text gives one row, as transformers does; tensors stay (1, T).
    const row = <T>(rows: T) => (typeof texts === 'string' && !named.returnTensors ? (rows as unknown[])[0] : rows);
    return { input_ids: row(inputIds), attention_mask: row(attentionMask), token_type_ids: row(tokenTypeIds) };
  }

  /**
   * Encodes a batch (a single string is a batch of one): special tokens, then truncation to `maxLength`, then
   * padding. Text longer than `maxLength` with truncation off is an error, never a silent cut.
   */
  encode(texts: string | string[], options: EncodeOptions & { returnTensors: true }): Encoding<Tensor>;
  encode(texts: string | string[], options?: EncodeOptions & { returnTensors?: false }): Encoding<number[][]>;
  encode(texts: string | string[], options?: EncodeOptions): Encoding<number[][]> | Encoding<Tensor>;
  encode(texts: string | string[], options: EncodeOptions = {}): Encoding<number[][]> | Encoding<Tensor> {
    const batch = typeof texts === 'string' ? [texts] : texts;
    const pairs =
      options.textPair === undefined
        ? undefined
        : typeof options.textPair === 'string'
          ? [options.textPair]
          : options.textPair;
    if (pairs !== undefined && pairs.length !== batch.length) {
      throw new RangeError(
        `encode: ${batch.length} texts but ${pairs.length} textPair entries; give one pair per text`,
      );
    }
    const addSpecial = options.addSpecialTokens ?? true;
    const truncation = options.truncation === true ? 'longest_first' : options.truncation || 'do_not_truncate';
    const maxLength =
      options.maxLength ??
      (truncation !== 'do_not_truncate' || options.padding === 'max_length' ? this.modelMaxLength : undefined);

    const rows: number[][] = [];
    const typeRows: number[][] = [];
    batch.forEach((text, i) => {
      let a = this.inner.encode(text, { add_special_tokens: false }).ids;
      let b = pairs === undefined ? null : this.inner.encode(pairs[i]!, { add_special_tokens: false }).ids;
      const specials = addSpecial ? this.postProcessor.addedTokenCount(b !== null) : 0;
      const length = a.length + (b?.length ?? 0) + specials;
      if (maxLength !== undefined && length > maxLength) {
        if (truncation === 'do_not_truncate') {
          throw new RangeError(
            `encode: text ${i} is ${length} tokens long, more than maxLength ${maxLength}; pass truncation: true to cut it`,
          );
        }
        [a, b] = this.truncatePair(
          a,
          b,
          length - maxLength,
          truncation,
          i,
          options.truncationSide ?? this.truncationSide,
        );
      } else if (
        maxLength === undefined &&
        this.modelMaxLength !== undefined &&
        length > this.modelMaxLength &&
        !this.warnedLongInput
      ) {
        this.warnedLongInput = true;
        console.warn(
          `attn tokenizer (${this.source}): a text is ${length} tokens long, more than the model's ${this.modelMaxLength}; ` +
            'pass truncation: true or the model will fail on it',
        );
      }
      const processed = addSpecial
        ? this.postProcessor.process(a, b)
        : { ids: b === null ? a : [...a, ...b], typeIds: [...a.map(() => 0), ...(b ?? []).map(() => 1)] };
      rows.push(processed.ids);
      typeRows.push(processed.typeIds);
    });

    return this.pad(rows, typeRows, options, maxLength);
  }

  private truncatePair(
    a: number[],
    b: number[] | null,
    excess: number,
    strategy: Exclude<Truncation, boolean>,
    row: number,
    side: Side,
  ): [number[], number[] | null] {
    const cut = (ids: number[], n: number) =>
      side === 'left' ? ids.slice(Math.min(n, ids.length)) : ids.slice(0, Math.max(0, ids.length - n));
    let removeA = 0;
    let removeB = 0;
    if (b === null || strategy === 'only_first') removeA = excess;
    else if (strategy === 'only_second') removeB = excess;
    else {
      // longest_first: take one token at a time from whichever sequence is longer (transformers' slow rule).
      let la = a.length;
      let lb = b.length;
      for (let k = 0; k < excess; k++) {
        if (la > lb) la--;
        else lb--;
      }
      removeA = a.length - la;
      removeB = b.length - lb;
    }
    if (removeA > a.length || removeB > (b?.length ?? 0)) {
      throw new RangeError(
        `encode: text ${row} cannot be truncated to maxLength with strategy ${strategy}: the special tokens and the ` +
          'other sequence alone are too long',
      );
    }
    return [cut(a, removeA), b === null ? null : cut(b, removeB)];
  }

  private pad(
    rows: number[][],
    typeRows: number[][],
    options: EncodeOptions,
    maxLength: number | undefined,
  ): Encoding<number[][]> | Encoding<Tensor> {
    const padding = options.padding === true ? 'longest' : options.padding || 'do_not_pad';
    let target: number | undefined;
    if (padding === 'longest') target = Math.max(0, ...rows.map((r) => r.length));
    else if (padding === 'max_length') {
      if (maxLength === undefined)
        throw new RangeError("encode: padding 'max_length' needs maxLength (or model_max_length in the config)");
      target = maxLength;
    }
    if (target !== undefined && options.padToMultipleOf)
      target = Math.ceil(target / options.padToMultipleOf) * options.padToMultipleOf;

    const longest = Math.max(0, ...rows.map((r) => r.length));
    const width = target ?? longest;
    let padId = 0;
    if (rows.some((r) => r.length < width)) {
      if (target === undefined) {
        if (options.returnTensors) {
          throw new RangeError(
            'encode: returnTensors needs rows of equal length; pass padding: true (or truncation with padding)',
          );
        }
      } else {
        const id = this.padTokenId;
        if (id === undefined) {
          throw new Error(
            `encode: padding needs a pad token, and ${this.source} defines none; set one with ` +
              'tokenizer.addSpecialTokens({ pad_token: tokenizer.eosToken }) or pass padding: false',
          );
        }
        padId = id;
      }
    }
    const left = (options.paddingSide ?? this.paddingSide) === 'left';
    if (options.returnTensors) {
      // Filled in place: building padded number[][] first costs more than the tokenizing it follows.
      const ids = new Int32Array(rows.length * width).fill(padId); // (B, T)
      const mask = new Int32Array(rows.length * width);
      const types = new Int32Array(rows.length * width);
      rows.forEach((row, i) => {
        const at = i * width + (left ? width - row.length : 0);
        ids.set(row, at);
        mask.fill(1, at, at + row.length);
        types.set(typeRows[i]!, at);
      });
      const shape = [rows.length, width];
      return {
        inputIds: Tensor.from(ids, shape, 'int32'),
        attentionMask: Tensor.from(mask, shape, 'int32'),
        tokenTypeIds: Tensor.from(types, shape, 'int32'),
      };
    }
    const padRow = (row: number[], value: number) => {
      if (target === undefined || row.length >= target) return row;
      const fill = new Array<number>(target - row.length).fill(value);
      return left ? [...fill, ...row] : [...row, ...fill];
    };
    return {
      inputIds: rows.map((r) => padRow(r, padId)),
      attentionMask: rows.map((r) =>
        padRow(
          r.map(() => 1),
          0,
        ),
      ),
      tokenTypeIds: typeRows.map((t) => padRow(t, 0)),
    };
  }

  // ---- decoding --------------------------------------------------------------------------------------------------

  /** Text of a sequence of ids. Ids outside the vocabulary are dropped, as Hugging Face's fast tokenizers do. */
  decode(ids: IdRows, options: DecodeOptions = {}): string {
    const known = toIdArray(ids).filter((id) => this.idToToken[id] !== undefined);
    if (known.length === 0) return '';
    if (this.decodeTokens) {
      const special = new Set(this.allSpecialTokens);
      let tokens = known.map((id) => this.idToToken[id]!);
      if (options.skipSpecialTokens) tokens = tokens.filter((t) => !special.has(t));
      const text = this.decodeTokens(tokens, (t) => special.has(t));
      const cleanUp = options.cleanUpTokenizationSpaces ?? this.config['clean_up_tokenization_spaces'] ?? true;
      return cleanUp ? cleanUpTokenization(text) : text;
    }
    return this.inner.decode(known, {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: options.cleanUpTokenizationSpaces ?? null,
    });
  }

  batchDecode(rows: number[][] | Tensor, options: DecodeOptions = {}): string[] {
    if (rows instanceof Tensor) {
      if (rows.shape.length !== 2)
        throw new RangeError(`batchDecode: expected a (B, T) tensor, got shape [${rows.shape.join(', ')}]`);
      const [b, t] = rows.shape as [number, number];
      return Array.from({ length: b }, (_, i) =>
        this.decode(Array.from(rows.data.subarray(i * t, (i + 1) * t)), options),
      );
    }
    return rows.map((r) => this.decode(r, options));
  }

  // ---- chat ------------------------------------------------------------------------------------------------------

  /** Renders a conversation with the config's Jinja `chat_template` (or `options.chatTemplate`). */
  applyChatTemplate(messages: ChatTemplateMessage[], options: ChatTemplateOptions & { tokenize: true }): number[];
  applyChatTemplate(messages: ChatTemplateMessage[], options?: ChatTemplateOptions & { tokenize?: false }): string;
  applyChatTemplate(messages: ChatTemplateMessage[], options: ChatTemplateOptions = {}): string | number[] {
    const source = this.chatTemplateSource(options.chatTemplate);
    let template: Template;
    try {
      template = new Template(source);
    } catch (err) {
      throw new Error(`applyChatTemplate: chat_template of ${this.source} does not parse: ${(err as Error).message}`);
    }
    const specials = Object.fromEntries([...this.specialTokens].map(([k, v]) => [k, v]));
    const text = template.render({
      ...specials,
      additional_special_tokens: this.additionalSpecialTokens,
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
    });
    // The template writes the special tokens itself, so none are added again (as transformers does).
    return options.tokenize ? this.encodeIds(text, { addSpecialTokens: false }) : text;
  }

  private chatTemplateSource(override: string | undefined): string {
    const configured = this.config['chat_template'];
    // A config may hold several named templates: [{ name, template }, ...].
    const named = Array.isArray(configured)
      ? new Map((configured as { name: string; template: string }[]).map((t) => [t.name, t.template]))
      : undefined;
    if (override !== undefined) return named?.get(override) ?? override;
    if (typeof configured === 'string') return configured;
    const fallback = named?.get('default');
    if (fallback !== undefined) return fallback;
    throw new Error(
      `applyChatTemplate: ${this.source} has no chat_template in tokenizer_config.json; pass options.chatTemplate`,
    );
  }

  // ---- saving ----------------------------------------------------------------------------------------------------

  /** Writes tokenizer.json, tokenizer_config.json and special_tokens_map.json into `dir` (each atomically). */
  async savePretrained(dir: string): Promise<void> {
    const specialMap: JsonObject = Object.fromEntries(this.specialTokens);
    if (this.additionalSpecialTokens.length > 0) specialMap['additional_special_tokens'] = this.additionalSpecialTokens;
    const addedTokensDecoder = Object.fromEntries(
      this.json.added_tokens.map((t) => [
        String(t.id),
        {
          content: t.content,
          lstrip: t.lstrip,
          normalized: t.normalized,
          rstrip: t.rstrip,
          single_word: t.single_word,
          special: t.special,
        },
      ]),
    );
    const config: JsonObject = {
      ...this.config,
      ...specialMap,
      added_tokens_decoder: addedTokensDecoder,
      clean_up_tokenization_spaces: this.config['clean_up_tokenization_spaces'] ?? true,
      model_max_length: this.modelMaxLength ?? 1e30,
      padding_side: this.paddingSide,
      truncation_side: this.truncationSide,
      tokenizer_class: this.config['tokenizer_class'] ?? 'PreTrainedTokenizerFast',
    };
    await writeFileAtomic(join(dir, 'tokenizer.json'), JSON.stringify(this.json, null, 2));
    await writeFileAtomic(join(dir, 'tokenizer_config.json'), JSON.stringify(config, null, 2));
    await writeFileAtomic(join(dir, 'special_tokens_map.json'), JSON.stringify(specialMap, null, 2));
  }

  /** Commits the tokenizer's files to a hub repo (created if missing), as transformers' `push_to_hub` does. */
  async pushToHub(repoId: string, options: PushToHubOptions = {}): Promise<PushResult> {
    return pushSaved(repoId, (dir) => this.savePretrained(dir), {
      commitMessage: 'Upload tokenizer with attn',
      ...options,
    });
  }
}
