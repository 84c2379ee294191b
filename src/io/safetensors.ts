/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian
 * tensor bytes. Reading validates everything the header claims before a byte is interpreted; writing follows the
 * Rust library byte for byte (see ../shared/golden/README.md), so files written here are the files Python writes.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { sizeOf, shapeString } from '../tensor/shape.js';
import { writeFileAtomic } from '../util/fs.js';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';

/** Bytes per element, in the Rust library's enum order (the writer sorts by it). */
const DTYPES: Record<SafetensorsDType, { bytes: number; rank: number }> = {
  BOOL: { bytes: 1, rank: 0 },
  U8: { bytes: 1, rank: 1 },
  F16: { bytes: 2, rank: 7 },
  BF16: { bytes: 2, rank: 8 },
  I32: { bytes: 4, rank: 9 },
  F32: { bytes: 4, rank: 11 },
  I64: { bytes: 8, rank: 13 },
};

const METADATA_KEY = '__metadata__';
/** The Rust library refuses headers over 100 MB; so do we, before allocating. */
const MAX_HEADER_BYTES = 100_000_000;

export class SafetensorsError extends Error {}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The `__metadata__` strings (HF writes `{"format": "pt"}`). */
  metadata: Record<string, string>;
}

interface HeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** Parses and checks the header: known dtypes, whole-number shapes, contiguous in-bounds offsets matching the sizes. */
function parseHeader(bytes: Uint8Array, file: string): { entries: Map<string, HeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  if (bytes.length < 8) throw new SafetensorsError(`${file}: not a safetensors file: ${bytes.length} bytes, too short for the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, bytes.length - 8))) {
    throw new SafetensorsError(`${file}: header length ${headerLength} exceeds the file (${bytes.length} bytes): truncated or not safetensors`);
  }
  const dataStart = 8 + Number(headerLength);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (err) {
    throw new SafetensorsError(`${file}: the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(`${file}: the header must be a JSON object of tensors`);
  }
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(raw, file);
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    const { dtype, shape, data_offsets: offsets } = (raw ?? {}) as Record<string, unknown>;
    if (!isDType(dtype)) throw new SafetensorsError(`${where} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPES).join(', ')}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where} has shape ${JSON.stringify(shape)}; expected a list of whole numbers >= 0`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${where} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = sizeOf(shape) * DTYPES[dtype].bytes;
    if (end - begin !== expected) {
      throw new SafetensorsError(`${where}: ${dtype} ${shapeString(shape)} needs ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`);
    }
    entries.set(name, { dtype, shape, begin, end });
  }
  checkContiguous(entries, bytes.length - dataStart, file);
  return { entries, metadata, dataStart };
}

function parseMetadata(raw: unknown, file: string): Record<string, string> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
    throw new SafetensorsError(`${file}: ${METADATA_KEY} must be an object of strings`);
  }
  return { ...(raw as Record<string, string>) };
}

/** The data section must be tiled exactly: no gaps, overlaps or bytes past the end (the Rust reader's rule). */
function checkContiguous(entries: Map<string, HeaderEntry>, dataBytes: number, file: string): void {
  const sorted = [...entries].sort(([, a], [, b]) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const [name, e] of sorted) {
    if (e.begin !== position) {
      throw new SafetensorsError(`${file}: tensor '${name}' starts at byte ${e.begin} of the data, expected ${position} (offsets must be contiguous)`);
    }
    if (e.end > dataBytes) {
      throw new SafetensorsError(`${file}: tensor '${name}' ends at byte ${e.end} but the data holds ${dataBytes}: the file is truncated`);
    }
    position = e.end;
  }
  if (position !== dataBytes) {
    throw new SafetensorsError(`${file}: the tensors cover ${position} bytes of data but the file holds ${dataBytes}: truncated or corrupt`);
  }
}

