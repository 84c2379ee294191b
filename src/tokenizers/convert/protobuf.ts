// Just enough of the protobuf wire format to read a SentencePiece ModelProto: varints, 32-bit floats and
// length-delimited sub-messages. Unknown fields are skipped, so newer SentencePiece files still load.

export type WireValue = number | Uint8Array;

export interface WireField {
  field: number;
  value: WireValue;
}

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LENGTH_DELIMITED = 2;
const WIRE_FIXED32 = 5;

/** Reads every top-level field of one message. Throws a RangeError naming the byte offset on truncated input. */
export function readFields(bytes: Uint8Array): WireField[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const fields: WireField[] = [];
  let pos = 0;

  const varint = (): number => {
    let result = 0;
    let low32 = 0;
    let shift = 0;
    for (;;) {
      if (pos >= bytes.length) throw new RangeError(`protobuf: varint runs past the end at byte ${pos}`);
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (shift < 32) low32 |= (b & 0x7f) << shift;
      shift += 7;
      // A negative int32 (e.g. SentencePiece's pad_id = -1) is written sign-extended to 10 bytes: its low 32 bits
      // are the value. Nothing in a ModelProto is a genuine integer above 2^53.
      if ((b & 0x80) === 0) return result > Number.MAX_SAFE_INTEGER ? low32 | 0 : result;
    }
  };
  const need = (n: number) => {
    if (pos + n > bytes.length) throw new RangeError(`protobuf: field needs ${n} bytes at byte ${pos}, past the end`);
  };

  while (pos < bytes.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === WIRE_VARINT) {
      fields.push({ field, value: varint() });
    } else if (wire === WIRE_FIXED32) {
      need(4);
      fields.push({ field, value: view.getFloat32(pos, true) });
      pos += 4;
    } else if (wire === WIRE_FIXED64) {
      need(8);
      fields.push({ field, value: view.getFloat64(pos, true) });
      pos += 8;
    } else if (wire === WIRE_LENGTH_DELIMITED) {
      const length = varint();
      need(length);
      fields.push({ field, value: bytes.subarray(pos, pos + length) });
      pos += length;
    } else {
      throw new RangeError(`protobuf: unsupported wire type ${wire} for field ${field} at byte ${pos}`);
    }
  }
  return fields;
}
