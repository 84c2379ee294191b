/**
 * The safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian header length, a JSON
 * header `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}}`, then the raw little-endian
 * tensor bytes. Reading validates everything the header claims before a byte is interpreted; writing follows the
 * Rust library byte for byte (see ../shared/golden/README.md), so files written here are the files Python writes.
 *
 * Files are read through a file handle: the header first, then each tensor at its offset straight into the buffer
 * it will live in, so checkpoints of any size load (no whole-file read, which Node caps at 2 GiB) and memory holds
 * each weight once. F16/BF16 weights stay in half precision (tensor/half.ts) unless asked otherwise.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { Tensor } from '../tensor/tensor.js';
import { narrowToHalf, widenHalfBits, type HalfFormat } from '../tensor/half.js';
import { sizeOf, shapeString } from '../tensor/shape.js';
import { writeFileAtomic } from '../util/fs.js';
import { FileKindError, openRegularFile, readRegularTextFile } from './files.js';

export type SafetensorsDType = 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'I8' | 'BOOL';

/** Bytes per element, in the Rust library's enum order (the writer sorts by it). */
const DTYPES: Record<SafetensorsDType, { bytes: number; rank: number }> = {
  BOOL: { bytes: 1, rank: 0 },
  U8: { bytes: 1, rank: 1 },
  I8: { bytes: 1, rank: 2 },
  F16: { bytes: 2, rank: 7 },
  BF16: { bytes: 2, rank: 8 },
  I32: { bytes: 4, rank: 9 },
  F32: { bytes: 4, rank: 11 },
  I64: { bytes: 8, rank: 13 },
};

const METADATA_KEY = '__metadata__';
/** The Rust library refuses headers over 100 MB; so do we, before allocating. */
const MAX_HEADER_BYTES = 100_000_000;
/** Node reads at most 2 GiB per call; tensors larger than a chunk are read in several. */
const READ_CHUNK_BYTES = 1 << 30;

export class SafetensorsError extends Error {}

export interface SafetensorsFile {
  tensors: Map<string, Tensor>;
  /** The `__metadata__` strings (HF writes `{"format": "pt"}`). */
  metadata: Record<string, string>;
}

/** One tensor as the header describes it; `begin`/`end` are byte offsets in its file. */
export interface TensorEntry {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** The file holding it (a shard of an index, or the single file). */
  file: string;
  begin: number;
  end: number;
}

export interface ReadOptions {
  /** Keep F16/BF16 tensors as half-precision bits (read as float32 all the same); default true. */
  keepHalf?: boolean;
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === 'string' && Object.hasOwn(DTYPES, value);
}

/** The tensor dtype a safetensors dtype is read as. */
export function tensorDtypeOf(dtype: SafetensorsDType): Tensor['dtype'] {
  return dtype === 'F32' || dtype === 'F16' || dtype === 'BF16' ? 'float32' : dtype === 'BOOL' ? 'bool' : 'int32';
}

/** The 8-byte header length, checked against the file size before anything is allocated. */
function headerLengthOf(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8)
    throw new SafetensorsError(
      `${file}: not a safetensors file: ${fileSize} bytes, too short for the 8-byte header length`,
    );
  const headerLength = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
    throw new SafetensorsError(
      `${file}: header length ${headerLength} exceeds the file (${fileSize} bytes): truncated or not safetensors`,
    );
  }
  return Number(headerLength);
}

/**
 * Parses and checks the JSON header: known dtypes, whole-number shapes, contiguous offsets matching the sizes and
 * tiling the `fileSize - dataStart` data bytes exactly. Entries get absolute file offsets.
 */
