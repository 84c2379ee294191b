/**
 * Half-precision storage: float32 tensors whose values are kept as IEEE half (F16) or bfloat16 (BF16) bits, as
 * checkpoints store them, so a loaded model takes half the memory of its float32 twin. Ops compute in float32:
 * reading `Tensor.data` widens the bits (cast at use); a compiled graph can instead feed `Tensor.halfStorage`'s
 * bits as a float16/bfloat16 input and cast inside the graph.
 */

export type HalfFormat = 'F16' | 'BF16';

export interface HalfStorage {
  readonly format: HalfFormat;
  /** One 16-bit pattern per value, row-major, little-endian as in safetensors. */
  readonly bits: Uint16Array;
}

export function isHalfStorage(value: unknown): value is HalfStorage {
  return (
    typeof value === 'object' &&
    value !== null &&
    'format' in value &&
    (value as HalfStorage).bits instanceof Uint16Array
  );
}

/** IEEE half → float32, exact. */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

let halfTable: Float32Array | null = null;

/** Every half value widened once (256 KB): widening a tensor is then one table read per value. */
function halfToFloatTable(): Float32Array {
  if (halfTable === null) halfTable = Float32Array.from({ length: 65536 }, (_, h) => halfToFloat(h));
  return halfTable;
}

/** A new float32 array holding the values of `storage`. */
export function widenHalfBits(storage: HalfStorage): Float32Array {
  const { bits } = storage;
  const n = bits.length;
  if (storage.format === 'BF16') {
    // bfloat16 is the top half of a float32: shift the bits into place.
    const wide = new Uint32Array(n);
    for (let i = 0; i < n; i++) wide[i] = bits[i]! << 16;
    return new Float32Array(wide.buffer);
  }
  const table = halfToFloatTable();
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = table[bits[i]!]!;
  return out;
}

/**
 * The last widened buffers. An op reads its inputs' `data` more than once (size checks, then the kernel), so the
 * latest two are kept; a forward pass then holds at most two weights in float32 besides the half copies.
 */
const recentlyWidened: Array<[HalfStorage, Float32Array]> = [];
const RECENT_LIMIT = 2;

/** Widened buffers kept for the length of a `withPinnedWidening` scope, one per half tensor. */
let pinned: Map<HalfStorage, Float32Array> | null = null;

/**
 * Runs `fn` with every half tensor widening to the same buffer each time it is read: a graph capture identifies
 * values by their buffer, so a weight read twice must not look like two constants. The copies live until `fn`
 * returns (a captured graph keeps those it baked in anyway).
 */
export function withPinnedWidening<T>(fn: () => T): T {
  const outer = pinned;
  pinned ??= new Map();
  try {
    return fn();
  } finally {
    pinned = outer;
  }
}

/** The float32 values of `storage`, shared with the last few reads: read-only. */
export function widenHalf(storage: HalfStorage): Float32Array {
  const kept = pinned?.get(storage);
  if (kept) return kept;
  const wide = widenRecent(storage);
  pinned?.set(storage, wide);
  return wide;
}

function widenRecent(storage: HalfStorage): Float32Array {
  const hit = recentlyWidened.find(([s]) => s === storage);
  if (hit) return hit[1];
  const wide = widenHalfBits(storage);
  recentlyWidened.push([storage, wide]);
  if (recentlyWidened.length > RECENT_LIMIT) recentlyWidened.shift();
  return wide;
}

/** Drops `storage`'s widened copy from the cache (its tensor now owns float32 values, or was disposed). */
export function forgetWidened(storage: HalfStorage): void {
  const at = recentlyWidened.findIndex(([s]) => s === storage);
  if (at >= 0) recentlyWidened.splice(at, 1);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half, round to nearest even (as torch's .half()). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0);
  let e = exponent - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - e;
    const half = mantissa >>> shift;
    const rest = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    return sign | (half + (rest > midpoint || (rest === midpoint && half & 1) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && half & 1)) half++;
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

/** float32 → bfloat16, round to nearest even. */
export function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** float32 values rounded to half bits (nearest even). */
export function narrowToHalf(values: Float32Array, format: HalfFormat): HalfStorage {
  const narrow = format === 'F16' ? floatToHalf : floatToBfloat16;
  const bits = new Uint16Array(values.length);
  // A plain loop: Uint16Array.from with a map function is ~50x slower on large arrays.
  for (let i = 0; i < values.length; i++) bits[i] = narrow(values[i]!);
  return { format, bits };
}
