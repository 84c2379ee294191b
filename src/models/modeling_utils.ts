/**
 * The base of every pretrained model: loading a Hugging Face folder or hub repo (config.json, model.safetensors or
 * its shards, generation_config.json) into a model built from its configuration, and saving it back in the same
 * format.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GenerationConfig } from '../generation/configuration_utils.js';
import { generate, type GenerateOptions, type GenerateOutput, type GenerativeModel } from '../generation/utils.js';
import { copyTokenizerFiles, pushSaved, type PushResult, type PushToHubOptions } from '../hub/push.js';
import { resolveModelDir, type ResolveModelOptions } from '../hub/resolve.js';
import {
  readTensorsSync,
  saveShardedSafetensors,
  SafetensorsReader,
  SAFETENSORS_INDEX,
  tensorDtypeOf,
  type TensorEntry,
} from '../io/safetensors.js';
import * as F from '../nn/functional.js';
import { Module } from '../nn/module.js';
import { deferRandomInit } from '../tensor/creation.js';
import * as ops from '../tensor/ops.js';
import type { DType } from '../tensor/dtype.js';
import { sameShape, shapeString, type Shape } from '../tensor/shape.js';
import { Tensor } from '../tensor/tensor.js';
import { writeFileAtomic } from '../util/fs.js';
import { CompiledDecoding, CompiledSeq2Seq } from './compiled_decoding.js';
import { exportOnnx, type ExportOnnxOptions } from './export_onnx.js';
import {
  applyWeightDtype,
  dequantize,
  prepareQuantizedModel,
  quantizationConfigOf,
  quantizedTensorDtypes,
} from './quantization.js';
import { applyHeadPruning, pruneHeads, type HeadsToPrune } from './pruning.js';
import {
  ConfigError,
  readJsonObject,
  snakeCase,
  type ConfigClass,
  type PretrainedConfig,
} from './configuration_utils.js';
import type { DecoderCache, LayerKV } from '../nn/kv_cache.js';
import type {
  BaseModelOutput,
  CausalLM,
  CausalLMOutput,
  QuestionAnsweringModelOutput,
  Seq2SeqLM,
  TokenClassifierOutput,
} from './modeling_outputs.js';

export class CheckpointError extends Error {}

export interface FromPretrainedOptions extends ResolveModelOptions {
  /** Use this configuration instead of the folder's config.json. */
  config?: PretrainedConfig;
  /** Label set for a classification head (a fresh head is initialised when the checkpoint's differs). */
  numLabels?: number;
  id2label?: Record<number, string>;
  label2id?: Record<string, number>;
  problemType?: 'regression' | 'single_label_classification' | 'multi_label_classification';
  /** Other configuration properties to change (camelCase), e.g. `{ hiddenDropoutProb: 0 }`. */
  configOverrides?: Record<string, unknown>;
  /** Re-initialise weights whose shape differs from the checkpoint's instead of failing (as transformers' option). */
  ignoreMismatchedSizes?: boolean;
  /** Where loading notes go (newly initialised / unused weights); default console.warn. */
  onWarning?: (message: string) => void;
  /**
   * 'auto' (default) keeps F16/BF16 weights in half precision in memory (computed in float32, half the memory);
   * 'float32' widens them on load, as transformers' default torch_dtype does, and dequantizes a quantized
   * checkpoint (see `dequantize` in models/quantization.ts): float layers holding the weights its codes stand for,
   * which can be fine-tuned. 'float16' keeps every float weight as IEEE half bits (F16 ones as stored, others
   * rounded on load as torch's `.half()`, a quantized checkpoint dequantized first; see `narrowToFloat16` in
   * models/quantization.ts): half the memory, still computed in float32.
   */
  dtype?: 'auto' | 'float32' | 'float16';
  /**
   * false leaves the weights in the checkpoint file for a compiled inference session, which reads them itself (the
   * text pipelines load so): each such weight is released (reading it throws an error saying where it is) and listed
   * in `weightsOnDisk`; `readWeightsBack()` reads them. A quantized checkpoint's codes stay too (onnxruntime reads
   * the I8 / U8 bytes as they are, see `codesReadAsStored` in models/compiled.ts), unless `dtype` 'float32' or
   * 'float16' dequantizes them on load. Ignored with `dtype: 'float16'` for float weights the file does not store as
   * F16 (they are rounded in memory). Default true.
   */
  readWeights?: boolean;
}

export interface LoadingInfo {
  /** Weights the checkpoint did not provide, left at their fresh initialisation (e.g. a new classifier head). */
  newlyInitialized: string[];
  /** Checkpoint tensors no weight of the model took. */
  unexpectedKeys: string[];
  /** Weights re-initialised because the checkpoint's shape differed (only with `ignoreMismatchedSizes`). */
  mismatched: Array<{ name: string; checkpoint: Shape; model: Shape }>;
}

