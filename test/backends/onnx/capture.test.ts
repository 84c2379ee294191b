import { describe, expect, it } from 'vitest';
import { capture, CaptureError, GraphGuardError, GraphInputError } from '../../../src/backends/onnx/capture.js';
import { randn, randomTensor, stepScalar, tensor } from '../../../src/tensor/creation.js';
import { tidy } from '../../../src/tensor/engine.js';
import { Generator } from '../../../src/tensor/random.js';
import type { Tensor } from '../../../src/tensor/tensor.js';

function close(a: Tensor, b: Tensor, tol = 1e-6): void {
  expect(a.shape).toEqual(b.shape);
  const x = a.data;
  const y = b.data;
  for (let i = 0; i < x.length; i++) expect(Math.abs(x[i]! - y[i]!)).toBeLessThanOrEqual(tol * (1 + Math.abs(y[i]!)));
}

describe('capture', () => {
  it('replays a function with reshapes, constants and several outputs, on new inputs', () => {
    const f = (inputs: Record<string, Tensor>): Record<string, Tensor> => {
      const x = inputs.x!; // (2, 3, 4)
      const w = inputs.w!; // (4, 5)
      const h = x.reshape([6, 4]).matmul(w).gelu().add(1).reshape([2, 3, 5]);
      return { y: h.softmax(-1), s: h.sum([1]).mul(x.slice(2, 0, 1).reshape([2, 3]).sum(1, true)), x: x };
    };
    const x = randn([2, 3, 4]);
    const w = randn([4, 5]);
    const graph = capture(f, { inputs: { x, w } });
    const eager = f({ x, w });
    for (const k of ['y', 's', 'x']) close(graph.firstOutputs[k]!, eager[k]!);
    const x2 = randn([2, 3, 4]);
    const replay = graph.run({ x: x2, w });
    const expected = f({ x: x2, w });
    for (const k of ['y', 's', 'x']) close(replay[k]!, expected[k]!, 1e-5);
  });

  it('differentiates: a recorded backward pass gives the eager gradients', () => {
    const f = (inputs: Record<string, Tensor>): Record<string, Tensor> => {
      const w = inputs.w!.detach().requireGrad();
      const loss = inputs.x!.matmul(w).tanh().mul(inputs.x!.sum()).mean();
      loss.backward();
      return { loss, grad: w.grad! };
    };
    const x = randn([3, 4]);
    const w = randn([4, 2]);
    const graph = capture(f, { inputs: { x, w } });
    const x2 = randn([3, 4]);
    const replay = graph.run({ x: x2, w });
    const expected = f({ x: x2, w });
    close(replay.loss!, expected.loss!, 1e-5);
    close(replay.grad!, expected.grad!, 1e-5);
  });

  it('feeds step scalars and draws random inputs again on every run, in order', () => {
    const gen = new Generator(7);
    const f = (inputs: Record<string, Tensor>): Record<string, Tensor> => {
      const mask = randomTensor([5], () => Float32Array.from({ length: 5 }, () => (gen.random() < 0.5 ? 0 : 2)));
      return { y: inputs.x!.mul(mask).mul(stepScalar('lr', 0.1)) };
    };
    const x = tensor([1, 2, 3, 4, 5]);
    const graph = capture(f, { inputs: { x } });
    expect(graph.stepScalars).toEqual(['lr']);
    const replayGen = new Generator(7);
    const drawMask = (): Float32Array => Float32Array.from({ length: 5 }, () => (replayGen.random() < 0.5 ? 0 : 2));
    drawMask(); // the capture's own (eager) draw
    const out = graph.run({ x, lr: 0.5 });
    const mask = drawMask();
    expect(Array.from(out.y!.data)).toEqual(Array.from(x.data, (v, i) => Math.fround(Math.fround(v * mask[i]!) * 0.5)));
  });

  it('records in-place assignments as new values of the storage', () => {
    const p = tensor([1, 2, 3]);
    const f = (inputs: Record<string, Tensor>): Record<string, Tensor> => {
      const param = inputs.p!;
      param.assign(param.mul(2));
      return { p: param, q: param.add(1) };
    };
    const graph = capture(f, { inputs: { p } });
    expect(Array.from(p.data)).toEqual([2, 4, 6]);
    const out = graph.run({ p: tensor([1, 1, 1]) });
    expect(Array.from(out.p!.data)).toEqual([2, 2, 2]);
    expect(Array.from(out.q!.data)).toEqual([3, 3, 3]);
  });

  it('names the shapes when a feed does not fit, and guards inputs JS read', () => {
    const graph = capture((i) => ({ y: i.x!.mul(2) }), { inputs: { x: randn([2, 3]) } });
    expect(() => graph.run({ x: randn([2, 4]) })).toThrow(GraphInputError);
    expect(() => graph.run({ x: randn([2, 4]) })).toThrow(/'x' was recorded as float32 \[2, 3\], got float32 \[2, 4\]/);
    expect(() => graph.run({})).toThrow(/no feed for input 'x'/);
    const guarded = capture((i) => ({ y: i.x!.mul(i.x!.data[0]!) }), { inputs: { x: tensor([3, 1]) } });
    expect(Array.from(guarded.run({ x: tensor([3, 1]) }).y!.data)).toEqual([9, 3]);
    expect(() => guarded.run({ x: tensor([4, 2]) })).toThrow(GraphGuardError);
  });

  it('refuses JS reading computed values, returning the eager results', () => {
    const x = tensor([1, 2]);
    try {
      capture((i) => ({ y: i.x!.mul(i.x!.sum().item()) }), { inputs: { x } });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(CaptureError);
      expect((err as CaptureError).message).toMatch(/read the values of a reduceSum result/);
      expect(Array.from((err as CaptureError).outputs.y!.data)).toEqual([3, 6]);
    }
  });

  it('serializes with chosen inputs as initializers', () => {
    tidy(() => {
      const graph = capture((i) => ({ y: i.x!.add(i.b!) }), { inputs: { x: randn([2]), b: randn([2]) } });
      const bytes = graph.toModel({ initializers: { b: tensor([1, 2]) } });
      expect(bytes.length).toBeGreaterThan(50);
      expect(() => graph.toModel({ initializers: { nope: tensor([1]) } })).toThrow(/no input named 'nope'/);
    });
  });
});
