// Half-precision weights in a graph capture: each weight is one initializer however often it is read, and the
// compiled graph computes what the eager run computed.
import { describe, expect, it } from 'vitest';
import { capture } from '../../src/backends/onnx/capture.js';
import { narrowToHalf } from '../../src/tensor/half.js';
import * as ops from '../../src/tensor/ops.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

describe('half-precision weights in a captured graph', () => {
  it('keeps one initializer per weight even when more weights are read between two reads of it', () => {
    const g = new Generator(3);
    const weight = (): Tensor =>
      new Tensor(
        narrowToHalf(
          Float32Array.from({ length: 64 }, () => g.normal() * 0.1),
          'F16',
        ),
        [8, 8],
      );
    const weights = { w0: weight(), w1: weight(), w2: weight() };
    const x = new Tensor(
      Float32Array.from({ length: 16 }, () => g.normal()),
      [2, 8],
    );
    const graph = capture(
      ({ x: input }) => {
        let h = input!;
        for (let round = 0; round < 2; round++) for (const w of Object.values(weights)) h = ops.matmul(h, w);
        return { y: h };
      },
      { inputs: { x }, initializers: weights },
    );
    const eager = graph.firstOutputs.y!.data;
    const weightInits = graph.spec.initializers.filter(
      (init) => init.dims.length === 2 && init.dims[0] === 8 && init.dims[1] === 8,
    );
    expect(weightInits.map((init) => init.name).sort()).toEqual(['w0', 'w1', 'w2']);
    expect(graph.run({ x }).y!.data).toEqual(eager);
    graph.dispose();
  });
});