interface IncomingTensor {
  /** The checkpoint's own name (before the base-model prefix was aligned), for errors. */
  name: string;
  file: string;
  shape: Shape;
  dtype: DType;
  /** How the file stores it (F16, I64, ...). */
  stored: string;
}

interface LoadPlan {
  info: LoadingInfo;
  /** Checkpoint name (aligned) → the model weight it fills. */
  assignments: Array<[string, Tensor]>;
}

export interface ModelPushOptions extends PushToHubOptions {
  /** The tokenizer to push beside the model; default: the tokenizer files of `sourceDir`; null: none. */
  tokenizer?: { savePretrained(dir: string): Promise<void> } | null;
}

export interface SavePretrainedOptions {
  /** Split model.safetensors into shards of at most this many bytes, with model.safetensors.index.json. */
  maxShardBytes?: number;
}

export interface PreTrainedModelClass<M extends PreTrainedModel = PreTrainedModel> {
  new (config: never): M;
  readonly name: string;
  readonly configClass: ConfigClass;
  readonly baseModelPrefix: string;
}

const GENERATION_CONFIG = 'generation_config.json';
const LOAD_DTYPES: ReadonlyArray<FromPretrainedOptions['dtype']> = ['auto', 'float32', 'float16'];
const LISTED = 10;

function listSome(names: string[]): string {
  return names.length <= LISTED
    ? names.join(', ')
    : `${names.slice(0, LISTED).join(', ')} and ${names.length - LISTED} more`;
}

/** The model's weights in `dir` (model.safetensors, or the shards its index names), headers read, tensors not yet. */
export async function openCheckpoint(dir: string): Promise<SafetensorsReader> {
  const single = join(dir, 'model.safetensors');
  if (existsSync(single)) return SafetensorsReader.open(single);
  const index = join(dir, SAFETENSORS_INDEX);
  if (existsSync(index)) return SafetensorsReader.openIndex(index);
  throw new CheckpointError(
    `${dir}: no model.safetensors or ${SAFETENSORS_INDEX} (attn reads safetensors checkpoints only; convert pytorch_model.bin with save_pretrained(safe_serialization=True))`,
  );
}

export abstract class PreTrainedModel<C extends PretrainedConfig = PretrainedConfig> extends Module {
  /** The configuration class `fromPretrained` reads config.json with. */
  static readonly configClass: ConfigClass;
  /** The base model's field in head models (`bert` in BertForSequenceClassification); '' for none. */
  static readonly baseModelPrefix: string = '';

  readonly config: C;
  /** generation_config.json as read (snake_case), or null; generation reads its defaults from it. */
  generationConfig: GenerationConfig | null = null;
  /** What `fromPretrained` found: newly initialised and unused weights. */
  loadingInfo: LoadingInfo | null = null;
  /** The folder `fromPretrained` read (a local folder or a hub snapshot); `pushToHub` takes the tokenizer from it. */
  sourceDir: string | null = null;
  /**
   * The weights `fromPretrained(…, { readWeights: false })` left in the checkpoint, with where each lies (a tied
   * weight is one tensor); null when every weight was read.
   */
  weightsOnDisk: ReadonlyMap<Tensor, TensorEntry> | null = null;

  constructor(config: C) {
    super();
    this.config = config;
  }

  /**
   * Whether a weight may be absent from a checkpoint and stay freshly initialised (reported, not an error): by
   * default everything outside the base model, i.e. task heads. A missing weight of the base model is an error.
   */
  protected mayBeNewlyInitialized(name: string): boolean {
    const prefix = (this.constructor as PreTrainedModelClass).baseModelPrefix;
    return prefix !== '' && this.hasBaseModelField() && !name.startsWith(`${prefix}.`);
  }

  private hasBaseModelField(): boolean {
    const prefix = (this.constructor as PreTrainedModelClass).baseModelPrefix;
    return [...this.children()].some(([name]) => name === prefix);
  }

  /** Every distinct weight (tied ones once) with all the names it has, in state-dict order. */
  private weightGroups(): Array<{ names: string[]; tensor: Tensor }> {
    const groups = new Map<Tensor, string[]>();
    for (const [name, t] of this.stateDict()) {
      const names = groups.get(t);
      if (names) names.push(name);
      else groups.set(t, [name]);
    }
    return [...groups].map(([tensor, names]) => ({ tensor, names }));
  }

