/**
 * What every pipeline shares: a model and its tokenizer loaded from one folder, a callable object
 * (`await classifier('text')`, as in Hugging Face), input checks that name the bad value, batching, truncation
 * with a warning instead of a kernel error, and `dispose()`.
 */
import type { PushResult, PushToHubOptions } from '../hub/push.js';
import { CompiledGraphs, encoderSpec, weightModeFor, type EncoderFeeds } from '../models/compiled.js';
import { checkFiniteOutputs } from '../generation/finite-outputs.js';
import { getBackend, noGrad, tidy } from '../tensor/engine.js';
import { allocate } from '../tensor/dtype.js';
import { Tensor } from '../tensor/tensor.js';
import type { PreTrainedModel } from '../models/modeling_utils.js';
import type { WeightDtype } from '../models/quantization.js';
import type { PreTrainedTokenizer } from '../tokenizers/tokenizer.js';
import { Callable } from '../util/callable.js';
import { camelCaseOptions, isPlainObject } from '../util/options.js';

/** A bad argument to a pipeline (empty text, no candidate labels, unknown option): the caller's to fix. */
export class PipelineInputError extends Error {}

/** Options every pipeline takes when it is created. */
export interface PipelineOptions {
  /** Inputs run through the model at once (default 8); larger batches are split. */
  batchSize?: number;
  /** Where notes go (a truncated input, a model loading note); default console.warn. */
  onWarning?: (message: string) => void;
  /**
   * Run the model as one compiled onnxruntime graph (default true; see models/compiled.ts): compiled on the first
   * call, for every batch size and length. false runs it op by op (eager), as the reference backend always does.
   */
  compiled?: boolean;
  /**
   * How the compiled graph holds the weights. 'file' (default): onnxruntime reads them from the checkpoint file
   * itself and pre-packs them, and JS keeps no copy (`pipeline()` then loads the model with `readWeights: false`;
   * a model handed in with its weights read runs 'shared'). 'shared' feeds attn's own buffers every run (one copy,
   * not pre-packed: about 20% more CPU on short inputs); 'packed' has onnxruntime copy and pre-pack them while JS
   * keeps its copy (twice the memory).
   */
  compiledWeights?: CompiledWeights;
  /**
   * Weight type, as transformers.js names it: 'q8' / 'q4' quantize a float model on load (int8, or 4-bit for
   * causal LMs; see models/quantization.ts), 'fp32' dequantizes a quantized one, 'fp16' keeps float weights
   * as IEEE half bits (rounded on load unless stored F16; computed in float32, cast inside the compiled graph);
   * default: as saved.
   */
  dtype?: WeightDtype;
}

export type CompiledWeights = 'file' | 'shared' | 'packed';

/** The tensors a tokenizer hands a model, (B, T) int32 each (they fit models' ModelInputs). */
export interface TokenizedBatch {
  inputIds: Tensor;
  attentionMask: Tensor;
  tokenTypeIds: Tensor;
}

export interface BatchEncodeOptions {
  /** Second texts (NLI hypotheses): truncation then cuts only the first text. */
  pairs?: string[];
  /** Default true; false for text that already holds them (a rendered chat template). */
  addSpecialTokens?: boolean;
  paddingSide?: 'left' | 'right';
  /** Default `maxTokens`. */
  maxTokens?: number;
  /** Which end of a too-long text is dropped: 'end' (default) keeps its beginning, 'start' its end (prompts). */
  cutFrom?: 'start' | 'end';
}

/** The longest input a Transformer without relative positions would accept when neither file says (BERT's). */
const FALLBACK_MAX_TOKENS = 512;

/**
 * The base of the pipelines: a Callable, so `pipe(input, options)` runs `invoke` (then the subclass's `run`) and
 * `pipe.dispose()` still works. (Function objects have read-only `name` and `length`: pipelines must not use those as
 * field names.)
 */
export abstract class Pipeline<M extends PreTrainedModel = PreTrainedModel> extends Callable<
  unknown[],
  Promise<unknown>
