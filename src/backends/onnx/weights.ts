import type { TypedArray } from '../../tensor/dtype.js';
import { dtypeOf } from '../../tensor/dtype.js';
import { encodeModel, OnnxType, type GraphSpec, type OnnxTypeName } from './protobuf.js';

/**
 * ONNX models that carry a model's weights as initializers. `encodeModel` builds byte by byte, which is right for a
 * one-op graph and hopeless for 250 MB of weights, so the weights are added here as a second GraphProto appended
 * after the small model: protobuf merges repeated occurrences of an embedded message field, so onnxruntime reads
 * one graph holding the nodes and every initializer. The weights' bytes are never copied into JS arrays: they go
 * to onnxruntime as in-memory "external data" (one entry per weight, fed from the tensor's own buffer), or are
 * written to a file as slices next to the few header bytes each needs.
 */

export interface WeightInit {
  name: string;
  dims: readonly number[];
  /** The values, or with `half` their float16 / bfloat16 bit patterns (a weight kept in half, see tensor/half.ts). */
  data: TypedArray | Uint16Array;
  half?: 'float16' | 'bfloat16';
}

/** The ONNX type a weight's data holds. */
export function weightType(w: WeightInit): OnnxTypeName {
  return w.half ?? dtypeOf(w.data as TypedArray);
}

/** An onnxruntime `externalData` entry: the bytes of the file `path` that initializers point into. */
export interface ExternalData {
  path: string;
  data: Uint8Array;
}

const WIRE_VARINT = 0;
const WIRE_BYTES = 2;
/** TensorProto fields (onnx.proto). */
const TENSOR = { dims: 1, dataType: 2, name: 8, rawData: 9, externalData: 13, dataLocation: 14 } as const;
const GRAPH_INITIALIZER = 5;
const MODEL_GRAPH = 7;
const DATA_LOCATION_EXTERNAL = 1;

class Chunks {
  readonly parts: Uint8Array[] = [];
  private pending: number[] = [];

  get byteLength(): number {
    this.flush();
    return this.parts.reduce((n, p) => n + p.byteLength, 0);
  }

  varint(value: number): this {
    let v = value;
    while (v >= 0x80) {
      this.pending.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.pending.push(v);
    return this;
  }

  tag(field: number, wire: number): this {
    return this.varint(field * 8 + wire);
  }

  int(field: number, value: number): this {
    return this.tag(field, WIRE_VARINT).varint(value);
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  /** A length-delimited field whose bytes are referenced, not copied. */
  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_BYTES).varint(value.byteLength);
    this.flush();
    this.parts.push(value);
    return this;
  }

  message(field: number, inner: Chunks): this {
    this.tag(field, WIRE_BYTES).varint(inner.byteLength);
    this.flush();
    this.parts.push(...inner.parts);
    return this;
  }

  private flush(): void {
    if (this.pending.length === 0) return;
    this.parts.push(Uint8Array.from(this.pending));
    this.pending = [];
  }

  finish(): Uint8Array[] {
    this.flush();
    return this.parts;
  }
}

function bytesOf(data: TypedArray | Uint16Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function tensorHeader(w: WeightInit): Chunks {
  const t = new Chunks();
  for (const d of w.dims) t.int(TENSOR.dims, d);
  return t.int(TENSOR.dataType, OnnxType[weightType(w)]).string(TENSOR.name, w.name);
}

/** The appended GraphProto holding the weights (each one's bytes inline, or a reference to external data). */
function weightsGraph(weights: readonly WeightInit[], external: boolean): Chunks {
  const graph = new Chunks();
  for (const w of weights) {
    const t = tensorHeader(w);
    if (external) {
      t.message(TENSOR.externalData, new Chunks().string(1, 'location').string(2, w.name));
      t.int(TENSOR.dataLocation, DATA_LOCATION_EXTERNAL);
    } else {
      t.bytes(TENSOR.rawData, bytesOf(w.data));
    }
    graph.message(GRAPH_INITIALIZER, t);
  }
  return graph;
}

/**
 * For an in-memory onnxruntime session: the model bytes (nodes plus weight references, small) and the external
 * data entries that hand onnxruntime each weight's buffer without a copy on the JS side.
 */
export function modelWithExternalWeights(
  graph: GraphSpec,
  weights: readonly WeightInit[],
): { model: Uint8Array; externalData: ExternalData[] } {
  const parts = [encodeModel(graph), ...new Chunks().message(MODEL_GRAPH, weightsGraph(weights, true)).finish()];
  const model = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let offset = 0;
  for (const p of parts) {
    model.set(p, offset);
    offset += p.byteLength;
  }
  return { model, externalData: weights.map((w) => ({ path: w.name, data: bytesOf(w.data) })) };
}

/** A self-contained .onnx file as a list of byte slices (weights inline), for `writev`-style writing. */
export function modelFileParts(graph: GraphSpec, weights: readonly WeightInit[]): Uint8Array[] {
  return [encodeModel(graph), ...new Chunks().message(MODEL_GRAPH, weightsGraph(weights, false)).finish()];
}

/** A weight onnxruntime reads itself from a file (relative to the model file), as `length` bytes at `offset`. */
export interface FileWeight {
  name: string;
  dims: readonly number[];
  /** How the bytes are stored; a graph wanting another type gets a Cast (see models/compiled.ts). */
  type: FileWeightType;
  location: string;
  offset: number;
  length: number;
}

/** TensorProto.DataType codes of the types a checkpoint file stores weights in. */
export const FILE_WEIGHT_TYPES = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  bfloat16: 16,
} as const;
export type FileWeightType = keyof typeof FILE_WEIGHT_TYPES;

/**
 * A .onnx file whose weights are external data by file offset (into a checkpoint file beside it), and small
 * weights inline: onnxruntime, loading it by path, reads (or maps) the weights itself, so no copy of them passes
 * through JS.
 */
export function modelWithFileWeights(
  graph: GraphSpec,
  fileWeights: readonly FileWeight[],
  inline: readonly WeightInit[],
): Uint8Array[] {
  const weights = weightsGraph(inline, false);
  for (const w of fileWeights) {
    const t = new Chunks();
    for (const d of w.dims) t.int(TENSOR.dims, d);
    t.int(TENSOR.dataType, FILE_WEIGHT_TYPES[w.type]).string(TENSOR.name, w.name);
    const entry = (key: string, value: string) => new Chunks().string(1, key).string(2, value);
    t.message(TENSOR.externalData, entry('location', w.location));
    t.message(TENSOR.externalData, entry('offset', String(w.offset)));
    t.message(TENSOR.externalData, entry('length', String(w.length)));
    t.int(TENSOR.dataLocation, DATA_LOCATION_EXTERNAL);
    weights.message(GRAPH_INITIALIZER, t);
  }
  return [encodeModel(graph), ...new Chunks().message(MODEL_GRAPH, weights).finish()];
}
