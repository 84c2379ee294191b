// Reading safetensors from disk: only regular files, sizes checked against the header before reading, half
// precision kept as stored.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSafetensors, SafetensorsReader, serializeSafetensors } from '../../src/io/safetensors.js';
import { Tensor } from '../../src/tensor/tensor.js';

const dir = mkdtempSync(join(tmpdir(), 'attn-safetensors-files-'));
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('safetensors files', () => {
  it('refuses a symlink to /dev/zero and a FIFO at once, naming what the path is', async () => {
    const zero = join(dir, 'zero.safetensors');
    symlinkSync('/dev/zero', zero);
    await expect(loadSafetensors(zero)).rejects.toThrow(
      `${zero}: the safetensors file is a character device (such as /dev/zero); attn reads only regular files`,
    );
    const fifo = join(dir, 'fifo.safetensors');
    execFileSync('mkfifo', [fifo]);
    // Opening a FIFO without a writer would block forever; it must be refused instead.
    await expect(loadSafetensors(fifo)).rejects.toThrow(
      `${fifo}: the safetensors file is a FIFO (named pipe); attn reads only regular files`,
    );
    await expect(loadSafetensors(dir)).rejects.toThrow(/is a directory; attn reads only regular files/);
  });

  it('checks the header against the file size before reading tensors', async () => {
    const path = join(dir, 'lying.safetensors');
    const header = JSON.stringify({ w: { dtype: 'F32', shape: [1_000_000_000], data_offsets: [0, 4_000_000_000] } });
    const bytes = new Uint8Array(8 + header.length + 16);
    new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
    bytes.set(new TextEncoder().encode(header), 8);
    writeFileSync(path, bytes);
    await expect(SafetensorsReader.open(path)).rejects.toThrow(
      `${path}: tensor 'w' ends at byte 4000000000 but the data holds 16: the file is truncated`,
    );
  });

  it('keeps F16 and BF16 tensors as their bits, reads them as float32, and writes them back unchanged', async () => {
    const values = Tensor.from([1, -2.5, 0.1, 65504, 1e-7, 3.140625], [2, 3]);
    for (const format of ['F16', 'BF16'] as const) {
      const path = join(dir, `${format}.safetensors`);
      const bytes = serializeSafetensors({ x: values }, { floatDtype: format });
      writeFileSync(path, bytes);
      const kept = (await loadSafetensors(path)).tensors.get('x')!;
      expect(kept.halfStorage?.format).toBe(format);
      expect(kept.dtype).toBe('float32');
      const widened = (await loadSafetensors(path, { keepHalf: false })).tensors.get('x')!;
      expect(widened.halfStorage).toBeNull();
      expect(kept.data).toEqual(widened.data);
      expect(kept.data[0]).toBe(1);
      expect(kept.data[1]).toBe(-2.5);
      // No floatDtype: a half tensor is written in its own format, bit for bit.
      expect(Buffer.compare(Buffer.from(serializeSafetensors({ x: kept })), readFileSync(path))).toBe(0);
    }
  });

  it('reads each tensor at its offset, and a file that shrank after its header was read is an error', async () => {
    const path = join(dir, 'shrinking.safetensors');
    const a = Tensor.from([1, 2, 3, 4], [4]);
    const b = Tensor.from([5, 6], [2], 'int32');
    writeFileSync(path, serializeSafetensors({ a, b }));
    const reader = await SafetensorsReader.open(path);
    expect([...(await reader.read('b')).data]).toEqual([5, 6]);
    expect([...(await reader.read('a')).data]).toEqual([1, 2, 3, 4]);
    writeFileSync(path, readFileSync(path).subarray(0, 40));
    await expect(reader.read('a')).rejects.toThrow(
      /tensor 'a' ends after \d+ of 16 bytes: the file shrank while it was read/,
    );
    await reader.close();
  });
});