> {
  abstract readonly task: string;
  readonly model: M;
  readonly tokenizer: PreTrainedTokenizer;
  readonly batchSize: number;
  protected readonly warn: (message: string) => void;
  private disposed = false;
  /** The encoder graphs (runEncoder), or null when the pipeline runs op by op (`compiled: false`). */
  private readonly compiledGraphs: CompiledGraphs | null;
  private readonly compiledWeights: CompiledWeights;

  constructor(model: M, tokenizer: PreTrainedTokenizer, options: PipelineOptions = {}) {
    super();
    const batchSize = options.batchSize ?? 8;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new PipelineInputError(`batchSize must be a whole number >= 1, got ${options.batchSize}`);
    this.model = model;
    this.tokenizer = tokenizer;
    this.batchSize = batchSize;
    this.warn = options.onWarning ?? ((message: string) => console.warn(message));
    this.compiledWeights = options.compiledWeights ?? 'file';
    this.compiledGraphs =
      options.compiled === false
        ? null
        : new CompiledGraphs(model, {
            fromFile: this.compiledWeights === 'file',
            warn: (message) => this.warn(`attn ${this.task}: ${message}`),
          });
  }

  /**
   * What calling the pipeline does, for callers that know the arguments' types only at run time (the CLI, the
   * studio); typed callers call the pipeline itself, whose signatures each subclass declares. Options also come by
   * Hugging Face's snake_case names (`max_new_tokens`, `candidate_labels`, `top_k`).
   */
  invoke(...args: unknown[]): Promise<unknown> {
    return this.run(...args.map((arg) => (isPlainObject(arg) ? camelCaseOptions(arg, this.task) : arg)));
  }

  /** The pipeline's work; calling the pipeline object calls this. */
  protected abstract run(...args: unknown[]): Promise<unknown>;

  /** Frees the model's weights; the pipeline cannot be used afterwards. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.compiledGraphs?.dispose();
    for (const [, tensor] of this.model.stateDict()) tensor.dispose();
  }

  /** Commits the pipeline's model and tokenizer to a hub repo, so `pipeline(task, repoId)` gives this pipeline back. */
  async pushToHub(repoId: string, options: PushToHubOptions = {}): Promise<PushResult> {
    this.checkUsable();
    this.model.readWeightsBack();
    return this.model.pushToHub(repoId, { ...options, tokenizer: this.tokenizer });
  }

  protected checkUsable(): void {
    if (this.disposed)
      throw new PipelineInputError(
        `this ${this.task} pipeline was disposed; create a new one with pipeline('${this.task}')`,
      );
  }

  /**
   * `run` on tokenizer output through the compiled graph named `key` (compiled on first use), or eagerly when
   * compilation is off, the backend is the reference one, or the model's forward pass cannot be compiled (said
   * once). Results are the same either way: compilation checks the graph against the eager pass.
   */
  protected runEncoder(
    key: string,
    inputs: TokenizedBatch,
    run: (feeds: EncoderFeeds) => Record<string, Tensor>,
  ): Record<string, Tensor> {
    const graphs = this.compiledGraphs;
    const model = this.model;
    const compiled =
      graphs === null || getBackend().name !== 'onnx'
        ? null
        : graphs.get(
            key,
            'forward pass',
            () => {
              const vocab = model.config.rawField('vocab_size');
              // Without a vocab_size the recording uses ids 0 and 1, which every vocabulary has.
              return encoderSpec(typeof vocab === 'number' ? vocab : 2, run);
            },
            {
              cacheKey: `pipeline/${this.task}/${key}`,
              weights: weightModeFor(model, this.compiledWeights === 'packed' ? 'packed' : 'shared'),
            },
          );
    if (!compiled) {
      model.readWeightsBack(); // weights left in the checkpoint for a compiled session
      return this.finite(run(inputs));
    }
    return this.finite(
      compiled.run({
        input_ids: inputs.inputIds,
        attention_mask: inputs.attentionMask,
        token_type_ids: inputs.tokenTypeIds,
      }),
    );
  }

  /**
   * `runEncoder` for outputs with one row per input and no token axis (logits, (B, …)): rows of very different
   * lengths run as separate batches, each cut to its own longest row, instead of all padded to the batch's longest.
   * Right padding only: a row's values never depend on the padding after it (it is masked, positions start at 0).
   */
  protected runEncoderByRows(
    key: string,
    inputs: TokenizedBatch,
    run: (feeds: EncoderFeeds) => Record<string, Tensor>,
  ): Record<string, Tensor> {
    const lengths = rightPaddedLengths(inputs.attentionMask);
    const groups = lengths ? lengthGroups(lengths) : null;
    if (!groups || groups.length === 1) return this.runEncoder(key, inputs, run);
    const [b, t] = inputs.inputIds.shape as [number, number];
    const parts = groups.map((rows) => {
      const width = Math.max(...rows.map((i) => lengths![i]!));
      const cut = (x: Tensor) => {
        const data = allocate(x.dtype, rows.length * width);
        rows.forEach((i, k) => data.set(x.data.subarray(i * t, i * t + width), k * width));
        return new Tensor(data, [rows.length, width]); // (rows, width)
      };
      const part = { inputIds: cut(inputs.inputIds), attentionMask: cut(inputs.attentionMask) };
      return this.runEncoder(key, { ...part, tokenTypeIds: cut(inputs.tokenTypeIds) }, run);
    });
    const out: Record<string, Tensor> = {};
    for (const [name, first] of Object.entries(parts[0]!)) {
      const rowSize = first.size / first.shape[0]!;
      const data = allocate(first.dtype, b * rowSize);
      groups.forEach((rows, g) => {
        const part = parts[g]![name]!.data;
        rows.forEach((i, k) => data.set(part.subarray(k * rowSize, (k + 1) * rowSize), i * rowSize));
      });
      out[name] = new Tensor(data, [b, ...first.shape.slice(1)]);
    }
    return out;
  }

  /** NaN or infinite outputs are an error naming the model, never an answer (see finite-outputs.ts). */
  protected finite<T extends object>(outputs: T): T {
    return checkFiniteOutputs(this.task, this.model.sourceDir ?? '', outputs);
  }

  /** The longest token sequence the model takes: the smaller of the tokenizer's and the model's limits. */
  get maxTokens(): number {
    const positions = [this.model.config.contextWindow, this.tokenizer.modelMaxLength].filter(
      (n): n is number => typeof n === 'number' && n > 0,
    );
    return positions.length > 0 ? Math.min(...positions) : FALLBACK_MAX_TOKENS;
  }

  /**
   * Tokenizes a batch padded to its longest row and cut to `maxTokens`, warning once per cut input (a
   * 100,000-character text becomes its first `maxTokens` tokens rather than an index error deep in a kernel).
   * Padding positions are masked out, so a tokenizer without a pad token pads with EOS (as transformers does for
   * GPT-2), or with id 0.
   */
  protected encode(texts: string[], options: BatchEncodeOptions = {}): TokenizedBatch {
    const maxLength = options.maxTokens ?? this.maxTokens;
    const tokenizer = this.tokenizer;
    // The side is an option of this call: the tokenizer is shared (a pipeline may serve several requests at once).
    const { inputIds: rows, tokenTypeIds: typeRows } = tokenizer.encode(texts, {
      textPair: options.pairs,
      addSpecialTokens: options.addSpecialTokens,
      truncation: options.pairs ? 'only_first' : true,
      truncationSide: options.cutFrom === 'start' ? 'left' : 'right',
      maxLength,
    });
    this.warnAboutCuts(texts, rows, maxLength, options);
    const width = Math.max(...rows.map((row) => row.length));
    const left = (options.paddingSide ?? tokenizer.paddingSide) === 'left';
    const pad = (row: number[], value: number) => {
      const fill = new Array<number>(width - row.length).fill(value);
      return left ? [...fill, ...row] : [...row, ...fill];
    };
    const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
    const tensor = (values: number[][]) => Tensor.from(values.flat(), [values.length, width], 'int32'); // (B, T)
    return {
      inputIds: tensor(rows.map((row) => pad(row, padId))),
      attentionMask: tensor(
        rows.map((row) =>
          pad(
            row.map(() => 1),
            0,
          ),
        ),
      ),
      tokenTypeIds: tensor(typeRows.map((row) => pad(row, 0))),
    };
  }

  private warnAboutCuts(texts: string[], rows: number[][], maxLength: number, options: BatchEncodeOptions): void {
    texts.forEach((text, i) => {
      if (rows[i]!.length < maxLength) return;
      const full = this.tokenizer.encodeIds(text, {
        textPair: options.pairs?.[i],
        addSpecialTokens: options.addSpecialTokens,
      }).length;
      if (full > maxLength) {
        const kept = options.cutFrom === 'start' ? 'last' : 'first';
        this.warn(
          `attn ${this.task}: input ${i} (${text.length} characters) is ${full} tokens long; the model takes ${maxLength}, so only its ${kept} ${maxLength} tokens were used`,
        );
      }
    });
  }

  /** Runs `work` on slices of at most `batchSize` items and concatenates the results, in order. */
  protected async inBatches<I, O>(
    items: readonly I[],
    work: (batch: I[], offset: number) => O[] | Promise<O[]>,
  ): Promise<O[]> {
    const results: O[] = [];
    for (let start = 0; start < items.length; start += this.batchSize) {
      results.push(...(await work(items.slice(start, start + this.batchSize), start)));
    }
    return results;
  }
}

