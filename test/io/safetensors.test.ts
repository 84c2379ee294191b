import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';
import {
  loadSafetensors,
  loadShardedSafetensors,
  parseSafetensors,
  saveShardedSafetensors,
  serializeSafetensors,
} from '../../src/io/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { goldenPath } from '../models/golden.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'attn-safetensors-'));

/** A file from a hand-written header and data bytes. */
function fileWith(header: object, data = new Uint8Array(0)): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

describe('safetensors', () => {
  const tensors = new Map<string, Tensor>([
    ['b.weight', Tensor.from([0.5, -1.25, 3e-8, 65504, 1 / 3, -0], [2, 3])],
    ['a.ids', Tensor.from([1, -2, 2147483647], [3], 'int32')],
    ['mask', Tensor.from([1, 0, 1], [3], 'bool')],
    ['empty', Tensor.from([], [0, 4])],
  ]);

  it('round-trips float32, int32 and bool exactly, and lays the header out as the Rust library does', () => {
    const bytes = serializeSafetensors(tensors, { metadata: { format: 'pt' } });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + headerLength));
    // __metadata__ first, then by dtype descending (F32 > I32 > BOOL), then by name; spaces pad to 8.
    expect(header.trimEnd()).toBe(
      '{"__metadata__":{"format":"pt"},"b.weight":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"empty":{"dtype":"F32","shape":[0,4],"data_offsets":[24,24]},' +
        '"a.ids":{"dtype":"I32","shape":[3],"data_offsets":[24,36]},"mask":{"dtype":"BOOL","shape":[3],"data_offsets":[36,39]}}',
    );
    const back = parseSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'pt' });
    for (const [name, t] of tensors) {
      expect(back.tensors.get(name)!.dtype).toBe(t.dtype);
      expect([...back.tensors.get(name)!.shape]).toEqual([...t.shape]);
      expect(back.tensors.get(name)!.data).toEqual(t.data);
    }
  });

  it('writes and reads F16, BF16 and I64 (floats upcast to float32, I64 narrowed to int32)', () => {
    const floats = new Map([['x', Tensor.from([1, -2.5, 0.1, 65504, 1e-7, 3.140625], [6])]]);
    const half = parseSafetensors(serializeSafetensors(floats, { floatDtype: 'F16' })).tensors.get('x')!;
    expect([...half.data]).toEqual([1, -2.5, 0.0999755859375, 65504, 1.1920928955078125e-7, 3.140625]);
    const bf16 = parseSafetensors(serializeSafetensors(floats, { floatDtype: 'BF16' })).tensors.get('x')!;
    expect([...bf16.data]).toEqual([1, -2.5, 0.10009765625, 65536, 1.0011717677116394e-7, 3.140625]);
    const wide = parseSafetensors(
      serializeSafetensors({ ids: Tensor.from([5, -7], [2], 'int32') }, { intDtype: 'I64' }),
    ).tensors.get('ids')!;
    expect(wide.dtype).toBe('int32');
    expect([...wide.data]).toEqual([5, -7]);
  });

  it('reads U8 as int32', () => {
    const t = parseSafetensors(
      fileWith({ u: { dtype: 'U8', shape: [2], data_offsets: [0, 2] } }, Uint8Array.of(7, 255)),
    ).tensors.get('u')!;
    expect(t.dtype).toBe('int32');
    expect([...t.data]).toEqual([7, 255]);
  });

  it('names the file and the tensor in every corruption it detects', () => {
    const f = 'bad.safetensors';
    expect(() => parseSafetensors(Uint8Array.of(1, 2), f)).toThrow(/bad\.safetensors: not a safetensors file/);
    const full = serializeSafetensors(tensors);
    expect(() => parseSafetensors(full.subarray(0, full.length - 2), f)).toThrow(
      /bad\.safetensors: tensor 'mask' ends at byte 39 but the data holds 37: the file is truncated/,
    );
    expect(() => parseSafetensors(full.subarray(0, 40), f)).toThrow(/header length \d+ exceeds the file/);
    const notJson = fileWith({});
    notJson[9] = 0x7b;
    notJson[8] = 0x5b;
    expect(() => parseSafetensors(notJson, f)).toThrow(/header is not valid UTF-8 JSON/);
    expect(() =>
      parseSafetensors(fileWith({ w: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), f),
    ).toThrow(/bad\.safetensors: tensor 'w' has dtype "F8"; supported: BOOL, U8, (I8, )?F16, BF16, I32, F32, I64/);
    expect(() =>
      parseSafetensors(fileWith({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(8)), f),
    ).toThrow(/tensor 'w': F32 \[3\] needs 12 bytes, but data_offsets \[0, 8\] hold 8/);
    const gap = fileWith(
      { a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] }, b: { dtype: 'U8', shape: [1], data_offsets: [2, 3] } },
      new Uint8Array(3),
    );
    expect(() => parseSafetensors(gap, f)).toThrow(/tensor 'b' starts at byte 2 of the data, expected 1/);
    expect(() =>
      parseSafetensors(fileWith({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(4)), f),
    ).toThrow(/cover 1 bytes of data but the file holds 4/);
    const big = new Uint8Array(8);
    new DataView(big.buffer).setBigInt64(0, 1n << 40n, true);
    expect(() => parseSafetensors(fileWith({ i: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, big), f)).toThrow(
      /tensor 'i': I64 value 1099511627776 at index 0 does not fit in int32/,
    );
  });

  it('shards above a size limit and loads the shards back through the index', async () => {
    const dir = scratch();
    const many = new Map(
      Array.from({ length: 5 }, (_, i) => [
        `layer.${i}.weight`,
        Tensor.from(
          Array.from({ length: 100 }, (_, j) => i * 100 + j),
          [10, 10],
        ),
      ]),
    );
    const written = await saveShardedSafetensors(dir, many, { maxShardBytes: 900 });
    expect(written).toEqual([
      'model-00001-of-00003.safetensors',
      'model-00002-of-00003.safetensors',
      'model-00003-of-00003.safetensors',
      'model.safetensors.index.json',
    ]);
    const index = JSON.parse(readFileSync(join(dir, 'model.safetensors.index.json'), 'utf8'));
    expect(index.metadata.total_size).toBe(2000);
    const back = await loadShardedSafetensors(join(dir, 'model.safetensors.index.json'));
    for (const [name, t] of many) expect(back.tensors.get(name)!.data).toEqual(t.data);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ weight_map: { ...index.weight_map, ghost: 'model-00001-of-00003.safetensors' } }),
    );
    await expect(loadShardedSafetensors(join(dir, 'model.safetensors.index.json'))).rejects.toThrow(
      /tensor 'ghost' is mapped to model-00001-of-00003\.safetensors, which does not hold it/,
    );
  });
});

describe('safetensors golden file', () => {
  it('reads a file written by transformers and re-serializes it byte for byte', async () => {
    const path = goldenPath('bert', 'model', 'model.safetensors');
    const { tensors, metadata } = await loadSafetensors(path);
    expect(metadata).toEqual({ format: 'pt' });
    expect([...tensors.get('embeddings.word_embeddings.weight')!.shape]).toEqual([500, 32]);
    expect(Buffer.compare(Buffer.from(serializeSafetensors(tensors, { metadata })), readFileSync(path))).toBe(0);
  });
});
