/**
 * A hashed character and word n-gram classifier: a linear model over the distinct 1–5-character sequences, words and
 * word pairs of a text (NBSVM-style: Wang & Manning 2012), as fastText's supervised models are on the Hub.
 *
 * It ships beside a transformer classifier as an ensemble member (`ngram_head` in config.json, read by the
 * text-classification pipeline), because on short, noisy reviews a bag of n-grams remembers what a small transformer
 * trained on the same data cannot: on NSMC it beats the Korean default's 2-layer BERT alone (dev 0.876 against
 * 0.867), and their weighted sum beats both (notes/issue-17.md). The transformer in the folder stays a plain
 * BertForSequenceClassification that transformers loads; only attn's pipeline adds the n-grams' logit.
 *
 * The head is binary: its logit is evidence for the label at index 1 over the label at index 0. Features are hashed
 * into a 2^hash_bits table (no vocabulary to keep; colliding n-grams share a weight), stored as int8 codes with a
 * scale per block of 64, which loses nothing measurable (notes/issue-17.md).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  parseSafetensorsHeader,
  SafetensorsError,
  saveSafetensors,
  type SafetensorsDType,
  type TensorEntry,
} from '../../io/safetensors.js';
import { Tensor } from '../../tensor/tensor.js';
import { writeFileAtomic } from '../../util/fs.js';
import { readJsonObject } from '../configuration_utils.js';

export class NgramHeadError extends Error {}

/** The `ngram_head` entry of a classifier's config.json; the weights are NGRAM_HEAD_FILE in the same folder. */
export interface NgramHeadConfig {
  /** Longest character n-gram. */
  max_chars: number;
  /** log2 of the hashed feature table's size. */
  hash_bits: number;
  /** The n-gram logit's share of the ensemble's logit; the transformer's logit difference has 1 − weight. */
  weight: number;
  /**
   * The weighted logit is divided by it before the softmax (default 1): below 1 sharpens scores that averaging two
   * models left under-confident. It changes no label, only the scores a user sees.
   */
  temperature?: number;
}

/** The head's file in a model folder (a fixed name, so that hub downloads know to fetch it: hub/resolve.ts). */
export const NGRAM_HEAD_FILE = 'ngram_head.safetensors';