  /**
   * Matches checkpoint tensors (by shape and dtype, before any value is read) to this model's weights by Hugging
   * Face name, adding or removing the base-model prefix when a base checkpoint meets a head model or the reverse. A
   * tied weight loads from whichever of its names the checkpoint has. Missing base-model weights, shape and dtype
   * mismatches are errors naming the file, the tensor and what was expected.
   */
  private planLoad(
    incoming: Map<string, IncomingTensor>,
    file: string,
    options: Pick<FromPretrainedOptions, 'ignoreMismatchedSizes'>,
  ): LoadPlan {
    const info: LoadingInfo = { newlyInitialized: [], unexpectedKeys: [], mismatched: [] };
    const assignments: Array<[string, Tensor]> = [];
    const missing: string[] = [];
    const used = new Set<string>();
    for (const { names, tensor } of this.weightGroups()) {
      const found = names.find((n) => incoming.has(n));
      if (found === undefined) {
        if (names.some((n) => this.mayBeNewlyInitialized(n))) info.newlyInitialized.push(names[0]!);
        else missing.push(names[0]!);
        continue;
      }
      const source = incoming.get(found)!;
      used.add(found);
      if (!sameShape(source.shape, tensor.shape)) {
        if (!options.ignoreMismatchedSizes) {
          throw new CheckpointError(
            `${source.file}: tensor '${source.name}' has shape ${shapeString(source.shape)}, but ${this.constructor.name} expects ${shapeString(tensor.shape)} (check config.json, or pass ignoreMismatchedSizes to re-initialise it)`,
          );
        }
        info.mismatched.push({ name: found, checkpoint: source.shape, model: tensor.shape });
        info.newlyInitialized.push(found);
        continue;
      }
      if (source.dtype !== tensor.dtype) {
        throw new CheckpointError(
          `${source.file}: tensor '${source.name}' is ${source.stored} (${source.dtype}), but ${this.constructor.name} expects ${tensor.dtype} ${shapeString(tensor.shape)}`,
        );
      }
      assignments.push([found, tensor]);
    }
    if (missing.length > 0) {
      throw new CheckpointError(
        `${file}: the checkpoint lacks ${missing.length} tensor(s) that ${this.constructor.name} needs: ${listSome(missing)}`,
      );
    }
    // Another name of an already-loaded tied weight is not "unused".
    const own = this.stateDict();
    info.unexpectedKeys = [...incoming.keys()].filter((name) => !used.has(name) && !own.has(name));
    return { info, assignments };
  }

  /**
   * Copies in-memory checkpoint tensors into this model's weights by Hugging Face name (see `planLoad`); a tensor
   * kept in half precision stays so.
   */
  loadCheckpointTensors(
    tensors: Map<string, Tensor>,
    file: string,
    options: Pick<FromPretrainedOptions, 'ignoreMismatchedSizes'> = {},
  ): LoadingInfo {
    const aligned = new Map(
      [...this.alignedNames(tensors.keys())].map(([name, original]) => [name, tensors.get(original)!]),
    );
    const incoming = new Map(
      [...aligned].map(([name, t]) => [name, { name, file, shape: t.shape, dtype: t.dtype, stored: t.dtype }]),
    );
    const { info, assignments } = this.planLoad(incoming, file, options);
    for (const [name, target] of assignments) {
      const source = aligned.get(name)!;
      if (source.halfStorage) target.replaceStorage(source.halfStorage);
      else if (target.halfStorage) target.replaceStorage(source.data.slice());
      else target.data.set(source.data);
    }
    return info;
  }

  /**
   * Reads an opened checkpoint into this model's weights: every name, shape and dtype is checked against the
   * headers first, then each tensor is read from its file straight into its weight (F16/BF16 kept in half precision
   * unless `dtype: 'float32'`).
   */
  async loadCheckpointFrom(
    reader: SafetensorsReader,
    options: Pick<FromPretrainedOptions, 'ignoreMismatchedSizes' | 'dtype' | 'readWeights'> = {},
  ): Promise<LoadingInfo> {
    const originals = this.alignedNames(reader.entries.keys());
    const incoming = new Map<string, IncomingTensor>();
    for (const [name, original] of originals) {
      const e = reader.entries.get(original)!;
      incoming.set(name, {
        name: original,
        file: e.file,
        shape: e.shape,
        dtype: tensorDtypeOf(e.dtype),
        stored: e.dtype,
      });
    }
    const { info, assignments } = this.planLoad(incoming, reader.file, options);
    const entryOf = (name: string) => reader.entries.get(originals.get(name)!)!;
    // float16 weights stored otherwise are rounded in memory: a compiled session must not read the file's values.
    const staysOnDisk = ([name, target]: [string, Tensor]) =>
      options.readWeights === false &&
      !(options.dtype === 'float16' && target.dtype === 'float32' && entryOf(name).dtype !== 'F16');
    const onDisk = assignments.filter(staysOnDisk);
    if (options.readWeights === false) {
      this.weightsOnDisk = new Map(onDisk.map(([name, target]) => [target, entryOf(name)]));
      this.releaseWeightsOnDisk();
    }
    const kept = new Set(onDisk);
    for (const [name, target] of assignments.filter((a) => !kept.has(a)))
      await reader.readInto(originals.get(name)!, target, { keepHalf: options.dtype !== 'float32' });
    return info;
  }

