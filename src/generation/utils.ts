import type { CausalLM, DecoderCache, LayerKV, Seq2SeqCache, Seq2SeqLM } from '../models/modeling_outputs.js';
import { noGrad, tidy } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { defaultGenerator, Generator as RandomGenerator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { BeamSearchScorer, topCandidates } from './beam_search.js';
import { GENERATION_PARAM_NAMES, GenerationConfig, tokenIdList, type GenerationParams } from './configuration_utils.js';
import { NonFiniteOutputError } from './finite-outputs.js';
import * as P from './logits_process.js';
import type { Decode, Streamer } from './streamers.js';
import { camelCaseOptions } from '../util/options.js';
import { didYouMean } from '../util/suggest.js';

export type GenerativeModel = CausalLM | Seq2SeqLM;

/** Optional model hooks generation looks for. */
interface GenerationHooks {
  /** Defaults from the checkpoint's generation_config.json, parsed once when the model loaded. */
  generationConfig?: GenerationConfig | null;
  /** Edits each step's scores (N, V) before the processors, as HF's adjust_logits_during_generation (Marian bans its pad id). */
  adjustLogitsDuringGeneration?(logits: Float32Array, vocabSize: number): void;
}

export interface GenerateOptions extends Partial<GenerationParams> {
  /** (B, T): 1 = token, 0 = padding. Decoder-only batches are padded on the left. */
  attentionMask?: Tensor | number[][] | null;
  /** Rows stop once their generated text contains one of these (needs `decode`). */
  stopStrings?: string[];
  /** Token ids → text, for `stopStrings`. */
  decode?: Decode;
  /** Seeds a fresh random generator for sampling, so the same seed gives the same tokens. */
  seed?: number;
  generator?: RandomGenerator;
  /** Gets each new token (batch of one, no beams). */
  streamer?: Streamer;
  /** Return each step's processed scores (N, V) in `scores`. */
  outputScores?: boolean;
  /** Replaces the model's own defaults (generation_config.json). */
  generationConfig?: GenerationConfig;
  /** Extra processors, run after the built-in ones (before sampling warpers). */
  logitsProcessors?: P.LogitsProcessor[];
  /**
   * Run the model's passes (a causal LM's prompt and one-token steps, an encoder–decoder's encoder and decoder
   * passes) as compiled graphs when the model offers them (default true; see models/compiled_decoding.ts); false
   * runs every step op by op.
   */
  compiled?: boolean;
}

export interface GenerateOutput {
  /** Prompt + generated tokens (decoder start + generated tokens for encoder–decoder models), one row per result. */
  sequences: number[][];
  /** With `outputScores`: per step, the processed scores (rows × V) the token was chosen from. */
  scores?: Float32Array[];
  /** Beam search: each returned sequence's score (summed log-probabilities / length ** lengthPenalty). */
  sequencesScores?: number[];
}

const CALL_OPTION_NAMES = [
  'attentionMask',
  'stopStrings',
  'decode',
  'seed',
  'generator',
  'streamer',
  'outputScores',
  'generationConfig',
  'logitsProcessors',
  'compiled',
];
const KNOWN_OPTIONS = new Set<string>([...GENERATION_PARAM_NAMES, ...CALL_OPTION_NAMES]);

function checkOptionNames(options: object): void {
  for (const key of Object.keys(options)) {
    if (KNOWN_OPTIONS.has(key)) continue;
    throw new RangeError(
      `generate: unknown option '${key}'${didYouMean(key, KNOWN_OPTIONS)}; known options: ${[...KNOWN_OPTIONS].join(', ')}`,
    );
  }
}

function isSeq2Seq(model: GenerativeModel): model is Seq2SeqLM {
  return typeof (model as Seq2SeqLM).encode === 'function';
}

function toRows(ids: Tensor | number[][], what: string): number[][] {
  if (ids instanceof Tensor) {
    if (ids.rank !== 2)
      throw new RangeError(`generate: ${what} must be (batch, length), got shape [${ids.shape.join(', ')}]`);
    const [b, t] = ids.shape as [number, number];
    return Array.from({ length: b }, (_, r) => Array.from(ids.data.subarray(r * t, (r + 1) * t)));
  }
  if (
    !Array.isArray(ids) ||
    ids.length === 0 ||
    !ids.every((row) => Array.isArray(row) && row.length === ids[0]!.length)
  ) {
    throw new RangeError(`generate: ${what} must be a non-empty (batch, length) array of equal-length rows`);
  }
  return ids.map((row) => [...row]);
}

function idTensor(rows: readonly (readonly number[])[]): Tensor {
  const t = rows[0]!.length;
  const data = new Int32Array(rows.length * t);
  rows.forEach((row, r) => data.set(row, r * t));
  return new Tensor(data, [rows.length, t]);
}

/** Each row `times` times in a row (torch.repeat_interleave on dim 0). */
function repeatRows<T>(rows: readonly T[], times: number): T[] {
  return rows.flatMap((row) => Array.from({ length: times }, () => (Array.isArray(row) ? ([...row] as T) : row)));
}

/** Copies the last position's logits of each row: (N, T, V) → (N, V). */
function lastPositionLogits(logits: Tensor): Float32Array {
  const [n, t, v] = logits.shape as [number, number, number];
  if (t === 1) return Float32Array.from(logits.data as Float32Array);
  const out = new Float32Array(n * v);
  for (let r = 0; r < n; r++) out.set(logits.data.subarray((r * t + t - 1) * v, (r * t + t) * v), r * v);
  return out;
}

function reorderLayers(layers: LayerKV[], rows: Tensor): LayerKV[] {
  return layers.map(({ key, value }) => ({
    key: ops.indexSelect(key, rows, 0),
    value: ops.indexSelect(value, rows, 0),
  }));
}

/** Whether any value is NaN; an indexed loop, as every step scans (N, V) logits (`some` with a callback was slower). */
function containsNaN(values: Float32Array): boolean {
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) return true;
  return false;
}

