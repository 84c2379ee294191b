/**
 * Rotary position embeddings (RoPE, Su et al. 2021) in Hugging Face's `rotate_half` layout: each head vector is
 * split into two halves that rotate as pairs (x[i], x[i + D/2]) by the angle position · invFreq[i], with
 * invFreq[i] = theta^(-2i/D). Every `rope_scaling` kind a Llama-family config.json may carry is here:
 * - 'linear' (position interpolation): positions divided by `factor`;
 * - 'dynamic' (dynamic NTK): when a call sees L > maxPositions keys, theta grows to
 *   theta · (factor·L/maxPositions − (factor − 1))^(D/(D−2)), for every position of that call;
 * - 'llama3' (Llama 3.1): long wavelengths divided by `factor`, short ones kept, a smooth blend in between.
 *
 * cos and sin are computed for the asked positions only (no table of maxPositions rows: Llama 3's 131072 × 128
 * would be 134 MB), in float32 steps as transformers does, so angles at long positions round as HF's do.
 * Shapes: B batch, H heads, T tokens, D head size.
 */
import { activeTracer } from '../tensor/engine.js';
import * as ops from '../tensor/ops.js';
import { Tensor } from '../tensor/tensor.js';

export type RopeScaling =
  | { type: 'default' }
  | { type: 'linear'; factor: number }
  /** `originalMaxPositions`: the context the model was trained with; longer calls raise theta. */
  | { type: 'dynamic'; factor: number; originalMaxPositions: number }
  | { type: 'llama3'; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

export class RopeScalingError extends Error {}

const KNOWN_KINDS = "'linear', 'dynamic' or 'llama3'";

/**
 * The `rope_scaling` field of a config.json (`null`, or an object with `type` or `rope_type`), checked, with the
 * file named in errors. `maxPositions` is the config's max_position_embeddings (dynamic's default original context).
 */
export function parseRopeScaling(raw: unknown, maxPositions: number, source: string): RopeScaling {
  if (raw === null || raw === undefined) return { type: 'default' };
  const where = `${source}: rope_scaling ${JSON.stringify(raw)}`;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new RopeScalingError(`${where} must be an object like {"rope_type": "linear", "factor": 2}`);
  const fields = raw as Record<string, unknown>;
  // transformers ≥ 4.43 writes `rope_type`; earlier configs (and many hub files) write `type`.
  const kind = fields['rope_type'] ?? fields['type'];
  const positive = (key: string, fallback?: number): number => {
    const value = fields[key] ?? fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RopeScalingError(`${where}: field '${key}' is ${JSON.stringify(value)}; expected a number > 0`);
    }
    return value;
  };
  switch (kind) {
    case 'default':
      return { type: 'default' };
    case 'linear':
      return { type: 'linear', factor: positive('factor') };
    case 'dynamic':
      return {
        type: 'dynamic',
        factor: positive('factor'),
        originalMaxPositions: positive('original_max_position_embeddings', maxPositions),
      };
    case 'llama3': {
      const scaling = {
        type: 'llama3' as const,
        factor: positive('factor'),
        lowFreqFactor: positive('low_freq_factor'),
        highFreqFactor: positive('high_freq_factor'),
        originalMaxPositions: positive('original_max_position_embeddings'),
      };
      if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
        throw new RopeScalingError(`${where}: high_freq_factor must be larger than low_freq_factor`);
      }
      return scaling;
    }
    default:
      throw new RopeScalingError(
        `${where}: rope type ${JSON.stringify(kind)} is not supported (attn implements ${KNOWN_KINDS})`,
      );
  }
}

/** invFreq[i] = 1 / theta^(2i/D) for i < D/2, in float32 as torch computes `1.0 / (base ** (arange(0, D, 2) / D))`. */
export function inverseFrequencies(headDim: number, theta: number): Float32Array {
  const base = Math.fround(theta);
  return Float32Array.from({ length: headDim / 2 }, (_, i) =>
    Math.fround(1 / Math.fround(base ** Math.fround((2 * i) / headDim))),
  );
}

/**
 * Llama 3.1's frequency rescaling (transformers' `_compute_llama3_parameters`): wavelengths longer than
 * originalMaxPositions / lowFreqFactor are stretched by `factor`, those shorter than originalMaxPositions /
 * highFreqFactor are kept, and those between are blended linearly in originalMaxPositions / wavelength.
 */
export function llama3InverseFrequencies(
  invFreq: Float32Array,
  scaling: Extract<RopeScaling, { type: 'llama3' }>,
): Float32Array {
  const { factor, lowFreqFactor, highFreqFactor, originalMaxPositions } = scaling;
  const lowFreqWavelength = originalMaxPositions / lowFreqFactor;
  const highFreqWavelength = originalMaxPositions / highFreqFactor;
  return invFreq.map((freq) => {
    const wavelength = (2 * Math.PI) / freq;
    if (wavelength < highFreqWavelength) return freq;
    if (wavelength > lowFreqWavelength) return freq / factor;
    const smooth = (originalMaxPositions / wavelength - lowFreqFactor) / (highFreqFactor - lowFreqFactor);
    return (1 - smooth) * (freq / factor) + smooth * freq;
  });
}

export interface RotaryOptions {
  /** rope_theta; default 10000. */
  theta?: number;
  scaling?: RopeScaling;
}