  /**
   * Checkpoint names as this model calls them (→ the checkpoint's own name): `prefix.` added to a base checkpoint
   * loaded into a head model, stripped from a head checkpoint loaded into a base model.
   */
  private alignedNames(names: Iterable<string>): Map<string, string> {
    const list = [...names];
    const prefix = (this.constructor as PreTrainedModelClass).baseModelPrefix;
    const dotted = `${prefix}.`;
    const checkpointHasPrefix = prefix !== '' && list.some((k) => k.startsWith(dotted));
    const modelHasPrefix = prefix !== '' && this.hasBaseModelField();
    const rename =
      modelHasPrefix && !checkpointHasPrefix
        ? (k: string) => `${dotted}${k}`
        : !modelHasPrefix && checkpointHasPrefix
          ? (k: string) => (k.startsWith(dotted) ? k.slice(dotted.length) : k)
          : (k: string) => k;
    return new Map(list.map((k) => [rename(k), k]));
  }

  /** Reads the weights left on disk (`weightsOnDisk`) back into their tensors, to run op by op or save. */
  readWeightsBack(): void {
    const released = [...(this.weightsOnDisk ?? [])].filter(([t]) => t.isDisposed);
    const values = readTensorsSync(released.map(([, e]) => e));
    released.forEach(([t], i) => t.restore(values[i]!.halfStorage ?? values[i]!.storage));
  }

  /** Frees the values of the weights in `weightsOnDisk` (a compiled session reads them from there). */
  releaseWeightsOnDisk(): void {
    for (const [t, e] of this.weightsOnDisk ?? []) {
      t.release(
        `is tensor '${e.name}' of ${e.file}, left there for a compiled session (readWeights: false): call readWeightsBack() on the model to run it op by op`,
      );
    }
  }

  /** The tensors to save: each weight once (tied weights under their first name, as transformers keeps them). */
  checkpointTensors(): Map<string, Tensor> {
    return new Map(this.weightGroups().map(({ names, tensor }) => [names[0]!, tensor]));
  }

  /**
   * Writes config.json, model.safetensors (or shards + index) and generation_config.json (when present) into
   * `dir`, each atomically. `fromPretrained(dir)` gives back bit-identical weights.
   */
  async savePretrained(dir: string, options: SavePretrainedOptions = {}): Promise<void> {
    const config = this.config.withOverrides({ architectures: [this.constructor.name] });
    // The layers say whether the model is quantized, not the config it was loaded with: after dequantize() the
    // loaded quantization_config must go (undefined drops the field). An n-gram head (config.json ngram_head,
    // models/ngram) belongs to the folder it was trained beside, not to the transformer, so it is not written either
    // (attn quantize carries it over; a fine-tuned model would be a different ensemble member).
    Object.assign(config, { quantizationConfig: quantizationConfigOf(this) ?? undefined, ngramHead: undefined });
    await config.saveTo(dir);
    const tensors = this.checkpointTensors();
    const tensorDtypes = quantizedTensorDtypes(this, tensors);
    await saveShardedSafetensors(dir, tensors, {
      metadata: { format: 'pt' },
      maxShardBytes: options.maxShardBytes,
      tensorDtypes,
    });
    if (this.generationConfig)
      await writeFileAtomic(
        join(dir, GENERATION_CONFIG),
        JSON.stringify(this.generationConfig.toJSON(), null, 2) + '\n',
      );
  }

  /**
   * Decodes from a causal or encoder–decoder model (greedy, sampling, beam search; see src/generation), with
   * defaults from generation_config.json.
   */
  generate(
    this: PreTrainedModel & GenerativeModel,
    inputIds: Tensor | number[][],
    options: GenerateOptions = {},
  ): GenerateOutput {
    return generate(this, inputIds, options);
  }

  /**
   * Removes attention heads by layer, as transformers' `prune_heads` (`{ 0: [1, 2] }`): the layers shrink and
   * config.json records `pruned_heads` on save, so transformers and attn load the smaller model (models/pruning.ts).
   */
  pruneHeads(heads: HeadsToPrune): void {
    pruneHeads(this, heads);
  }