function isIdentity(rows: Int32Array): boolean {
  return rows.every((r, i) => r === i);
}

/**
 * Runs the model one step for all rows (N = batch × beams or samples) and returns the last position's logits
 * (N, V). With the cache, a step feeds only the tokens added since the previous one.
 */
abstract class Stepper<Cache> {
  protected cache: Cache | null = null;
  private cachedLength = 0;

  constructor(
    private readonly modelName: string,
    protected readonly useCache: boolean,
  ) {}

  /** One forward over the rows' tokens from `start` on, returning (N, T, V) logits and the new cache. */
  protected abstract forward(
    sequences: ReadonlyArray<readonly number[]>,
    start: number,
  ): { logits: Tensor; pastKeyValues?: Cache };

  /** Row i now continues row sourceRows[i] (beam search). */
  abstract reorder(sourceRows: Int32Array): void;

  next(sequences: ReadonlyArray<readonly number[]>): Float32Array {
    const start = this.useCache ? this.cachedLength : 0;
    const { logits, cache } = tidy(() => {
      const out = this.forward(sequences, start);
      return { logits: lastPositionLogits(out.logits), cache: out.pastKeyValues ?? null };
    });
    // NaN scores would pick token 0 (or any) forever; -Infinity may be a model's own ban, so only NaN is refused.
    if (containsNaN(logits)) throw new NonFiniteOutputError('generate', 'logits', Number.NaN, this.modelName);
    if (this.useCache) {
      if (!cache) throw new Error(`generate: ${this.modelName}.forward returned no pastKeyValues with useCache`);
      this.cache = cache;
      this.cachedLength = sequences[0]!.length;
    }
    return logits;
  }
}

