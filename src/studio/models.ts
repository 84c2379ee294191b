/**
 * The model work behind the Playground and Attention pages, done with attn's own APIs: `pipeline()` for tasks,
 * a base model's `outputAttentions` for attention maps, and the config's positional scheme for position tables.
 * Loaded models are kept (a few, least recently used dropped) so that trying sentence after sentence is quick; work
 * runs one request at a time, as the CPU backend would only interleave them slower.
 */
import { Tensor } from '../tensor/tensor.js';
import { inference, PipelineInputError, type Pipeline } from '../pipelines/base.js';
import { pipeline, type TextGenerationPipeline } from '../pipelines/index.js';
import type { BaseModel } from '../models/modeling_outputs.js';
import { loadForTask, ModelLoadError, readModelConfig, resolveModel, type LoadedModel } from '../pipelines/load.js';
import { positionTable, type PositionTable } from './positions.js';

/** Longest sentence the Attention page draws: a 64 × 64 map per head is already small print. */
export const MAX_ATTENTION_TOKENS = 64;

export interface AttentionMaps {
  model: string;
  modelType: string;
  /** The tokens as the tokenizer spells them, special tokens included. */
  tokens: string[];
  layers: number;
  heads: number;
  /** (layers, heads, T, T): row = query token, column = key token; each row sums to 1. */
  weights: number[][][][];
  /** Set when the sentence was cut to MAX_ATTENTION_TOKENS. */
  note?: string;
}

/** What a base model's forward pass gives back when asked for its attention weights. */
interface AttentionOutput {
  attentions?: Tensor[]; // per layer (B, heads, T, T)
}

interface AttentionModel {
  forward(inputs: { inputIds: Tensor; attentionMask: Tensor; outputAttentions: boolean }): AttentionOutput;
}

/** A map that forgets its least recently used entry beyond `capacity`, handing it to `evict`. */
class RecentlyUsed<V> {
  private readonly entries = new Map<string, V>();

  constructor(
    private readonly capacity: number,
    private readonly evict: (value: V) => void,
  ) {}

  get(key: string, create: () => V): V {
    const found = this.entries.get(key);
    if (found !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, found);
      return found;
    }
    const value = create();
    this.entries.set(key, value);
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.capacity) break;
      this.entries.delete(oldest);
      this.evict(old);
    }
    return value;
  }

  delete(key: string): void {
    this.entries.delete(key);
  }

  clear(): void {
    for (const value of this.entries.values()) this.evict(value);
    this.entries.clear();
  }
}

function freeWeights(loaded: LoadedModel): void {
  for (const [, tensor] of loaded.model.stateDict()) tensor.dispose();
}

const rounded = (x: number) => Math.round(x * 1e4) / 1e4;

export class ModelHost {
  private readonly pipelines = new RecentlyUsed<Promise<Pipeline>>(
    3,
    (p) =>
      void p.then(
        (loaded) => loaded.dispose(),
        () => {},
      ),
  );
  private readonly baseModels = new RecentlyUsed<Promise<LoadedModel<BaseModel>>>(
    2,
    (p) => void p.then(freeWeights, () => {}),
  );
  private queue: Promise<unknown> = Promise.resolve();

  /** Runs `work` after every earlier request's work has finished. */
  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const result = this.queue.then(work);
    this.queue = result.catch(() => {});
    return result;
  }

  /** A cached load; a failed one is forgotten so that the next request tries again (the hub may be back). */
  private cached<V>(cache: RecentlyUsed<Promise<V>>, key: string, load: () => Promise<V>): Promise<V> {
    const loading = cache.get(key, load);
    loading.catch(() => cache.delete(key));
    return loading;
  }

  private pipelineFor(task: string, model: string | undefined): Promise<Pipeline> {
    return this.cached(this.pipelines, `${task}\0${model ?? ''}`, () => pipeline(task, model, { onWarning: () => {} }));
  }

  /** `pipeline(task, model)(text, options)`; no model means the task's default. */
  run(task: string, model: string | undefined, text: string, options: Record<string, unknown>): Promise<unknown> {
    return this.exclusive(async () => {
      const pipe = await this.pipelineFor(task, model);
      return pipe.invoke(text, options);
    });
  }

  /** Text generation with each new piece of text handed to `onText` as it is decoded. */
  generate(
    model: string | undefined,
    prompt: string,
    options: Record<string, unknown>,
    onText: (text: string) => void,
  ): Promise<string> {
    return this.exclusive(async () => {
      const generator = (await this.pipelineFor('text-generation', model)) as TextGenerationPipeline;
      const [result] = await generator(prompt, { ...options, onText });
      return result!.generated_text;
    });
  }

  /** The base model (no head) of a folder, installed name or hub repo id, with its tokenizer. */
  private baseModel(name: string): Promise<LoadedModel<BaseModel>> {
    return this.cached(this.baseModels, name, async () => {
      const dir = await resolveModel(name);
      return loadForTask('attention maps', dir, 'base', await readModelConfig(dir));
    });
  }

  /** Every layer's and head's attention weights for `text`. */
  attention(name: string, text: string): Promise<AttentionMaps> {
    if (text.trim() === '')
      return Promise.reject(new PipelineInputError('the sentence is empty; type some text to see its attention'));
    return this.exclusive(async () => {
      const { config, model, tokenizer } = await this.baseModel(name);
      let ids = tokenizer.encodeIds(text);
      const note =
        ids.length > MAX_ATTENTION_TOKENS
          ? `the sentence is ${ids.length} tokens long; its first ${MAX_ATTENTION_TOKENS} are shown`
          : undefined;
      ids = ids.slice(0, MAX_ATTENTION_TOKENS);
      const t = ids.length;
      const noMaps = new ModelLoadError(
        `model '${name}' (${config.modelType}) gives no self-attention weights from its base model; attn's encoder–decoder models report cross-attention only, so pick an encoder or decoder-only model`,
      );
      // Encoder–decoder base models have no forward of their own (their encoder and decoder do).
      if (typeof (model as Partial<AttentionModel>).forward !== 'function') throw noMaps;
      const perLayer = inference(() => {
        const inputIds = Tensor.from(ids, [1, t], 'int32');
        const attentionMask = Tensor.from(new Array<number>(t).fill(1), [1, t], 'int32');
        const out = model.forward({ inputIds, attentionMask, outputAttentions: true });
        return out.attentions?.map((layer) => ({ heads: layer.shape[1]!, values: Array.from(layer.data, rounded) }));
      });
      if (perLayer === undefined || perLayer.length === 0) throw noMaps;
      const weights = perLayer.map(({ heads, values }) =>
        Array.from({ length: heads }, (_, h) =>
          Array.from({ length: t }, (_, q) => values.slice((h * t + q) * t, (h * t + q + 1) * t)),
        ),
      );
      return {
        model: name,
        modelType: config.modelType,
        tokens: tokenizer.convertIdsToTokens(ids) as string[],
        layers: weights.length,
        heads: weights[0]!.length,
        weights,
        note,
      };
    });
  }

  /** The model's positional encodings for its first `count` positions (see positions.ts). */
  positions(name: string, count: number): Promise<PositionTable> {
    return this.exclusive(async () => {
      const config = await readModelConfig(await resolveModel(name));
      return positionTable(config, async () => (await this.baseModel(name)).model, count);
    });
  }

  /** Frees every loaded model. */
  dispose(): void {
    this.pipelines.clear();
    this.baseModels.clear();
  }
}