  /**
   * Writes the forward pass as one ONNX graph with the weights (onnx/model.onnx), config.json and, when given, the
   * tokenizer: the folder transformers.js loads (see models/export_onnx.ts). Encoder models only.
   */
  exportOnnx(dir: string, options: ExportOnnxOptions = {}): Promise<string> {
    return exportOnnx(this, dir, options);
  }

  /**
   * For generation: this model with its passes compiled (see models/compiled_decoding.ts): a causal LM's prompt and
   * one-token cached steps; an encoder–decoder's encoder, first decoder pass and cached steps when its weights were
   * left in the checkpoint (`readWeights: false`), so that JS holds none. An encoder–decoder whose weights JS holds
   * runs op by op, as before: compiled, an int8 one's text can differ (the shipped translation model's on 40 of 1,014
   * Multi30k sentences: an 8-bit activation step rounded the other way, see QUANTIZED_TOLERANCE in
   * models/compiled.ts). Compiled is the faster path now that sessions do not spin (that model: 34.6 s against 67 s
   * op by op); compiling float encoder–decoders too was not measured.
   */
  compiledDecoding(this: PreTrainedModel & Seq2SeqLM): Seq2SeqLM;
  compiledDecoding(this: PreTrainedModel & CausalLM): CausalLM;
  compiledDecoding(this: PreTrainedModel & (CausalLM | Seq2SeqLM)): CausalLM | Seq2SeqLM {
    if (!('encode' in this)) return new CompiledDecoding(this);
    return this.weightsOnDisk === null ? this : new CompiledSeq2Seq(this);
  }

  /**
   * Commits the model to a hub repo with a model card (see src/hub/push.ts): config, weights and generation config,
   * and beside them the tokenizer (`options.tokenizer`, else the tokenizer files of the folder the model was loaded
   * from), so that `pipeline(task, repoId)` runs from the repo alone. `tokenizer: null` pushes no tokenizer.
   */
  async pushToHub(repoId: string, options: ModelPushOptions = {}): Promise<PushResult> {
    const { tokenizer, ...pushOptions } = options;
    return pushSaved(
      repoId,
      async (dir) => {
        await this.savePretrained(dir);
        if (tokenizer) await tokenizer.savePretrained(dir);
        else if (tokenizer === undefined && this.sourceDir !== null) await copyTokenizerFiles(this.sourceDir, dir);
      },
      pushOptions,
    );
  }

  /** Loads a model from a local folder or a hub repo id (see `loadPretrained`). */
  static async fromPretrained<M extends PreTrainedModel>(
    this: PreTrainedModelClass<M>,
    nameOrDir: string,
    options: FromPretrainedOptions = {},
  ): Promise<M> {
    return loadPretrained(this, nameOrDir, options);
  }
}

/**
 * Loads a model from a local folder or a hub repo id: builds it from config.json (with the label and other
 * overrides applied), fills its weights from the checkpoint, reads generation_config.json, and returns it in
 * eval mode. Weights the checkpoint lacks outside the base model (a new task head) are initialised fresh and
 * listed in a warning and in `loadingInfo`.
 */
export async function loadPretrained<M extends PreTrainedModel>(
  cls: PreTrainedModelClass<M>,
  nameOrDir: string,
  options: FromPretrainedOptions = {},
): Promise<M> {
  return loadFromDir(cls, await resolveModelDir(nameOrDir, options), options, nameOrDir);
}