class CausalStepper extends Stepper<DecoderCache> {
  constructor(
    private readonly model: CausalLM,
    private masks: number[][],
    useCache: boolean,
  ) {
    super(model.constructor.name, useCache);
  }

  protected forward(
    sequences: ReadonlyArray<readonly number[]>,
    start: number,
  ): { logits: Tensor; pastKeyValues?: DecoderCache } {
    const total = sequences[0]!.length;
    for (const m of this.masks) while (m.length < total) m.push(1);
    // Positions count real tokens only (HF: cumsum(mask) - 1, padding at 1), so left-padded rows start at 0.
    const positions = this.masks.map((m) => {
      let seen = 0;
      return m.map((bit) => (bit ? seen++ : 1)).slice(start);
    });
    return this.model.forward({
      inputIds: idTensor(sequences.map((s) => s.slice(start))),
      attentionMask: idTensor(this.masks),
      positionIds: idTensor(positions),
      pastKeyValues: this.cache,
      useCache: this.useCache,
    });
  }

  reorder(sourceRows: Int32Array): void {
    if (isIdentity(sourceRows)) return;
    this.masks = Array.from(sourceRows, (r) => [...this.masks[r]!]);
    if (this.cache) this.cache = reorderLayers(this.cache, new Tensor(sourceRows, [sourceRows.length]));
  }
}

class Seq2SeqStepper extends Stepper<Seq2SeqCache> {
  private readonly encoderHiddenStates: Tensor; // (N, S, C)
  private readonly encoderMask: Tensor; // (N, S)

  constructor(
    private readonly model: Seq2SeqLM,
    inputRows: number[][],
    maskRows: number[][],
    rowsPerInput: number,
    useCache: boolean,
  ) {
    super(model.constructor.name, useCache);
    const expand = new Int32Array(inputRows.length * rowsPerInput).map((_, i) => Math.floor(i / rowsPerInput));
    // Encode each input once, then copy its states to its beams / samples.
    const encoded = model.encode(idTensor(inputRows), idTensor(maskRows));
    this.encoderHiddenStates =
      rowsPerInput === 1 ? encoded : ops.indexSelect(encoded, new Tensor(expand, [expand.length]), 0);
    this.encoderMask = idTensor(repeatRows(maskRows, rowsPerInput));
  }

  protected forward(
    sequences: ReadonlyArray<readonly number[]>,
    start: number,
  ): { logits: Tensor; pastKeyValues?: Seq2SeqCache } {
    return this.model.forward({
      decoderInputIds: idTensor(sequences.map((s) => s.slice(start))),
      encoderHiddenStates: this.encoderHiddenStates,
      attentionMask: this.encoderMask,
      pastKeyValues: this.cache,
      useCache: this.useCache,
    });
  }

  reorder(sourceRows: Int32Array): void {
    if (!this.cache || isIdentity(sourceRows)) return;
    // Beams only move within their batch item, whose rows share encoder states: the cross-attention cache stays.
    this.cache = {
      self: reorderLayers(this.cache.self, new Tensor(sourceRows, [sourceRows.length])),
      cross: this.cache.cross,
    };
  }
}

/** Model defaults, then the call's generationConfig, then the call's options. */
function resolveConfig(model: GenerativeModel & GenerationHooks, options: GenerateOptions): GenerationConfig {
  const base = options.generationConfig ?? model.generationConfig ?? GenerationConfig.fromModelConfig(model.config);
  const overrides: Partial<GenerationParams> = {};
  for (const name of GENERATION_PARAM_NAMES) {
    if (options[name] !== undefined) (overrides as Record<string, unknown>)[name] = options[name];
  }
  const config = base.with(overrides);
  config.validate();
  return config;
}

interface Plan {
  config: GenerationConfig;
  stepper: Stepper<unknown>;
  /** Rows being decoded (batch × beams or × samples), each starting with its prompt. */
  sequences: number[][];
  promptLength: number;
  maxLength: number;
  eos: number[];
  pad: number | null;
  processors: P.LogitsProcessor;
  adjust: (scores: Float32Array) => void;
  vocabSize: number;
}

