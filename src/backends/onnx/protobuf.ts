/**
 * The few ONNX protobuf messages attn writes (ModelProto and what it holds), encoded by hand: a model per primitive
 * op is a few hundred bytes, and a full protobuf runtime would be a dependency for five message types.
 * Field numbers are those of onnx/onnx.proto.
 */

/**
 * Appends fields to a list of byte chunks: large payloads (weights as initializers) are kept as views, never copied
 * byte by byte, and joined once in `finish()`.
 */
class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private pending: number[] = [];
  private length = 0;

  private flush(): void {
    if (this.pending.length === 0) return;
    this.chunks.push(Uint8Array.from(this.pending));
    this.pending = [];
  }

  private varint(value: number | bigint): void {
    let v = BigInt.asUintN(64, BigInt(value));
    while (v >= 0x80n) {
      this.pending.push(Number(v & 0x7fn) | 0x80);
      this.length++;
      v >>= 7n;
    }
    this.pending.push(Number(v));
    this.length++;
  }

  private tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, 0);
    this.varint(value);
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, 5);
    for (const b of new Uint8Array(new Float32Array([value]).buffer)) this.pending.push(b);
    this.length += 4;
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, 2);
    this.varint(value.length);
    if (value.length < 64) {
      for (let i = 0; i < value.length; i++) this.pending.push(value[i]!);
    } else {
      this.flush();
      this.chunks.push(value);
    }
    this.length += value.length;
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, inner: ProtoWriter): this {
    this.tag(field, 2);
    this.varint(inner.length);
    inner.flush();
    this.flush();
    this.chunks.push(...inner.chunks);
    this.length += inner.length;
    return this;
  }

  finish(): Uint8Array {
    this.flush();
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

/** ONNX TensorProto.DataType codes. */
export const OnnxType = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float16: 10, bfloat16: 16 } as const;
export type OnnxTypeName = keyof typeof OnnxType;

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | TensorInit;

export interface NodeSpec {
  op: string;
  /** The operator set the op comes from; absent: the default ONNX domain. */
  domain?: string;
  inputs: string[];
  outputs: string[];
  attrs?: Record<string, AttrValue>;
}

/** A constant baked into the graph (ONNX initializer). A typed array of the matching type is written as is. */
export interface TensorInit {
  name: string;
  type: OnnxTypeName;
  dims: readonly number[];
  values: ArrayLike<number>;
}

export interface ValueSpec {
  name: string;
  type: OnnxTypeName;
  /** Per dim: a fixed size, or a symbolic name so one session serves every size; absent: shape left to inference. */
  dims?: Array<number | string>;
}

export interface GraphSpec {
  nodes: NodeSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  initializers: TensorInit[];
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Little-endian raw_data (ONNX's layout; every platform attn runs on is little-endian). */
function rawBytes(init: TensorInit): Uint8Array {
  const v = init.values;
  switch (init.type) {
    case 'float32':
      return bytesOf(v instanceof Float32Array ? v : Float32Array.from(v));
    case 'int32':
      return bytesOf(v instanceof Int32Array ? v : Int32Array.from(v));
    case 'int64':
      return bytesOf(BigInt64Array.from(Array.from(v, (x) => BigInt(x))));
    case 'uint8':
    case 'bool':
      return v instanceof Uint8Array ? v : Uint8Array.from(v);
    case 'float16':
    case 'bfloat16': // values are the 16-bit patterns
      return bytesOf(v instanceof Uint16Array ? v : Uint16Array.from(v));
  }
}

function tensorProto(init: TensorInit): ProtoWriter {
  const w = new ProtoWriter();
  for (const d of init.dims) w.int(1, d);
  w.int(2, OnnxType[init.type]);
  w.string(8, init.name);
  w.bytes(9, rawBytes(init));
  return w;
}

function attributeProto(name: string, value: AttrValue): ProtoWriter {
  const w = new ProtoWriter().string(1, name);
  // AttributeProto.type: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7
  if (typeof value === 'number') return w.int(3, value).int(20, 2);
  if (typeof value === 'string') return w.string(4, value).int(20, 3);
  if (Array.isArray(value)) {
    for (const v of value) w.int(8, v);
    return w.int(20, 7);
  }
  if ('float' in value) return w.float(2, value.float).int(20, 1);
  if ('floats' in value) {
    for (const v of value.floats) w.float(7, v);
    return w.int(20, 6);
  }
  return w.message(5, tensorProto(value)).int(20, 4);
}

function valueInfo(spec: ValueSpec): ProtoWriter {
  const tensorType = new ProtoWriter().int(1, OnnxType[spec.type]);
  if (spec.dims) {
    const shape = new ProtoWriter();
    for (const d of spec.dims) {
      shape.message(1, typeof d === 'number' ? new ProtoWriter().int(1, d) : new ProtoWriter().string(2, d));
    }
    tensorType.message(2, shape);
  }
  return new ProtoWriter().string(1, spec.name).message(2, new ProtoWriter().message(1, tensorType));
}

export const OPSET_VERSION = 18;

export function encodeModel(graph: GraphSpec): Uint8Array {
  const g = new ProtoWriter();
  graph.nodes.forEach((n, i) => {
    const node = new ProtoWriter();
    for (const x of n.inputs) node.string(1, x);
    for (const y of n.outputs) node.string(2, y);
    node.string(3, `n${i}`).string(4, n.op);
    if (n.domain) node.string(7, n.domain);
    for (const [k, v] of Object.entries(n.attrs ?? {})) node.message(5, attributeProto(k, v));
    g.message(1, node);
  });
  g.string(2, 'attn');
  for (const init of graph.initializers) g.message(5, tensorProto(init));
  for (const v of graph.inputs) g.message(11, valueInfo(v));
  for (const v of graph.outputs) g.message(12, valueInfo(v));
  const model = new ProtoWriter()
    .int(1, 8) // ir_version 8 goes with opset 18
    .string(2, 'attn')
    .message(7, g)
    .message(8, new ProtoWriter().string(1, '').int(2, OPSET_VERSION));
  // onnxruntime's contrib ops (quantized matmuls) are version 1 of their domain.
  for (const domain of new Set(graph.nodes.flatMap((n) => (n.domain ? [n.domain] : [])))) {
    model.message(8, new ProtoWriter().string(1, domain).int(2, 1));
  }
  return model.finish();
}