/** `loadPretrained` for a folder already resolved (the Auto classes and pipelines resolve a name once per load). */
export async function loadFromDir<M extends PreTrainedModel>(
  cls: PreTrainedModelClass<M>,
  dir: string,
  options: FromPretrainedOptions = {},
  nameOrDir: string = dir,
): Promise<M> {
  if (options.dtype !== undefined && !LOAD_DTYPES.includes(options.dtype)) {
    throw new CheckpointError(
      `${nameOrDir}: dtype '${String(options.dtype)}' is not one of ${LOAD_DTYPES.join(', ')} (torch_dtype's names)`,
    );
  }
  const configPath = join(dir, 'config.json');
  const baseConfig =
    options.config ?? new cls.configClass(await readJsonObject(configPath, 'model configuration'), configPath);
  const config = applyConfigOptions(baseConfig, options);
  const reader = await openCheckpoint(dir);
  let model: M;
  try {
    checkConfigFitsCheckpoint(config, reader);
    const deferred = deferRandomInit(() => new cls(config as never));
    model = deferred.result;
    const built = [...model.stateDict().values()].map((t) => t.data);
    if (Object.keys(config.prunedHeads).length > 0) applyHeadPruning(model, config.prunedHeads);
    prepareQuantizedModel(model, config, cls.baseModelPrefix);
    // Float weights that pruning or quantization replaced are never drawn (nor touched, so never resident).
    const current = new Set([...model.stateDict().values()].map((t) => t.data));
    const replaced = built.filter((data) => !current.has(data));
    // The postponed random fills are keyed by the buffers the weights have now; loading may swap in others.
    const state = model.stateDict();
    const buffers = new Map([...state.values()].map((t) => [t, t.data]));
    // Dequantizing on load (float32, float16) needs the codes.
    const dequantizes = options.dtype === 'float32' || options.dtype === 'float16';
    const readWeights = options.readWeights !== false || (dequantizes && quantizationConfigOf(model) !== null);
    const info = await model.loadCheckpointFrom(reader, { ...options, readWeights });
    // By weight, not by name: a tied weight has several names and one buffer.
    const fresh = new Set(info.newlyInitialized.map((name) => state.get(name)));
    deferred.initialize(new Set([...[...buffers].filter(([t]) => !fresh.has(t)).map(([, data]) => data), ...replaced]));
    if (options.dtype === 'float32') dequantize(model);
    if (options.dtype === 'float16') applyWeightDtype(model, 'fp16', dir);
    model.loadingInfo = info;
    model.sourceDir = dir;
  } finally {
    await reader.close();
  }
  const info = model.loadingInfo!;
  const warn = options.onWarning ?? ((m: string) => console.warn(m));
  if (info.newlyInitialized.length > 0) {
    warn(
      `Some weights of ${cls.name} were not initialized from the model checkpoint at ${nameOrDir} and are newly initialized: ${listSome(info.newlyInitialized)}. You should probably train this model on a downstream task to use it for predictions and inference.`,
    );
  }
  if (info.unexpectedKeys.length > 0) {
    warn(
      `Some weights of the model checkpoint at ${nameOrDir} were not used when initializing ${cls.name}: ${listSome(info.unexpectedKeys)}`,
    );
  }
  const generationPath = join(dir, GENERATION_CONFIG);
  if (existsSync(generationPath))
    model.generationConfig = GenerationConfig.fromJSON(
      await readJsonObject(generationPath, 'generation configuration'),
    );
  model.eval();
  return model;
}

/** Config fields that size a model, by the property each configuration class reads them into. */
const WIDTH_FIELDS = ['hiddenSize', 'nEmbd', 'dModel', 'dim'];
const LAYER_FIELDS = [
  'numHiddenLayers',
  'nLayer',
  'numLayers',
  'nLayers',
  'encoderLayers',
  'decoderLayers',
  'numDecoderLayers',
];
/** Room for architectures whose layers hold less than hidden_size² each, and for tiny test models. */
const PARAMETER_SLACK = 4;
const PARAMETER_FLOOR = 1_000_000;

/**
 * Refuses a config whose model could not be the checkpoint's before anything is allocated: every transformer layer
 * holds at least hidden_size² values and the embedding vocab_size × hidden_size, so a config implying far more
 * than the file holds (`num_hidden_layers: 10000000`, `hidden_size: 1e9`) is an error naming the field.
 */
export function checkConfigFitsCheckpoint(config: PretrainedConfig, reader: SafetensorsReader): void {
  const numberField = (name: string): number | undefined => {
    const value: unknown = Reflect.get(config, name);
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  };
  const pick = (names: string[]): Array<[string, number]> =>
    names.flatMap((n): Array<[string, number]> => (numberField(n) === undefined ? [] : [[n, numberField(n)!]]));
  const widths = pick(WIDTH_FIELDS);
  if (widths.length === 0) return;
  const [widthField, width] = widths[0]!;
  const layers = pick(LAYER_FIELDS).reduce((n, [, v]) => n + v, 0);
  const vocab = numberField('vocabSize') ?? 0;
  const implied = layers * width * width + vocab * width;
  const held = reader.totalElements;
  if (implied <= PARAMETER_SLACK * held + PARAMETER_FLOOR) return;
  const checkpointLayers = layerCount(reader.entries.keys());
  const layerFields = pick(LAYER_FIELDS);
  const culprit =
    layerFields.length > 0 && checkpointLayers > 0 && layers > checkpointLayers
      ? `field '${snakeCase(layerFields[0]![0])}' is ${layerFields[0]![1]} while the checkpoint holds ${checkpointLayers} layer(s)`
      : vocab * width > layers * width * width
        ? `fields 'vocab_size' ${vocab} × '${snakeCase(widthField)}' ${width} need ${(vocab * width).toExponential(2)} values`
        : `field '${snakeCase(widthField)}' is ${width}`;
  throw new ConfigError(
    `${config.source}: ${culprit}: this config implies at least ${implied.toExponential(2)} parameters, but ${reader.file} holds ` +
      `${held.toExponential(2)}; the config does not describe these weights`,
  );
}