function plan(model: GenerativeModel & GenerationHooks, inputIds: Tensor | number[][], options: GenerateOptions): Plan {
  checkOptionNames(options);
  const config = resolveConfig(model, options);
  const prompt = toRows(inputIds, 'inputIds');
  const masks = options.attentionMask ? toRows(options.attentionMask, 'attentionMask') : null;
  if (masks && (masks.length !== prompt.length || masks[0]!.length !== prompt[0]!.length)) {
    throw new RangeError(
      `generate: attentionMask is ${masks.length}x${masks[0]!.length}, inputIds ${prompt.length}x${prompt[0]!.length}`,
    );
  }
  const eos = tokenIdList(config.eosTokenId);
  const pad = config.padTokenId ?? eos[0] ?? null;
  const rowsPerInput = config.doSample ? config.numReturnSequences : config.numBeams;
  const vocabSize = model.config.vocabSize;
  for (const row of prompt) {
    for (const id of row)
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
        throw new RangeError(`generate: token id ${id} in inputIds is outside the vocabulary [0, ${vocabSize})`);
  }
  const window = model.config.contextWindow ?? null; // null: nothing bounds the length (T5, dynamic NTK)
  let stepper: Stepper<unknown>;
  let sequences: number[][];
  if (isSeq2Seq(model)) {
    const start = config.decoderStartTokenId ?? config.bosTokenId;
    if (start === null)
      throw new Error(
        'generate: an encoder–decoder model needs decoderStartTokenId (or bosTokenId) in its generation config',
      );
    if (window !== null && prompt[0]!.length > window) {
      throw new RangeError(
        `generate: the input has ${prompt[0]!.length} tokens, more than the model's context window of ${window} (config contextWindow)`,
      );
    }
    sequences = repeatRows(
      prompt.map(() => [start]),
      rowsPerInput,
    );
    stepper = new Seq2SeqStepper(
      options.compiled === false ? model : (model.compiledDecoding?.() ?? model),
      prompt,
      masks ?? prompt.map((r) => r.map(() => 1)),
      rowsPerInput,
      config.useCache,
    );
  } else {
    // HF infers the mask from padding only when pad and EOS differ (else EOS tokens in the prompt would be masked).
    const inferred = prompt.map((r) => r.map((id) => (pad !== null && !eos.includes(pad) && id === pad ? 0 : 1)));
    const rowsMask = masks ?? inferred;
    if (prompt.length > 1 && rowsMask.some((m) => m[m.length - 1] === 0)) {
      throw new RangeError(
        'generate: decoder-only batches must be padded on the left (an attentionMask row ends with 0)',
      );
    }
    sequences = repeatRows(prompt, rowsPerInput);
    const decoder = options.compiled === false ? model : (model.compiledDecoding?.() ?? model);
    stepper = new CausalStepper(decoder, repeatRows(rowsMask, rowsPerInput), config.useCache);
  }
  const promptLength = sequences[0]!.length;
  const maxLength = config.maxNewTokens !== null ? promptLength + config.maxNewTokens : config.maxLength;
  if (!isSeq2Seq(model) && window !== null) {
    if (promptLength > window) {
      throw new RangeError(
        `generate: the prompt has ${promptLength} tokens, more than the model's context window of ${window} (config contextWindow)`,
      );
    }
    if (maxLength > window) {
      throw new RangeError(
        `generate: prompt (${promptLength}) + new tokens would reach length ${maxLength}, past the context window of ${window}; lower maxNewTokens to at most ${window - promptLength}`,
      );
    }
  }
  const processors: P.LogitsProcessor[] = [];
  if (config.repetitionPenalty !== 1) processors.push(P.repetitionPenalty(config.repetitionPenalty));
  if (config.noRepeatNgramSize > 0) processors.push(P.noRepeatNgram(config.noRepeatNgramSize));
  if (config.badWordsIds) processors.push(P.badWords(config.badWordsIds, eos));
  if (config.minLength > 0 && eos.length) processors.push(P.minLength(config.minLength, eos));
  if (config.minNewTokens && eos.length) processors.push(P.minNewTokens(promptLength, config.minNewTokens, eos));
  if (config.forcedBosTokenId !== null) processors.push(P.forcedBos(config.forcedBosTokenId));
  if (config.forcedEosTokenId !== null) processors.push(P.forcedEos(maxLength, tokenIdList(config.forcedEosTokenId)));
  processors.push(...(options.logitsProcessors ?? []));
  const adjust = (scores: Float32Array): void => model.adjustLogitsDuringGeneration?.(scores, vocabSize);
  return {
    config,
    stepper,
    sequences,
    promptLength,
    maxLength,
    eos,
    pad,
    processors: P.composeProcessors(processors),
    adjust,
    vocabSize,
  };
}