/** RotaryEmbedding.angles with ops: the same float32 steps (position / scale, times invFreq), then Cos and Sin. */
function anglesFromOps(positions: Tensor, invFreq: Float32Array, positionScale: number): RotaryAngles {
  const half = invFreq.length;
  const scaled = ops.cast(positions, 'float32');
  const position = positionScale === 1 ? scaled : ops.div(scaled, positionScale);
  const angle = ops.mul(ops.unsqueeze(position, -1), new Tensor(invFreq, [half])); // (…, T, D/2)
  const [cos, sin] = [ops.cos(angle), ops.sin(angle)];
  const shape =
    positions.rank === 2 ? [positions.shape[0]!, 1, positions.shape[1]!, 2 * half] : [1, 1, positions.size, 2 * half];
  return {
    cos: ops.reshape(ops.concat([cos, cos], -1), shape),
    signedSin: ops.reshape(ops.concat([ops.neg(sin), sin], -1), shape),
  };
}

/** cos and sign-folded sin at given positions, each (1 or B, 1, T, D), to broadcast over heads. */
export interface RotaryAngles {
  cos: Tensor;
  /** rotate_half(x) · sin = swapHalves(x) · signedSin, with signedSin = [−sin, sin]. */
  signedSin: Tensor;
}

export class RotaryEmbedding {
  readonly theta: number;
  readonly scaling: RopeScaling;
  /** Frequencies of every call except dynamic-NTK ones past the original context. */
  private readonly invFreq: Float32Array;

  constructor(
    readonly headDim: number,
    options: RotaryOptions = {},
  ) {
    if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
      throw new RangeError(`RotaryEmbedding: the head size must be an even whole number, got ${headDim}`);
    }
    this.theta = options.theta ?? 10000;
    this.scaling = options.scaling ?? { type: 'default' };
    const plain = inverseFrequencies(headDim, this.theta);
    this.invFreq = this.scaling.type === 'llama3' ? llama3InverseFrequencies(plain, this.scaling) : plain;
  }

  /**
   * The frequencies for a call that attends over `keyLength` positions (cached + new). Only dynamic NTK depends
   * on it: as in transformers 4.37, a call past the original context raises theta for all its positions, and keys
   * already cached keep the rotation they were given (HF's cache module keeps the largest length it saw; here
   * each call uses its own length, which is the same on a fresh model and for every growing decode).
   */
  frequencies(keyLength: number): Float32Array {
    const s = this.scaling;
    if (s.type !== 'dynamic' || keyLength <= s.originalMaxPositions) return this.invFreq;
    const d = this.headDim;
    const theta = this.theta * ((s.factor * keyLength) / s.originalMaxPositions - (s.factor - 1)) ** (d / (d - 2));
    return inverseFrequencies(d, theta);
  }

  /** cos / signed sin at `positions`, (T) shared by the batch or (B, T) per row; `keyLength` as in `frequencies`. */
  angles(positions: Tensor, keyLength: number): RotaryAngles {
    if (positions.dtype !== 'int32')
      throw new TypeError(`RotaryEmbedding: positions must be int32, got ${positions.dtype}`);
    const invFreq = this.frequencies(keyLength);
    const positionScale = this.scaling.type === 'linear' ? this.scaling.factor : 1;
    // While a graph is being captured, positions may be a graph input: the angles come from ops, so the graph
    // serves every position. (Dynamic NTK's frequencies depend on the length: it stays in JS, reads the
    // positions, and a capture of it is refused rather than baked in.)
    if (activeTracer && this.scaling.type !== 'dynamic') return anglesFromOps(positions, invFreq, positionScale);
    const d = this.headDim;
    const half = d / 2;
    const count = positions.data.length;
    const cos = new Float32Array(count * d);
    const sin = new Float32Array(count * d);
    for (let n = 0; n < count; n++) {
      const position = Math.fround(positions.data[n]! / positionScale);
      for (let i = 0; i < half; i++) {
        const angle = Math.fround(position * invFreq[i]!);
        const c = Math.cos(angle);
        const s = Math.sin(angle);
        cos[n * d + i] = c;
        cos[n * d + half + i] = c;
        sin[n * d + i] = -s;
        sin[n * d + half + i] = s;
      }
    }
    const shape = positions.rank === 2 ? [positions.shape[0]!, 1, positions.shape[1]!, d] : [1, 1, count, d];
    return { cos: new Tensor(cos, shape), signedSin: new Tensor(sin, shape) };
  }

  /** x (B, H, T, D) rotated by precomputed angles (one `angles` call serves every layer of a forward pass). */
  static rotate(x: Tensor, angles: RotaryAngles): Tensor {
    const half = x.shape[x.rank - 1]! / 2;
    const swapped = ops.concat([ops.slice(x, -1, half), ops.slice(x, -1, 0, half)], -1);
    return ops.add(ops.mul(x, angles.cos), ops.mul(swapped, angles.signedSin));
  }

  /** Queries (B, H, T, D) and keys (B, Hkv, T, D) rotated to `positions` ((T) or (B, T)), for a call over `keyLength` keys. */
  applyRotary(
    q: Tensor,
    k: Tensor,
    positions: Tensor,
    keyLength = positions.shape[positions.rank - 1]!,
  ): [Tensor, Tensor] {
    const angles = this.angles(positions, keyLength);
    return [RotaryEmbedding.rotate(q, angles), RotaryEmbedding.rotate(k, angles)];
  }
}
