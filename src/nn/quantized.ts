/**
 * Quantized layers: a Linear or Embedding whose weight is kept as integer codes plus float scales (see
 * backends/reference/quantized.ts for the layouts). State-dict names follow the float layer's, so a quantized
 * checkpoint is the float one with `<layer>.weight` replaced by codes and `<layer>.weight_scale` added:
 *
 *   int8  `weight` (out, in) codes in [-127, 127], `weight_scale` (out): symmetric, per output channel (per row for
 *         an embedding, which is the same thing for a tied LM head).
 *   q4    `weight` (out, in/32, 16) bytes of two 4-bit codes (low nibble first, zero point 8), `weight_scale`
 *         (out, in/32): onnxruntime's MatMulNBits layout.
 *
 * GPT-2's Conv1D, whose float weight is (in, out), is quantized as the Linear with the transposed weight: the same
 * layouts. In memory the codes are int32 tensors (attn has no 8-bit dtype); the checkpoint stores them as I8 / U8.
 * Loaded with `readWeights: false` (the text pipelines), they stay in the file and onnxruntime reads those bytes.
 */
import { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import { Module } from './module.js';
import type { Parameter } from './module.js';

export type QuantScheme = 'int8' | 'q4';

/** Block size of q4 weights: every 32 input features share a scale (MatMulNBits' usual block). */
export const Q4_BLOCK = 32;

/** Codes and scales of a float (rows, cols) weight. */
export interface QuantizedWeight {
  codes: Int32Array;
  scales: Float32Array;
}

/** Symmetric int8, one scale per row: code = round(w / scale), scale = max|row| / 127. */
export function quantizeInt8Rows(w: Float32Array, rows: number, cols: number): QuantizedWeight {
  const codes = new Int32Array(rows * cols);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    for (let c = 0; c < cols; c++) max = Math.max(max, Math.abs(w[r * cols + c]!));
    const scale = max === 0 ? 1 : max / 127;
    scales[r] = scale;
    for (let c = 0; c < cols; c++) codes[r * cols + c] = Math.round(w[r * cols + c]! / scales[r]!);
  }
  return { codes, scales };
}

/**
 * 4-bit, one scale per block of `Q4_BLOCK` columns, zero point 8 (as MatMulNBits without zero points): the scale
 * maps the block's largest magnitude to -8 (the one code with no positive twin), so its sign keeps that end exact.
 */
export function quantizeQ4Blocks(w: Float32Array, rows: number, cols: number): QuantizedWeight {
  if (cols % Q4_BLOCK !== 0)
    throw new RangeError(`q4: ${cols} input features are not a multiple of the block size ${Q4_BLOCK}`);
  const blocks = cols / Q4_BLOCK;
  const codes = new Int32Array((rows * cols) / 2);
  const scales = new Float32Array(rows * blocks);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const start = r * cols + b * Q4_BLOCK;
      let extreme = 0;
      for (let i = 0; i < Q4_BLOCK; i++) if (Math.abs(w[start + i]!) > Math.abs(extreme)) extreme = w[start + i]!;
      const scale = extreme === 0 ? 1 : Math.fround(extreme / -8);
      scales[r * blocks + b] = scale;
      for (let i = 0; i < Q4_BLOCK; i++) {
        const code = Math.max(0, Math.min(15, Math.round(w[start + i]! / scale) + 8));
        const at = (start + i) >> 1;
        codes[at] = codes[at]! | (i % 2 === 0 ? code : code << 4);
      }
    }
  }
  return { codes, scales };
}

/** The codes' and scales' tensor shapes for a (rows, cols) weight. */
export function quantizedShapes(
  scheme: QuantScheme,
  rows: number,
  cols: number,
): { codes: number[]; scales: number[] } {
  return scheme === 'int8'
    ? { codes: [rows, cols], scales: [rows] }
    : { codes: [rows, cols / Q4_BLOCK, Q4_BLOCK / 2], scales: [rows, cols / Q4_BLOCK] };
}

/** Codes and scales as tensors (zeros when no weight is given: a layer about to load a checkpoint). */
export function quantizedTensors(
  scheme: QuantScheme,
  rows: number,
  cols: number,
  weight?: Float32Array,
): { codes: Tensor; scales: Tensor } {
  const shapes = quantizedShapes(scheme, rows, cols);
  const q = weight
    ? (scheme === 'int8' ? quantizeInt8Rows : quantizeQ4Blocks)(weight, rows, cols)
    : {
        codes: new Int32Array(shapes.codes.reduce((n, d) => n * d, 1)),
        scales: new Float32Array(shapes.scales.reduce((n, d) => n * d, 1)),
      };
  return { codes: new Tensor(q.codes, shapes.codes), scales: new Tensor(q.scales, shapes.scales) };
}

/**
 * A float layer y = x W + b keeping W as (in, out), as GPT-2's Conv1D (OpenAI's TensorFlow layout): quantized as the
 * Linear whose weight is Wᵀ. `weightLayout` marks it, so layers below models need not know the model that has it.
 */
export interface InputMajorLinear extends Module {
  readonly weightLayout: 'input-major';
  readonly inFeatures: number;
  readonly outFeatures: number;
  weight: Parameter; // (in, out)
  bias: Parameter | null;
}

export type InputMajorLinearClass = new (inFeatures: number, outFeatures: number) => InputMajorLinear;

/** y = x Wᵀ + b with W quantized; runs onnxruntime's integer kernels (inference only). */
export class QuantizedLinear extends Module {
  bias: Parameter | null;

  /**
   * `inputMajorClass`: the class of the float layer it replaced when that kept its weight (in, out) (GPT-2's
   * Conv1D), which dequantizing builds back so a float checkpoint keeps the model's own layout; null for a Linear.
   */
  constructor(
    readonly scheme: QuantScheme,
    readonly inFeatures: number,
    readonly outFeatures: number,
    weights: { codes: Tensor; scales: Tensor },
    bias: Parameter | null,
    readonly inputMajorClass: InputMajorLinearClass | null = null,
  ) {
    super();
    this.registerBuffer('weight', weights.codes);
    this.registerBuffer('weight_scale', weights.scales);
    this.bias = bias;
    this.training = false;
  }

  get codes(): Tensor {
    return this.buffer('weight');
  }

  get scales(): Tensor {
    return this.buffer('weight_scale');
  }

  forward(x: Tensor): Tensor {
    return ops.quantizedMatmul(x, this.codes, this.scales, this.bias, {
      scheme: this.scheme,
      blockSize: Q4_BLOCK,
      inFeatures: this.inFeatures,
      outFeatures: this.outFeatures,
    });
  }
}

/** A lookup table stored as int8 codes with one scale per row; rows are dequantized as they are looked up. */
export class QuantizedEmbedding extends Module {
  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    weights: { codes: Tensor; scales: Tensor },
  ) {
    super();
    this.registerBuffer('weight', weights.codes);
    this.registerBuffer('weight_scale', weights.scales);
  }

  get codes(): Tensor {
    return this.buffer('weight');
  }

  get scales(): Tensor {
    return this.buffer('weight_scale');
  }

  forward(ids: Tensor): Tensor {
    const rows = ops.cast(ops.indexSelect(this.codes, ids, 0), 'float32'); // (…, D)
    return ops.mul(rows, ops.unsqueeze(ops.indexSelect(this.scales, ids, 0), -1));
  }
}