/** Layers in a checkpoint (all stacks), from names like `model.layers.11.…`, `encoder.layer.0.…`, `h.3.…`. */
function layerCount(names: Iterable<string>): number {
  const layers = new Set<string>();
  for (const name of names) {
    const match = /(?:^|\.)(?:layers?|h|block)\.(\d+)\./.exec(name);
    if (match) layers.add(`${name.slice(0, match.index)}#${match[1]}`);
  }
  return layers.size;
}

/** The configuration with `fromPretrained`'s label options and overrides applied. */
export function applyConfigOptions<C extends PretrainedConfig>(config: C, options: FromPretrainedOptions): C {
  const overrides: Record<string, unknown> = { ...options.configOverrides };
  if (options.id2label) {
    overrides['id2label'] = options.id2label;
    overrides['label2id'] =
      options.label2id ?? Object.fromEntries(Object.entries(options.id2label).map(([k, v]) => [v, Number(k)]));
  } else if (options.label2id) {
    overrides['label2id'] = options.label2id;
    overrides['id2label'] = Object.fromEntries(Object.entries(options.label2id).map(([k, v]) => [v, k]));
  }
  if (options.problemType) overrides['problemType'] = options.problemType;
  const configured = Object.keys(overrides).length > 0 ? config.withOverrides(overrides) : config;
  if (options.numLabels !== undefined && !options.id2label && !options.label2id) {
    const copy = configured === config ? config.withOverrides({}) : configured;
    copy.numLabels = options.numLabels;
    return copy;
  }
  if (options.numLabels !== undefined && options.numLabels !== configured.numLabels) {
    throw new ConfigError(
      `fromPretrained: numLabels ${options.numLabels} disagrees with the ${configured.numLabels} labels of id2label/label2id`,
    );
  }
  return configured;
}

// ---- helpers every architecture's forward pass shares ----

/** Errors when `length` positions (cached + new) exceed the model's context window. */
export function checkContextWindow(length: number, maxPositions: number, model: string, field: string): void {
  if (length > maxPositions) {
    throw new RangeError(
      `${model}: ${length} positions (prompt plus cached tokens) exceed the context window of ${maxPositions} (config ${field})`,
    );
  }
}

/** Default positions (nn/positional.ts), re-exported where the model files have always found them. */
export { defaultPositionIds } from '../nn/positional.js';

/** transformers' causal LM loss: logits[:, :-1] against labels[:, 1:], mean cross-entropy over labels != -100. */
export function causalLMLoss(logits: Tensor, labels: Tensor): Tensor {
  const [b, t, v] = logits.shape as [number, number, number];
  if (labels.dtype !== 'int32' || labels.rank !== 2 || labels.shape[0] !== b || labels.shape[1] !== t) {
    throw new RangeError(
      `labels must be int32 (batch, tokens) = [${b}, ${t}] like inputIds, got ${labels.dtype} ${shapeString(labels.shape)}`,
    );
  }
  const shiftedLogits = ops.reshape(ops.slice(logits, 1, 0, t - 1), [b * (t - 1), v]);
  const shiftedLabels = ops.reshape(ops.slice(labels, 1, 1), [b * (t - 1)]);
  return F.crossEntropy(shiftedLogits, shiftedLabels, { ignoreIndex: -100 });
}

/**
 * Sequence classification loss by `config.problemType`, inferred as transformers does when unset: one label →
 * regression (MSE); int32 labels → single-label cross-entropy; float labels → multi-label BCE with logits.
 */
export function sequenceClassificationLoss(logits: Tensor, labels: Tensor, config: PretrainedConfig): Tensor {
  const numLabels = logits.shape[logits.rank - 1]!;
  const problem =
    config.problemType ??
    (numLabels === 1
      ? 'regression'
      : labels.dtype === 'int32'
        ? 'single_label_classification'
        : 'multi_label_classification');
  switch (problem) {
    case 'regression': {
      const target = labels.dtype === 'float32' ? labels : ops.cast(labels, 'float32');
      return numLabels === 1
        ? F.mseLoss(ops.reshape(logits, [-1]), ops.reshape(target, [-1]))
        : F.mseLoss(logits, target);
    }
    case 'single_label_classification':
      return F.crossEntropy(ops.reshape(logits, [-1, numLabels]), ops.reshape(labels, [-1]));
    case 'multi_label_classification': {
      // Stable BCE with logits: max(x, 0) - x·y + log(1 + exp(-|x|)).
      const y = labels.dtype === 'float32' ? labels : ops.cast(labels, 'float32');
      const perLabel = ops.add(
        ops.sub(ops.relu(logits), ops.mul(logits, y)),
        ops.log(ops.add(ops.exp(ops.neg(ops.abs(logits))), 1)),
      );
      return ops.mean(perLabel);
    }
    default:
      throw new ConfigError(
        `${config.source}: problem_type '${problem}' is not one of regression, single_label_classification, multi_label_classification`,
      );
  }
}

