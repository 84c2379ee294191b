import { describe, expect, it } from 'vitest';
import { progress } from '../../src/util/progress.js';

function capture(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, stream: { isTTY, columns: 200, write: (chunk: string) => chunks.push(chunk) } };
}

describe('progress', () => {
  it('writes JSON lines off a terminal, with count, total, rate and the latest fields', () => {
    const { chunks, stream } = capture(false);
    const bar = progress({ label: 'train', total: 4, stream, intervalMs: 0 });
    bar.tick(1, { loss: 2.5, lr: 5e-5 });
    bar.tick(2, { loss: 2.25 });
    bar.tick();
    bar.done({ accuracy: 0.75 });
    const records = chunks.map((line) => JSON.parse(line));
    // The tick that reaches the total leaves the last line to done().
    expect(records.map((r) => r.n)).toEqual([1, 3, 4]);
    expect(records[1]).toMatchObject({ label: 'train', n: 3, total: 4, loss: 2.25, lr: 5e-5 });
    expect(records[1].eta_s).toBeGreaterThanOrEqual(0);
    expect(records[2]).toMatchObject({ n: 4, finished: true, accuracy: 0.75, loss: 2.25 });
    expect(chunks.every((line) => line.endsWith('\n'))).toBe(true);
  });

  it('throttles: with a long interval only the first tick and done write', () => {
    const { chunks, stream } = capture(false);
    const bar = progress({ label: 'map', total: 1000, stream, intervalMs: 60_000 });
    for (let i = 0; i < 999; i++) bar.tick();
    bar.done();
    bar.done();
    bar.tick();
    expect(chunks.map((c) => JSON.parse(c).n)).toEqual([1, 999]);
  });

  it('draws a bar in place on a terminal, with percent, counts and fields, and ends the line when done', () => {
    const { chunks, stream } = capture(true);
    const bar = progress({ label: 'train', total: 10, stream, intervalMs: 0 });
    bar.tick(5, { loss: 0.123456, lr: 0.00002, split: 'dev' });
    bar.done();
    expect(chunks[0]).toMatch(
      /^\rtrain  50% \|█{12} {12}\| 5\/10 it \[\d\d:\d\d<\d\d:\d\d, .* it\/s\] loss=0\.1235 lr=2\.00e-5 split=dev\x1b\[K$/,
    );
    expect(chunks[1]).toMatch(/^\rtrain  50% .* loss=0\.1235 lr=2\.00e-5 split=dev\x1b\[K\n$/);
  });

  it('shows bytes in binary units and works without a total', () => {
    const { chunks, stream } = capture(true);
    const bar = progress({ label: 'model.safetensors', unit: 'B', stream, intervalMs: 0 });
    bar.tick(3 * 1024 * 1024);
    expect(chunks[0]).toMatch(/^\rmodel\.safetensors 3\.0 MiB \[/);
  });

  it('fits a training line into 80 columns without cutting a value: the bar narrows or goes first', () => {
    const chunks: string[] = [];
    const stream = { isTTY: true, columns: 80, write: (chunk: string) => chunks.push(chunk) };
    const bar = progress({ label: 'train', total: 12_000, unit: 'step', stream, intervalMs: 0 });
    bar.tick(3_456, { loss: 2.345678, lr: 4.99e-5, grad_norm: 1.2345 });
    const line = chunks[0]!.replace(/^\r/, '').replace('\x1b[K', '');
    expect(line.length).toBeLessThanOrEqual(79);
    expect(line).toMatch(/ loss=2\.346 lr=4\.99e-5( grad_norm=1\.23\d)?$/);
  });

  it('prints a note (an evaluation) as its own line above the bar, or as a JSON record', () => {
    const tty = capture(true);
    const bar = progress({ label: 'train', total: 4, stream: tty.stream, intervalMs: 0 });
    bar.tick(2, { loss: 1 });
    bar.note('eval epoch 1', { eval_loss: 0.5, eval_accuracy: 0.875 });
    expect(tty.chunks[1]).toBe('\r\x1b[Keval epoch 1 eval_loss=0.5 eval_accuracy=0.875\n');
    expect(tty.chunks[2]).toMatch(/^\rtrain  50% /);
    const plain = capture(false);
    progress({ label: 'train', total: 4, stream: plain.stream }).note('eval epoch 1', { eval_loss: 0.5 });
    expect(JSON.parse(plain.chunks[0]!)).toEqual({ label: 'train', note: 'eval epoch 1', eval_loss: 0.5 });
  });
});