/** Copies (alignment in the file is arbitrary) and converts to a Tensor dtype: floats → float32, integers → int32. */
function decodeTensor(bytes: Uint8Array, e: HeaderEntry, where: string): Tensor {
  const n = sizeOf(e.shape);
  // A fresh copy (Node's Buffer#slice would share the file's buffer, at an offset typed arrays cannot view).
  const raw = new Uint8Array(e.end - e.begin);
  raw.set(bytes.subarray(e.begin, e.end));
  const buffer = raw.buffer;
  switch (e.dtype) {
    case 'F32':
      return new Tensor(new Float32Array(buffer), e.shape);
    case 'I32':
      return new Tensor(new Int32Array(buffer), e.shape);
    case 'BOOL':
      return new Tensor(raw, e.shape);
    case 'U8':
      return new Tensor(Int32Array.from(raw), e.shape);
    case 'F16': {
      const halves = new Uint16Array(buffer);
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = halfToFloat(halves[i]!);
      return new Tensor(out, e.shape);
    }
    case 'BF16': {
      const halves = new Uint16Array(buffer);
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = halves[i]! << 16;
      return new Tensor(new Float32Array(bits.buffer), e.shape);
    }
    case 'I64': {
      const wide = new BigInt64Array(buffer);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = wide[i]!;
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(`${where}: I64 value ${v} at index ${i} does not fit in int32 (attn stores integers as int32)`);
        }
        out[i] = Number(v);
      }
      return new Tensor(out, e.shape);
    }
  }
}

/** IEEE half → float32. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? Number.NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 → IEEE half, round to nearest even (as torch's .half()). */
function floatToHalf(value: number): number {
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
    return sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++;
  e = half >>> 10;
  return sign | (e >= 0x1f ? 0x7c00 : half);
}

/** float32 → bfloat16, round to nearest even. */
function floatToBfloat16(value: number): number {
  f32[0] = value;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return (x >>> 16) | 0x40;
  return (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
}

/** Parses safetensors bytes; `file` names the source in errors. */
export function parseSafetensors(bytes: Uint8Array, file = 'safetensors data'): SafetensorsFile {
  const { entries, metadata, dataStart } = parseHeader(bytes, file);
  const data = bytes.subarray(dataStart);
  const tensors = new Map<string, Tensor>();
  for (const [name, e] of entries) tensors.set(name, decodeTensor(data, e, `${file}: tensor '${name}'`));
  return { tensors, metadata };
}

export async function loadSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(path), path);
}

export function loadSafetensorsSync(path: string): SafetensorsFile {
  return parseSafetensors(readFileSync(path), path);
}