/** Each row's length when every mask row is ones then zeros (right padding), else null. (B, T) int32 mask. */
function rightPaddedLengths(mask: Tensor): number[] | null {
  const [b, t] = mask.shape as [number, number];
  const m = mask.data;
  const lengths: number[] = [];
  for (let i = 0; i < b; i++) {
    let n = 0;
    while (n < t && m[i * t + n] === 1) n++;
    for (let j = n; j < t; j++) if (m[i * t + j] !== 0) return null;
    lengths.push(n);
  }
  return lengths;
}

/**
 * What one more run of the encoder costs, in padded tokens: a run at batch 1 reads every weight once, about what
 * 30 more tokens of a batch compute (DistilBERT-base: ~8 ms for 12 tokens, ~30 ms for 128).
 */
const RUN_COST_TOKENS = 32;

/**
 * Rows (indices) grouped by length so that Σ (rows × longest row + RUN_COST_TOKENS) over the groups is least:
 * a DP over the rows sorted by length, since a best group is always a run of neighbours in that order.
 */
export function lengthGroups(lengths: readonly number[]): number[][] {
  const order = lengths.map((_, i) => i).sort((x, y) => lengths[x]! - lengths[y]!);
  const n = order.length;
  const best = new Array<number>(n + 1).fill(Infinity);
  const start = new Array<number>(n + 1).fill(0);
  best[0] = 0;
  for (let end = 1; end <= n; end++) {
    const longest = lengths[order[end - 1]!]!;
    for (let from = 0; from < end; from++) {
      const cost = best[from]! + (end - from) * longest + RUN_COST_TOKENS;
      if (cost < best[end]!) [best[end], start[end]] = [cost, from];
    }
  }
  const groups: number[][] = [];
  for (let end = n; end > 0; end = start[end]!) groups.unshift(order.slice(start[end]!, end));
  return groups;
}