/** FNV-1a over a string's UTF-16 code units, offset by a feature kind so that character and word n-grams differ. */
function hash(text: string, kind: number): number {
  let h = (2166136261 ^ kind) >>> 0;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The distinct hashed features of one text, as bucket ids below 2^hashBits: its character 1..maxChars-grams after
 * NFKC and whitespace folding (a space marks each end, so n-grams at word edges differ from those inside), its
 * words and its word pairs.
 */
export function ngramFeatures(text: string, maxChars: number, hashBits: number): Int32Array {
  const mask = 2 ** hashBits - 1;
  const padded = ` ${text.normalize('NFKC').replace(/\s+/g, ' ').trim()} `;
  // Where each character (code point) starts in the UTF-16 string, and its end: an n-gram is one substring.
  const starts: number[] = [];
  for (let i = 0; i < padded.length; i += padded.codePointAt(i)! > 0xffff ? 2 : 1) starts.push(i);
  starts.push(padded.length);
  const found = new Set<number>();
  for (let n = 1; n <= maxChars; n++)
    for (let i = 0; i + n < starts.length; i++) found.add(hash(padded.slice(starts[i], starts[i + n]), n) & mask);
  const words = padded.trim().split(' ');
  words.forEach((word, i) => {
    found.add(hash(word, 100) & mask);
    if (i + 1 < words.length) found.add(hash(`${word} ${words[i + 1]}`, 101) & mask);
  });
  return Int32Array.from(found);
}

function checkConfig(config: NgramHeadConfig, where: string): void {
  const whole = (name: keyof NgramHeadConfig, low: number, high: number): void => {
    const value = config[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < low || value > high)
      throw new NgramHeadError(
        `${where}: ngram_head.${name} is ${JSON.stringify(value)}, expected a whole number in ${low}..${high}`,
      );
  };
  whole('max_chars', 1, 16);
  whole('hash_bits', 8, 30);
  if (typeof config.weight !== 'number' || !(config.weight >= 0 && config.weight <= 1))
    throw new NgramHeadError(
      `${where}: ngram_head.weight is ${JSON.stringify(config.weight)}, expected a number in 0..1`,
    );
  const { temperature } = config;
  if (temperature !== undefined && (typeof temperature !== 'number' || !(temperature >= 0.01 && temperature <= 100)))
    throw new NgramHeadError(
      `${where}: ngram_head.temperature is ${JSON.stringify(temperature)}, expected a number in 0.01..100`,
    );
}

export class NgramClassifier {
  /**
   * @param codes each bucket's weight as an int8 code (2^hashBits of them); a bucket no training feature reached is 0
   * @param scales one scale per block of codes: a bucket's weight is its code times its block's scale
   */
  constructor(
    readonly maxChars: number,
    readonly hashBits: number,
    readonly codes: Int8Array,
    readonly scales: Float32Array,
    readonly bias: number,
  ) {
    if (codes.length !== 2 ** hashBits)
      throw new NgramHeadError(`expected 2^${hashBits} = ${2 ** hashBits} codes, got ${codes.length}`);
    const block = codes.length / scales.length;
    if (!Number.isInteger(block) || (block & (block - 1)) !== 0)
      throw new NgramHeadError(
        `${scales.length} scales do not split ${codes.length} codes into blocks of a power of two`,
      );
    this.blockShift = Math.log2(block);
  }

  private readonly blockShift: number;

  /** Quantizes float weights (one per bucket) to int8 codes with a scale per block of `blockSize` (symmetric, absmax). */
  static fromWeights(
    maxChars: number,
    hashBits: number,
    weights: Float32Array,
    bias: number,
    blockSize = 64,
  ): NgramClassifier {
    const codes = new Int8Array(weights.length);
    const scales = new Float32Array(Math.ceil(weights.length / blockSize));
    scales.forEach((_, block) => {
      const [start, end] = [block * blockSize, Math.min((block + 1) * blockSize, weights.length)];
      let largest = 0;
      for (let i = start; i < end; i++) largest = Math.max(largest, Math.abs(weights[i]!));
      const scale = largest / 127 || 1;
      scales[block] = scale;
      for (let i = start; i < end; i++) codes[i] = Math.round(weights[i]! / scale);
    });
    return new NgramClassifier(maxChars, hashBits, codes, scales, bias);
  }

  /** The evidence (a logit) for label 1 over label 0. */
  logit(text: string): number {
    let z = this.bias;
    for (const bucket of ngramFeatures(text, this.maxChars, this.hashBits))
      z += this.codes[bucket]! * this.scales[bucket >>> this.blockShift]!;
    return z;
  }

  /** Writes the table to `dir`/ngram_head.safetensors (int8 codes, float32 scales) and returns the config.json entry for it. */
  async save(dir: string, weight: number, temperature = 1): Promise<NgramHeadConfig> {
    const config: NgramHeadConfig = { max_chars: this.maxChars, hash_bits: this.hashBits, weight, temperature };
    checkConfig(config, dir);
    await saveSafetensors(
      join(dir, NGRAM_HEAD_FILE),
      {
        codes: new Tensor(Int32Array.from(this.codes), [this.codes.length]),
        scales: new Tensor(this.scales, [this.scales.length]),
        bias: new Tensor(Float32Array.of(this.bias), [1]),
      },
      { tensorDtypes: { codes: 'I8' }, metadata: { format: 'attn-ngram' } },
    );
    return config;
  }

  /** The head a model folder's config.json describes; errors name the file and the field or tensor at fault. */
  static async load(dir: string, config: NgramHeadConfig): Promise<NgramClassifier> {
    checkConfig(config, join(dir, 'config.json'));
    const path = join(dir, NGRAM_HEAD_FILE);
    // One read; the int8 codes stay a view into the file's bytes (the generic reader would widen each to int32).
    let bytes: Buffer;
    let entries: Map<string, TensorEntry>;
    try {
      bytes = await readFile(path);
      entries = parseSafetensorsHeader(bytes, path).entries;
    } catch (err) {
      const why = err instanceof SafetensorsError ? err.message : (err as Error).message;
      throw new NgramHeadError(`${path}: the n-gram head that config.json's ngram_head names cannot be read (${why})`);
    }
    const vector = (name: string, dtype: SafetensorsDType): Uint8Array => {
      const e = entries.get(name);
      if (e === undefined || e.dtype !== dtype || e.shape.length !== 1)
        throw new NgramHeadError(
          `${path}: expected a 1-D ${dtype} tensor '${name}', found ${e ? `${e.dtype} [${e.shape.join(', ')}]` : 'none'}`,
        );
      return bytes.subarray(e.begin, e.end);
    };
    const codesBytes = vector('codes', 'I8');
    const codes = new Int8Array(codesBytes.buffer, codesBytes.byteOffset, codesBytes.length);
    // Float tensors are copied out, as their offsets in the file need not be 4-byte aligned (new Uint8Array(view)
    // copies, where a Buffer's slice() would not).
    const floats = (name: string): Float32Array => new Float32Array(new Uint8Array(vector(name, 'F32')).buffer);
    const [scales, bias] = [floats('scales'), floats('bias')];
    try {
      return new NgramClassifier(config.max_chars, config.hash_bits, codes, scales, bias[0]!);
    } catch (err) {
      throw new NgramHeadError(`${path} does not match config.json ngram_head: ${(err as Error).message}`);
    }
  }
}

/** Adds (or replaces) the `ngram_head` entry of `dir`/config.json, keys sorted as transformers writes them. */
export async function writeNgramHeadEntry(dir: string, entry: NgramHeadConfig): Promise<void> {
  const path = join(dir, 'config.json');
  const config = { ...(await readJsonObject(path, 'model configuration')), ngram_head: entry };
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  await writeFileAtomic(path, JSON.stringify(sorted, null, 2) + '\n');
}

/**
 * Copies the n-gram head of the model folder `from` (when its config.json names one) into `to`, whose config.json
 * is already written, and names it there: for a folder re-saved with the same transformer (attn quantize). Returns
 * whether there was one. The head is checked by loading it first, so a broken one is not copied on.
 */
export async function copyNgramHead(from: string, to: string): Promise<boolean> {
  const entry = (await readJsonObject(join(from, 'config.json'), 'model configuration'))['ngram_head'];
  if (entry === undefined || entry === null) return false;
  const head = entry as NgramHeadConfig;
  await NgramClassifier.load(from, head);
  await writeFileAtomic(join(to, NGRAM_HEAD_FILE), await readFile(join(from, NGRAM_HEAD_FILE)));
  await writeNgramHeadEntry(to, head);
  return true;
}