export interface SerializeOptions {
  metadata?: Record<string, string> | null;
  /** Storage type for float32 tensors (default F32; F16 and BF16 round to nearest even). */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Storage type for int32 tensors (default I32; I64 as PyTorch's token-id buffers). */
  intDtype?: 'I32' | 'I64';
}

function storageDtype(t: Tensor, options: SerializeOptions): SafetensorsDType {
  if (t.dtype === 'float32') return options.floatDtype ?? 'F32';
  if (t.dtype === 'int32') return options.intDtype ?? 'I32';
  return 'BOOL';
}

function encodeTensor(t: Tensor, dtype: SafetensorsDType): Uint8Array {
  const values = t.data;
  switch (dtype) {
    case 'F16':
      return new Uint8Array(Uint16Array.from(values as Float32Array, floatToHalf).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(values as Float32Array, floatToBfloat16).buffer);
    case 'I64':
      return new Uint8Array(BigInt64Array.from(values as Int32Array, (v) => BigInt(v)).buffer);
    default:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
}

/**
 * Serializes as the Rust library does: compact JSON header with `__metadata__` first, tensors ordered by dtype
 * (descending enum order) then name, header padded with spaces to a multiple of 8.
 */
export function serializeSafetensors(tensors: Map<string, Tensor> | Record<string, Tensor>, options: SerializeOptions = {}): Uint8Array {
  const list = [...(tensors instanceof Map ? tensors : Object.entries(tensors))].map(([name, t]) => ({ name, t, dtype: storageDtype(t, options) }));
  list.sort((a, b) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (options.metadata) header[METADATA_KEY] = Object.fromEntries(Object.entries(options.metadata).sort(([a], [b]) => (a < b ? -1 : 1)));
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const { name, t, dtype } of list) {
    if (name === METADATA_KEY) throw new SafetensorsError(`serializeSafetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const bytes = encodeTensor(t, dtype);
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes.length] };
    chunks.push(bytes);
    offset += bytes.length;
  }
  let json = JSON.stringify(header);
  const headerBytes = new TextEncoder().encode(json);
  const padded = Math.ceil(headerBytes.length / 8) * 8;
  json += ' '.repeat(padded - headerBytes.length);
  const out = new Uint8Array(8 + padded + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(new TextEncoder().encode(json), 8);
  let position = 8 + padded;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary name, then rename). */
export async function saveSafetensors(path: string, tensors: Map<string, Tensor> | Record<string, Tensor>, options: SerializeOptions = {}): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, options));
}

// ---- sharded checkpoints (model.safetensors.index.json) ----

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

interface ShardIndex {
  metadata?: { total_size?: number };
  weight_map: Record<string, string>;
}

/** Loads every shard an index names and merges them; a tensor in the wrong shard or missing is an error. */
export async function loadShardedSafetensors(indexPath: string): Promise<SafetensorsFile> {
  let index: ShardIndex;
  try {
    index = JSON.parse(await readFile(indexPath, 'utf8')) as ShardIndex;
  } catch (err) {
    throw new SafetensorsError(`${indexPath}: cannot read the shard index (${(err as Error).message})`);
  }
  if (index.weight_map === null || typeof index.weight_map !== 'object') {
    throw new SafetensorsError(`${indexPath}: field 'weight_map' is missing; expected { tensor name: shard file }`);
  }
  const tensors = new Map<string, Tensor>();
  let metadata: Record<string, string> = {};
  for (const shard of new Set(Object.values(index.weight_map))) {
    const shardPath = join(dirname(indexPath), shard);
    const part = await loadSafetensors(shardPath);
    metadata = { ...metadata, ...part.metadata };
    for (const [name, t] of part.tensors) tensors.set(name, t);
  }
  for (const [name, shard] of Object.entries(index.weight_map)) {
    if (!tensors.has(name)) throw new SafetensorsError(`${indexPath}: tensor '${name}' is mapped to ${shard}, which does not hold it`);
  }
  return { tensors, metadata };
}

function shardName(i: number, n: number): string {
  const pad = (k: number): string => String(k).padStart(5, '0');
  return `model-${pad(i)}-of-${pad(n)}.safetensors`;
}

/**
 * Writes `model.safetensors`, or, when the tensors exceed `maxShardBytes`, `model-0000i-of-0000n.safetensors` shards
 * plus the index, as transformers' save_pretrained does. Returns the file names written.
 */
export async function saveShardedSafetensors(
  dir: string,
  tensors: Map<string, Tensor>,
  options: SerializeOptions & { maxShardBytes?: number } = {},
): Promise<string[]> {
  const maxBytes = options.maxShardBytes ?? Infinity;
  const byteSize = (t: Tensor): number => t.size * DTYPES[storageDtype(t, options)].bytes;
  const shards: Array<Map<string, Tensor>> = [];
  let current = new Map<string, Tensor>();
  let currentBytes = 0;
  for (const [name, t] of tensors) {
    if (current.size > 0 && currentBytes + byteSize(t) > maxBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, t);
    currentBytes += byteSize(t);
  }
  shards.push(current);
  if (shards.length === 1) {
    await saveSafetensors(join(dir, 'model.safetensors'), tensors, options);
    return ['model.safetensors'];
  }
  const weightMap: Record<string, string> = {};
  const names = shards.map((_, i) => shardName(i + 1, shards.length));
  let totalSize = 0;
  for (const [i, shard] of shards.entries()) {
    await saveSafetensors(join(dir, names[i]!), shard, options);
    for (const [name, t] of shard) {
      weightMap[name] = names[i]!;
      totalSize += byteSize(t);
    }
  }
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFileAtomic(join(dir, SAFETENSORS_INDEX), JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sortedMap }, null, 2) + '\n');
  return [...names, SAFETENSORS_INDEX];
}