/** Runs a forward pass without gradients, freeing every tensor it made except what `read` copies out. */
export function inference<T>(fn: () => T): T {
  return tidy(() => noGrad(fn));
}

/** One input or a batch of them, as a batch; empty or non-string inputs are errors naming the index. */
export function textBatch(input: unknown, what = 'text'): { texts: string[]; single: boolean } {
  const single = typeof input === 'string';
  const texts = single ? [input] : input;
  if (!Array.isArray(texts))
    throw new PipelineInputError(`expected a ${what} (string) or an array of them, got ${describe(input)}`);
  if (texts.length === 0) throw new PipelineInputError(`expected at least one ${what}, got an empty array`);
  texts.forEach((text, i) => {
    if (typeof text !== 'string') throw new PipelineInputError(`${what} ${i} is ${describe(text)}, expected a string`);
    if (text.trim() === '')
      throw new PipelineInputError(`${what}${single ? '' : ` ${i}`} is empty; give some text to work on`);
  });
  return { texts: texts as string[], single };
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const shown =
    typeof value === 'object' ? JSON.stringify(value) : typeof value === 'string' ? JSON.stringify(value) : undefined;
  if (shown === undefined) return typeof value;
  return shown.length > 60 ? shown.slice(0, 60) + '…' : shown;
}

/** Softmax of one row, in float64 (scores are reported, so they should sum to 1 to the last digit shown). */
export function softmax(row: ArrayLike<number>): number[] {
  let max = -Infinity;
  for (let i = 0; i < row.length; i++) max = Math.max(max, row[i]!);
  const exps = Array.from(row, (x) => Math.exp(x - max));
  const total = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / total);
}

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** The rows of a (B, N) tensor as plain arrays. */
export function rowsOf(t: Tensor): Float32Array[] {
  const [b, n] = [t.shape[0]!, t.shape[t.rank - 1]!];
  return Array.from({ length: b }, (_, i) => Float32Array.from(t.data.subarray(i * n, (i + 1) * n)));
}

/** Indices of `scores` from highest to lowest (ties keep their order). */
export function argsortDescending(scores: readonly number[]): number[] {
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}