function parseHeaderJson(
  json: Uint8Array,
  dataStart: number,
  fileSize: number,
  file: string,
): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (err) {
    throw new SafetensorsError(`${file}: the header is not valid UTF-8 JSON (${(err as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError(`${file}: the header must be a JSON object of tensors`);
  }
  const entries = new Map<string, TensorEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === METADATA_KEY) {
      metadata = parseMetadata(raw, file);
      continue;
    }
    const where = `${file}: tensor '${name}'`;
    const { dtype, shape, data_offsets: offsets } = (raw ?? {}) as Record<string, unknown>;
    if (!isDType(dtype))
      throw new SafetensorsError(
        `${where} has dtype ${JSON.stringify(dtype)}; supported: ${Object.keys(DTYPES).join(', ')}`,
      );
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where} has shape ${JSON.stringify(shape)}; expected a list of whole numbers >= 0`);
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${where} has data_offsets ${JSON.stringify(offsets)}; expected [begin, end]`);
    }
    const [begin, end] = offsets as [number, number];
    const expected = sizeOf(shape) * DTYPES[dtype].bytes;
    if (end - begin !== expected) {
      throw new SafetensorsError(
        `${where}: ${dtype} ${shapeString(shape)} needs ${expected} bytes, but data_offsets [${begin}, ${end}] hold ${end - begin}`,
      );
    }
    entries.set(name, { name, dtype, shape, file, begin, end });
  }
  checkContiguous(entries, fileSize - dataStart, file);
  for (const e of entries.values()) {
    e.begin += dataStart;
    e.end += dataStart;
  }
  return { entries, metadata };
}

function parseMetadata(raw: unknown, file: string): Record<string, string> {
  if (
    raw === null ||
    typeof raw !== 'object' ||
    Array.isArray(raw) ||
    !Object.values(raw).every((v) => typeof v === 'string')
  ) {
    throw new SafetensorsError(`${file}: ${METADATA_KEY} must be an object of strings`);
  }
  return { ...(raw as Record<string, string>) };
}

/** The data section must be tiled exactly: no gaps, overlaps or bytes past the end (the Rust reader's rule). */
function checkContiguous(entries: Map<string, TensorEntry>, dataBytes: number, file: string): void {
  const sorted = [...entries.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let position = 0;
  for (const e of sorted) {
    if (e.begin !== position) {
      throw new SafetensorsError(
        `${file}: tensor '${e.name}' starts at byte ${e.begin} of the data, expected ${position} (offsets must be contiguous)`,
      );
    }
    if (e.end > dataBytes) {
      throw new SafetensorsError(
        `${file}: tensor '${e.name}' ends at byte ${e.end} but the data holds ${dataBytes}: the file is truncated`,
      );
    }
    position = e.end;
  }
  if (position !== dataBytes) {
    throw new SafetensorsError(
      `${file}: the tensors cover ${position} bytes of data but the file holds ${dataBytes}: truncated or corrupt`,
    );
  }
}

/**
 * A Tensor from a tensor's exact bytes in a buffer of their own (which F32, I32, BOOL and kept F16/BF16 tensors
 * adopt without a copy): floats → float32 (or half storage), integers → int32.
 */
function decodeTensor(raw: Uint8Array, e: TensorEntry, options: ReadOptions): Tensor {
  const n = sizeOf(e.shape);
  const buffer = raw.buffer;
  switch (e.dtype) {
    case 'F32':
      return new Tensor(new Float32Array(buffer, raw.byteOffset, n), e.shape);
    case 'I32':
      return new Tensor(new Int32Array(buffer, raw.byteOffset, n), e.shape);
    case 'BOOL':
      return new Tensor(raw, e.shape);
    case 'U8':
      return new Tensor(Int32Array.from(raw), e.shape);
    case 'I8':
      return new Tensor(Int32Array.from(new Int8Array(buffer, raw.byteOffset, n)), e.shape);
    case 'F16':
    case 'BF16': {
      const half = { format: e.dtype, bits: new Uint16Array(buffer, raw.byteOffset, n) };
      return new Tensor(options.keepHalf === false ? widenHalfBits(half) : half, e.shape);
    }
    case 'I64': {
      const wide = new BigInt64Array(buffer, raw.byteOffset, n);
      const out = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const v = wide[i]!;
        if (v > 2147483647n || v < -2147483648n) {
          throw new SafetensorsError(
            `${e.file}: tensor '${e.name}': I64 value ${v} at index ${i} does not fit in int32 (attn stores integers as int32)`,
          );
        }
        out[i] = Number(v);
      }
      return new Tensor(out, e.shape);
    }
  }
}

/**
 * The checked header of safetensors bytes already in memory: each tensor's entry, whose `begin`/`end` index
 * `bytes`, for a caller that reads a tensor's bytes in place; `file` names the source in errors.
 */
export function parseSafetensorsHeader(
  bytes: Uint8Array,
  file = 'safetensors data',
): { entries: Map<string, TensorEntry>; metadata: Record<string, string> } {
  const headerLength = headerLengthOf(bytes.subarray(0, 8), bytes.length, file);
  const dataStart = 8 + headerLength;
  return parseHeaderJson(bytes.subarray(8, dataStart), dataStart, bytes.length, file);
}

/** Parses safetensors bytes already in memory; `file` names the source in errors. */
export function parseSafetensors(
  bytes: Uint8Array,
  file = 'safetensors data',
  options: ReadOptions = {},
): SafetensorsFile {
  const { entries, metadata } = parseSafetensorsHeader(bytes, file);
  const tensors = new Map<string, Tensor>();
  // A fresh copy per tensor: alignment in the file is arbitrary, and typed arrays need aligned offsets.
  for (const [name, e] of entries) tensors.set(name, decodeTensor(bytes.slice(e.begin, e.end), e, options));
  return { tensors, metadata };
}

/**
 * Reads the tensors `entries` describe (from headers read earlier) synchronously, for callers that cannot await: a
 * compiled session whose weights were left in the checkpoint reads them back to record the forward pass.
 */
export function readTensorsSync(entries: readonly TensorEntry[], options: ReadOptions = {}): Tensor[] {
  const handles = new Map<string, number>();
  try {
    return entries.map((e) => {
      let fd = handles.get(e.file);
      if (fd === undefined) handles.set(e.file, (fd = openSync(e.file, 'r')));
      const raw = new Uint8Array(e.end - e.begin);
      for (let done = 0; done < raw.length;) {
        const read = readSync(fd, raw, done, Math.min(READ_CHUNK_BYTES, raw.length - done), e.begin + done);
        if (read === 0)
          throw new SafetensorsError(`${e.file}: tensor '${e.name}' ends after ${done} of ${raw.length} bytes`);
        done += read;
      }
      return decodeTensor(raw, e, options);
    });
  } finally {
    for (const fd of handles.values()) closeSync(fd);
  }
}

/** Fills `target` from `position`, in chunks; a file that ends early (changed while reading) is an error. */
async function readFully(
  handle: FileHandle,
  target: Uint8Array,
  position: number,
  file: string,
  what: string,
): Promise<void> {
  let done = 0;
  while (done < target.length) {
    const length = Math.min(READ_CHUNK_BYTES, target.length - done);
    const { bytesRead } = await handle.read(target, done, length, position + done);
    if (bytesRead === 0) {
      throw new SafetensorsError(
        `${file}: ${what} ends after ${done} of ${target.length} bytes: the file shrank while it was read`,
      );
    }
    done += bytesRead;
  }
}

interface OpenFile {
  handle: FileHandle;
  size: number;
}

/**
 * The tensors of a safetensors file, or of the shards a `model.safetensors.index.json` names, with only the
 * headers read: callers check names, dtypes and shapes first, then read each tensor where it belongs. Close it.
 */
export class SafetensorsReader {
  private constructor(
    /** The file opened: the single file or the index. */
    readonly file: string,
    readonly entries: Map<string, TensorEntry>,
    readonly metadata: Record<string, string>,
    private readonly files: Map<string, OpenFile>,
  ) {}

  /** Opens one safetensors file and reads its header. */
  static async open(path: string): Promise<SafetensorsReader> {
    const files = new Map<string, OpenFile>();
    try {
      const { entries, metadata } = await openInto(files, path, 'safetensors file');
      return new SafetensorsReader(path, entries, metadata, files);
    } catch (err) {
      await closeAll(files);
      throw err;
    }
  }

  /** Opens every shard an index names; a missing shard or a tensor not in its shard is an error naming both. */
  static async openIndex(indexPath: string): Promise<SafetensorsReader> {
    const weightMap = await readWeightMap(indexPath);
    const byShard = new Map<string, string[]>();
    for (const [name, shard] of Object.entries(weightMap)) byShard.set(shard, [...(byShard.get(shard) ?? []), name]);
    const files = new Map<string, OpenFile>();
    const entries = new Map<string, TensorEntry>();
    let metadata: Record<string, string> = {};
    try {
      for (const [shard, names] of byShard) {
        const shardPath = join(dirname(indexPath), shard);
        const part = await openInto(files, shardPath, 'shard').catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
          throw new SafetensorsError(
            `${indexPath}: shard '${shard}' is missing (expected ${shardPath}, holding ${names.length} tensor(s) such as '${names[0]}')`,
          );
        });
        metadata = { ...metadata, ...part.metadata };
        for (const [name, e] of part.entries) entries.set(name, e);
      }
      for (const [name, shard] of Object.entries(weightMap)) {
        if (entries.get(name)?.file !== join(dirname(indexPath), shard)) {
          throw new SafetensorsError(`${indexPath}: tensor '${name}' is mapped to ${shard}, which does not hold it`);
        }
      }
      return new SafetensorsReader(indexPath, entries, metadata, files);
    } catch (err) {
      await closeAll(files);
      throw err;
    }
  }

  /** Values in all tensors (what a model built from a config should roughly hold). */
  get totalElements(): number {
    let n = 0;
    for (const e of this.entries.values()) n += sizeOf(e.shape);
    return n;
  }

  private entry(name: string): TensorEntry {
    const e = this.entries.get(name);
    if (e === undefined) throw new SafetensorsError(`${this.file}: no tensor named '${name}'`);
    return e;
  }

  private async readBytes(e: TensorEntry, target: Uint8Array): Promise<void> {
    await readFully(this.files.get(e.file)!.handle, target, e.begin, e.file, `tensor '${e.name}'`);
  }

  /** Reads one tensor into a buffer of its own. */
  async read(name: string, options: ReadOptions = {}): Promise<Tensor> {
    const e = this.entry(name);
    const raw = new Uint8Array(e.end - e.begin);
    await this.readBytes(e, raw);
    return decodeTensor(raw, e, options);
  }

  /**
   * Reads a tensor into `target` (a model's weight, same shape and dtype, checked by the caller): F32 bytes go
   * straight into its buffer; F16/BF16 become its half storage (or are widened into it with `keepHalf: false`).
   */
  async readInto(name: string, target: Tensor, options: ReadOptions = {}): Promise<void> {
    const e = this.entry(name);
    const direct = (e.dtype === 'F32' || e.dtype === 'I32' || e.dtype === 'BOOL') && target.halfStorage === null;
    if (direct) {
      const data = target.data;
      await this.readBytes(e, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      return;
    }
    const t = await this.read(name, options);
    const half = t.halfStorage;
    if (half) target.replaceStorage(half);
    else if (target.halfStorage) target.replaceStorage(t.data);
    else target.data.set(t.data);
  }

  /** Reads every tensor. */
  async readAll(options: ReadOptions = {}): Promise<SafetensorsFile> {
    const tensors = new Map<string, Tensor>();
    for (const name of this.entries.keys()) tensors.set(name, await this.read(name, options));
    return { tensors, metadata: this.metadata };
  }

  async close(): Promise<void> {
    await closeAll(this.files);
  }
}

async function closeAll(files: Map<string, OpenFile>): Promise<void> {
  await Promise.all([...files.values()].map((f) => f.handle.close()));
  files.clear();
}

/** Opens `path` (a regular file), reads and checks its header, and records the handle in `files`. */
async function openInto(
  files: Map<string, OpenFile>,
  path: string,
  what: string,
): Promise<{ entries: Map<string, TensorEntry>; metadata: Record<string, string> }> {
  const opened = await openRegularFile(path, what);
  files.set(path, opened);
  const first8 = new Uint8Array(Math.min(8, opened.size));
  await readFully(opened.handle, first8, 0, path, 'the header length');
  const headerLength = headerLengthOf(first8, opened.size, path);
  const json = new Uint8Array(headerLength);
  await readFully(opened.handle, json, 8, path, 'the header');
  return parseHeaderJson(json, 8 + headerLength, opened.size, path);
}

async function readAllAndClose(opening: Promise<SafetensorsReader>, options: ReadOptions): Promise<SafetensorsFile> {
  const reader = await opening;
  try {
    return await reader.readAll(options);
  } finally {
    await reader.close();
  }
}

export async function loadSafetensors(path: string, options: ReadOptions = {}): Promise<SafetensorsFile> {
  return readAllAndClose(SafetensorsReader.open(path), options);
}

export interface SerializeOptions {
  metadata?: Record<string, string> | null;
  /**
   * Storage type for float32 tensors (F16 and BF16 round to nearest even). Default: a tensor kept in half precision
   * is written in its own format, bit for bit; others as F32.
   */
  floatDtype?: 'F32' | 'F16' | 'BF16';
  /** Storage type for int32 tensors (default I32; I64 as PyTorch's token-id buffers). */
  intDtype?: 'I32' | 'I64';
  /** Storage type of named int32 tensors holding 8-bit values (quantized weights' codes, see nn/quantized.ts). */
  tensorDtypes?: Readonly<Record<string, 'I8' | 'U8'>>;
}

function storageDtype(t: Tensor, options: SerializeOptions): SafetensorsDType {
  if (t.dtype === 'float32') return options.floatDtype ?? t.halfStorage?.format ?? 'F32';
  if (t.dtype === 'int32') return options.intDtype ?? 'I32';
  return 'BOOL';
}

function encodeTensor(t: Tensor, dtype: SafetensorsDType): Uint8Array {
  const half = t.halfStorage;
  if (half !== null && half.format === dtype)
    return new Uint8Array(half.bits.buffer, half.bits.byteOffset, half.bits.byteLength);
  const values = t.data;
  switch (dtype) {
    case 'F16':
    case 'BF16': {
      const bits = narrowToHalf(values as Float32Array, dtype as HalfFormat).bits;
      return new Uint8Array(bits.buffer);
    }
    case 'I64':
      return new Uint8Array(BigInt64Array.from(values as Int32Array, (v) => BigInt(v)).buffer);
    case 'I8':
      return new Uint8Array(Int8Array.from(values).buffer);
    case 'U8':
      return Uint8Array.from(values);
    default:
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  }
}

/**
 * The file as a header and the tensors' bytes, encoded one at a time as the chunks are iterated (so a large file
 * is written without a buffer holding all of it). Laid out as the Rust library does: compact JSON header with
 * `__metadata__` first, tensors ordered by dtype (descending enum order) then name, header padded with spaces to a
 * multiple of 8.
 */
function safetensorsChunks(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  options: SerializeOptions,
): { byteLength: number; chunks: Iterable<Uint8Array> } {
  const list = [...(tensors instanceof Map ? tensors : Object.entries(tensors))].map(([name, t]) => ({
    name,
    t,
    dtype: options.tensorDtypes?.[name] ?? storageDtype(t, options),
  }));
  list.sort((a, b) => DTYPES[b.dtype].rank - DTYPES[a.dtype].rank || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (options.metadata)
    header[METADATA_KEY] = Object.fromEntries(Object.entries(options.metadata).sort(([a], [b]) => (a < b ? -1 : 1)));
  let offset = 0;
  for (const { name, t, dtype } of list) {
    if (name === METADATA_KEY)
      throw new SafetensorsError(`serializeSafetensors: '${METADATA_KEY}' is reserved and cannot name a tensor`);
    const bytes = t.size * DTYPES[dtype].bytes;
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  function* chunks(): Generator<Uint8Array> {
    yield head;
    for (const { t, dtype } of list) yield encodeTensor(t, dtype);
  }
  return { byteLength: head.length + offset, chunks: chunks() };
}

/** Serializes to one buffer (see `safetensorsChunks` for the layout). */
export function serializeSafetensors(
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  options: SerializeOptions = {},
): Uint8Array {
  const { byteLength, chunks } = safetensorsChunks(tensors, options);
  const out = new Uint8Array(byteLength);
  let position = 0;
  for (const chunk of chunks) {
    out.set(chunk, position);
    position += chunk.length;
  }
  return out;
}

/** Writes a safetensors file atomically (temporary name, then rename), streaming one tensor at a time. */
export async function saveSafetensors(
  path: string,
  tensors: Map<string, Tensor> | Record<string, Tensor>,
  options: SerializeOptions = {},
): Promise<void> {
  await writeFileAtomic(path, safetensorsChunks(tensors, options).chunks);
}

// ---- sharded checkpoints (model.safetensors.index.json) ----

export const SAFETENSORS_INDEX = 'model.safetensors.index.json';

/** The index's `weight_map`; each shard must be a file name in the index's own folder. */
async function readWeightMap(indexPath: string): Promise<Record<string, string>> {
  let index: { weight_map?: unknown };
  try {
    index = JSON.parse(await readRegularTextFile(indexPath, 'shard index')) as { weight_map?: unknown };
  } catch (err) {
    if (err instanceof FileKindError) throw err;
    throw new SafetensorsError(`${indexPath}: cannot read the shard index (${(err as Error).message})`);
  }
  const map = index.weight_map;
  if (map === null || typeof map !== 'object' || Array.isArray(map)) {
    throw new SafetensorsError(`${indexPath}: field 'weight_map' is missing; expected { tensor name: shard file }`);
  }
  for (const [name, shard] of Object.entries(map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || shard === '' || basename(shard) !== shard || shard === '.' || shard === '..') {
      throw new SafetensorsError(
        `${indexPath}: weight_map['${name}'] is ${JSON.stringify(shard)}; expected a shard file name in the same folder`,
      );
    }
  }
  return map as Record<string, string>;
}

/** Loads every shard an index names and merges them; a tensor in the wrong shard or missing is an error. */
export async function loadShardedSafetensors(indexPath: string, options: ReadOptions = {}): Promise<SafetensorsFile> {
  return readAllAndClose(SafetensorsReader.openIndex(indexPath), options);
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
  const byteSize = (name: string, t: Tensor): number =>
    t.size * DTYPES[options.tensorDtypes?.[name] ?? storageDtype(t, options)].bytes;
  const shards: Array<Map<string, Tensor>> = [];
  let current = new Map<string, Tensor>();
  let currentBytes = 0;
  for (const [name, t] of tensors) {
    if (current.size > 0 && currentBytes + byteSize(name, t) > maxBytes) {
      shards.push(current);
      current = new Map();
      currentBytes = 0;
    }
    current.set(name, t);
    currentBytes += byteSize(name, t);
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
      totalSize += byteSize(name, t);
    }
  }
  const sortedMap = Object.fromEntries(Object.entries(weightMap).sort(([a], [b]) => (a < b ? -1 : 1)));
  await writeFileAtomic(
    join(dir, SAFETENSORS_INDEX),
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: sortedMap }, null, 2) + '\n',
  );
  return [...names, SAFETENSORS_INDEX];
}