export interface LayerOutput {
  hidden: Tensor;
  present?: LayerKV;
  weights?: Tensor;
}

export interface StackOptions {
  pastKeyValues?: DecoderCache | null;
  useCache?: boolean;
  outputHiddenStates?: boolean;
  outputAttentions?: boolean;
}

export interface StackOutput {
  lastHiddenState: Tensor;
  pastKeyValues?: DecoderCache;
  hiddenStates?: Tensor[];
  attentions?: Tensor[];
}

/**
 * Runs a stack of layers, collecting what was asked for as transformers does: `hiddenStates` holds each layer's
 * input, then the final output after `finalNorm` (so the last entry is post-norm for pre-LN decoders).
 */
export function runLayers<L>(
  layers: Iterable<L>,
  input: Tensor,
  run: (layer: L, hidden: Tensor, past: LayerKV | null) => LayerOutput,
  options: StackOptions,
  finalNorm: (x: Tensor) => Tensor = (x) => x,
): StackOutput {
  const hiddenStates: Tensor[] = [];
  const attentions: Tensor[] = [];
  const presents: LayerKV[] = [];
  let hidden = input;
  let i = 0;
  for (const layer of layers) {
    if (options.outputHiddenStates) hiddenStates.push(hidden);
    const out = run(layer, hidden, options.pastKeyValues?.[i++] ?? null);
    hidden = out.hidden;
    if (out.present) presents.push(out.present);
    if (options.outputAttentions && out.weights) attentions.push(out.weights);
  }
  hidden = finalNorm(hidden);
  if (options.outputHiddenStates) hiddenStates.push(hidden);
  return {
    lastHiddenState: hidden,
    pastKeyValues: options.useCache ? presents : undefined,
    hiddenStates: options.outputHiddenStates ? hiddenStates : undefined,
    attentions: options.outputAttentions ? attentions : undefined,
  };
}

/** A causal LM's output from its base model's: logits from the LM head, and the shifted loss when labels are given. */
export function causalLMOutput(
  base: StackOutput,
  lmHead: { forward(x: Tensor): Tensor },
  labels?: Tensor | null,
): CausalLMOutput {
  const logits = lmHead.forward(base.lastHiddenState); // (B, T, V)
  return {
    logits,
    loss: labels ? causalLMLoss(logits, labels) : undefined,
    pastKeyValues: base.pastKeyValues,
    hiddenStates: base.hiddenStates,
    attentions: base.attentions,
  };
}

/** A token classifier's output from per-token logits (B, T, numLabels): mean cross-entropy over labels != -100. */
export function tokenClassifierOutput(
  base: BaseModelOutput,
  logits: Tensor,
  labels?: Tensor | null,
): TokenClassifierOutput {
  const numLabels = logits.shape[2]!;
  const loss = labels
    ? F.crossEntropy(ops.reshape(logits, [-1, numLabels]), ops.reshape(labels, [-1]), { ignoreIndex: -100 })
    : undefined;
  return { logits, loss, hiddenStates: base.hiddenStates, attentions: base.attentions };
}

/**
 * An extractive QA head's output from per-token (start, end) logits (B, T, 2). The loss is transformers': the mean
 * of the start and end cross-entropies, positions clamped to [0, T] and T ignored (an answer cut off by truncation).
 */
export function questionAnsweringOutput(
  base: BaseModelOutput,
  logits: Tensor,
  startPositions?: Tensor | null,
  endPositions?: Tensor | null,
): QuestionAnsweringModelOutput {
  const t = logits.shape[1]!;
  const startLogits = ops.squeeze(ops.slice(logits, -1, 0, 1), -1); // (B, T)
  const endLogits = ops.squeeze(ops.slice(logits, -1, 1, 2), -1); // (B, T)
  let loss: Tensor | undefined;
  if (startPositions && endPositions) {
    const clamped = (positions: Tensor) =>
      new Tensor(
        Int32Array.from(positions.data, (p) => Math.min(Math.max(p, 0), t)),
        [positions.shape[0]!],
      );
    const startLoss = F.crossEntropy(startLogits, clamped(startPositions), { ignoreIndex: t });
    const endLoss = F.crossEntropy(endLogits, clamped(endPositions), { ignoreIndex: t });
    loss = ops.mul(ops.add(startLoss, endLoss), 0.5);
  }
  return { startLogits, endLogits, loss, hiddenStates: base.hiddenStates, attentions: base.attentions };
}