function argmaxRow(scores: Float32Array, row: number, vocabSize: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0, base = row * vocabSize; i < vocabSize; i++) {
    if (scores[base + i]! > bestValue) {
      bestValue = scores[base + i]!;
      best = i;
    }
  }
  return best;
}

function sampleRow(scores: Float32Array, row: number, vocabSize: number, generator: RandomGenerator): number {
  const probs = P.softmaxOf(scores.subarray(row * vocabSize, (row + 1) * vocabSize));
  let u = generator.random();
  for (let i = 0; i < vocabSize; i++) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return probs.findLastIndex((p) => p > 0);
}

/** Greedy search and sampling: one token per row per step until every row hit EOS / a stop string, or maxLength. */
function* greedyOrSample(p: Plan, options: GenerateOptions): Generator<void, GenerateOutput> {
  const { config, stepper, sequences, eos, pad, vocabSize } = p;
  const warp = P.composeProcessors(
    config.doSample ? [P.temperature(config.temperature), P.topK(config.topK), P.topP(config.topP)] : [],
  );
  const generator =
    options.generator ?? (options.seed !== undefined ? new RandomGenerator(options.seed) : defaultGenerator);
  const stopStrings = options.stopStrings ?? [];
  if (stopStrings.length && !options.decode)
    throw new Error('generate: stopStrings needs a decode function (token ids → text)');
  if (stopStrings.length && pad === null)
    throw new Error('generate: stopStrings needs padTokenId (or eosTokenId) to pad rows that stopped');
  const unfinished = sequences.map(() => true);
  const scores: Float32Array[] = [];
  // As transformers: the streamer sees the prompt first (a TextStreamer with skipPrompt leaves it out).
  options.streamer?.put(sequences[0]!.slice(0, p.promptLength));
  while (sequences[0]!.length < p.maxLength && unfinished.some(Boolean)) {
    const step = stepper.next(sequences);
    p.adjust(step);
    p.processors(step, { sequences, vocabSize });
    warp(step, { sequences, vocabSize });
    if (options.outputScores) scores.push(step);
    sequences.forEach((row, r) => {
      if (!unfinished[r]) {
        row.push(pad!);
        return;
      }
      const token = config.doSample ? sampleRow(step, r, vocabSize, generator) : argmaxRow(step, r, vocabSize);
      row.push(token);
      options.streamer?.put([token]);
      if (eos.includes(token)) unfinished[r] = false;
      else if (stopStrings.length) {
        const text = options.decode!(row.slice(p.promptLength));
        if (stopStrings.some((s) => text.includes(s))) unfinished[r] = false;
      }
    });
    yield;
  }
  options.streamer?.end();
  return { sequences, ...(options.outputScores ? { scores } : {}) };
}

function* beamSearch(p: Plan, options: GenerateOptions): Generator<void, GenerateOutput> {
  const { config, stepper, eos, pad, vocabSize } = p;
  if (options.streamer) throw new Error('generate: a streamer works with greedy search and sampling, not beam search');
  if (options.stopStrings?.length)
    throw new Error('generate: stopStrings work with greedy search and sampling, not beam search');
  const numBeams = config.numBeams;
  const batchSize = p.sequences.length / numBeams;
  const scorer = new BeamSearchScorer(batchSize, {
    numBeams,
    lengthPenalty: config.lengthPenalty,
    earlyStopping: config.earlyStopping,
    numReturnSequences: config.numReturnSequences,
    maxLength: p.maxLength,
    promptLength: p.promptLength,
    eosTokenIds: eos,
    padTokenId: pad,
  });
  // All beams start as copies of the prompt: only the first may expand at step one.
  let beamScores: Float32Array = new Float32Array(p.sequences.length).map((_, i) => (i % numBeams === 0 ? 0 : -1e9));
  let sequences = p.sequences;
  const scores: Float32Array[] = [];
  while (sequences[0]!.length < p.maxLength) {
    const step = stepper.next(sequences);
    // Normalised over the whole vocabulary before the model's adjustment (Marian's pad ban), as transformers 4.37:
    // its beam sequences_scores include the banned token's probability mass.
    P.logSoftmaxRows(step, vocabSize);
    p.adjust(step);
    p.processors(step, { sequences, vocabSize });
    if (options.outputScores) scores.push(step.slice());
    for (let row = 0; row < beamScores.length; row++) {
      const beamScore = beamScores[row]!;
      for (let i = row * vocabSize, end = i + vocabSize; i < end; i++) step[i] = step[i]! + beamScore;
    }
    const candidates = Array.from({ length: batchSize }, (_, b) =>
      topCandidates(step, b * numBeams, numBeams, vocabSize, scorer.candidatesPerItem),
    );
    const chosen = scorer.process(sequences, candidates);
    beamScores = chosen.scores;
    sequences = Array.from(chosen.sourceRows, (src, i) => [...sequences[src]!, chosen.tokens[i]!]);
    stepper.reorder(chosen.sourceRows);
    yield;
    if (scorer.isDone) break;
  }
  const result = scorer.finalize(sequences, beamScores);
  return { sequences: result.sequences, sequencesScores: result.scores, ...(options.outputScores ? { scores } : {}) };
}

function* decodeSteps(
  model: GenerativeModel,
  inputIds: Tensor | number[][],
  callOptions: GenerateOptions,
): Generator<void, GenerateOutput> {
  // `max_new_tokens` as Hugging Face users write it is `maxNewTokens`.
  const options = camelCaseOptions(callOptions, 'generate');
  const p = plan(model, inputIds, options);
  if (options.streamer && p.sequences.length !== 1)
    throw new Error(`generate: a streamer needs a batch of one sequence, got ${p.sequences.length}`);
  return yield* p.config.numBeams > 1 ? beamSearch(p, options) : greedyOrSample(p, options);
}

/**
 * Generates continuations of `inputIds` (B, T) — greedy, sampling or beam search, chosen by the options over the
 * model's generation_config.json defaults — reusing the KV cache so each step runs one token per row.
 */
export function generate(
  model: GenerativeModel,
  inputIds: Tensor | number[][],
  options: GenerateOptions = {},
): GenerateOutput {
  return noGrad(() => {
    const steps = decodeSteps(model, inputIds, options);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
    }
  });
}

/** As `generate`, but lets the event loop run between steps, so a TextIteratorStreamer's reader sees text as it comes. */
export async function generateAsync(
  model: GenerativeModel,
  inputIds: Tensor | number[][],
  options: GenerateOptions = {},
): Promise<GenerateOutput> {
  const steps = decodeSteps(model, inputIds, options);
  for (;;) {
    const r = noGrad(() => steps.next());
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}
