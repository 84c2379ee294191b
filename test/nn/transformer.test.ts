import { describe, expect, it } from 'vitest';
import { Generator, noGrad, ops, Tensor, tensor } from '../../src/tensor/index.js';
import {
  Transformer,
  TransformerDecoder,
  TransformerDecoderLayer,
  TransformerEncoderLayer,
  attentionBias,
  type DecoderLayerCache,
  type Parameter,
  type TransformerLayerOptions,
} from '../../src/nn/index.js';
import { expectClose, seeded, timeSlice } from './helpers.js';

const layerOptions = (extra: Partial<TransformerLayerOptions> = {}): TransformerLayerOptions => ({
  dModel: 8,
  numHeads: 2,
  dFF: 16,
  dropout: 0,
  std: 0.3,
  generator: new Generator(5),
  ...extra,
});

function rowStats(t: Tensor, width: number): Array<{ mean: number; variance: number }> {
  const out = [];
  for (let r = 0; r < t.size / width; r++) {
    const row = Array.from(t.data.subarray(r * width, (r + 1) * width));
    const mean = row.reduce((a, b) => a + b, 0) / width;
    out.push({ mean, variance: row.reduce((a, b) => a + (b - mean) ** 2, 0) / width });
  }
  return out;
}

/** HF's (B, S) 1/0 mask as the additive bias every query shares. */
function padding(mask: Tensor): Tensor {
  return attentionBias(mask, { batch: mask.shape[0]!, queryLength: 1, keyLength: mask.shape[1]!, causal: false })!;
}

describe('TransformerEncoderLayer', () => {
  const x = seeded([2, 5, 8], 1);

  it('post-norm ends in a LayerNorm; pre-norm adds to the residual stream', () => {
    const post = new TransformerEncoderLayer(layerOptions());
    for (const { mean, variance } of rowStats(post.forward(x).hidden, 8)) {
      expect(mean).toBeCloseTo(0, 5);
      expect(variance).toBeCloseTo(1, 3);
    }
    const pre = new TransformerEncoderLayer(layerOptions({ normFirst: true }));
    // With the sublayers' output projections zeroed, a pre-norm layer is the identity.
    pre.self_attn.out_proj.weight.data.fill(0);
    pre.self_attn.out_proj.bias!.data.fill(0);
    const ff = pre.feed_forward as { fc2: { weight: Parameter; bias: Parameter | null } };
    ff.fc2.weight.data.fill(0);
    ff.fc2.bias!.data.fill(0);
    expectClose(pre.forward(x).hidden, x, 0);
  });

  it('names its parameters as HF BART does', () => {
    const names = new TransformerEncoderLayer(layerOptions()).namedParameters().map(([n]) => n);
    expect(names).toEqual([
      'self_attn.q_proj.weight',
      'self_attn.q_proj.bias',
      'self_attn.k_proj.weight',
      'self_attn.k_proj.bias',
      'self_attn.v_proj.weight',
      'self_attn.v_proj.bias',
      'self_attn.out_proj.weight',
      'self_attn.out_proj.bias',
      'self_attn_layer_norm.weight',
      'self_attn_layer_norm.bias',
      'feed_forward.fc1.weight',
      'feed_forward.fc1.bias',
      'feed_forward.fc2.weight',
      'feed_forward.fc2.bias',
      'final_layer_norm.weight',
      'final_layer_norm.bias',
    ]);
  });

  it('Llama-style options: RMSNorm, SwiGLU, grouped-query attention, no biases', () => {
    const layer = new TransformerEncoderLayer(
      layerOptions({ norm: 'rmsnorm', activation: 'swiglu', numKeyValueHeads: 1, bias: false, normFirst: true }),
    );
    expect(layer.self_attn.k_proj.weight.shape).toEqual([4, 8]);
    expect(layer.namedParameters().map(([n]) => n)).toContain('feed_forward.gate_proj.weight');
    expect(layer.forward(x).hidden.shape).toEqual([2, 5, 8]);
  });

  it('padding: outputs at real tokens do not depend on padded ones', () => {
    const layer = new TransformerEncoderLayer(layerOptions());
    const mask = padding(
      tensor(
        [
          [1, 1, 1, 0, 0],
          [1, 1, 1, 0, 0],
        ],
        { dtype: 'int32' },
      ),
    );
    const a = layer.forward(x, { mask }).hidden;
    const changed = ops.concat([ops.slice(x, 1, 0, 3), seeded([2, 2, 8], 9)], 1);
    expectClose(timeSlice(layer.forward(changed, { mask }).hidden, 0, 3), timeSlice(a, 0, 3), 1e-5);
  });

  it.each([false, true])('gradients match central finite differences (normFirst %s)', (normFirst) => {
    // float32: eps 1e-2 and a relative tolerance of 2e-2 (plus a small absolute floor) as float32 allows.
    const layer = new TransformerEncoderLayer({
      dModel: 4,
      numHeads: 2,
      dFF: 8,
      dropout: 0,
      activation: 'gelu',
      normFirst,
      std: 0.5,
      generator: new Generator(2),
    });
    const input = seeded([1, 3, 4], 3).requireGrad();
    const probe = seeded([1, 3, 4], 4);
    const mask = padding(tensor([[1, 1, 0]], { dtype: 'int32' }));
    const loss = (): Tensor => ops.sum(ops.mul(layer.forward(input, { mask }).hidden, probe));
    loss().backward();
    const eps = 1e-2;
    const checked: Array<[string, Tensor]> = [['input', input], ...layer.namedParameters()];
    for (const [name, t] of checked) {
      const analytic = t.grad!;
      expect(analytic, name).toBeTruthy();
      for (const i of [0, Math.floor(t.size / 2), t.size - 1]) {
        const original = t.data[i]!;
        const at = (v: number): number => {
          t.data[i] = v;
          const value = noGrad(() => loss().item());
          t.data[i] = original;
          return value;
        };
        const numeric = (at(original + eps) - at(original - eps)) / (2 * eps);
        const a = analytic.data[i]!;
        expect(Math.abs(a - numeric), `${name}[${i}]: analytic ${a}, numeric ${numeric}`).toBeLessThanOrEqual(
          2e-2 * Math.max(Math.abs(a), Math.abs(numeric)) + 2e-3,
        );
      }
    }
  });
});

describe('TransformerDecoderLayer', () => {
  const tgt = seeded([2, 4, 8], 11);
  const memory = seeded([2, 3, 8], 12);
  const memoryMask = padding(
    tensor(
      [
        [1, 1, 1],
        [1, 1, 0],
      ],
      { dtype: 'int32' },
    ),
  );

  it.each([false, true])('cached step-by-step decoding equals the full pass (normFirst %s)', (normFirst) => {
    noGrad(() => {
      const layer = new TransformerDecoderLayer(layerOptions({ normFirst })).eval();
      const full = layer.forward(tgt, { encoderHiddenStates: memory, encoderMask: memoryMask, outputAttentions: true });
      expect(full.selfAttention!.shape).toEqual([2, 2, 4, 4]);
      expect(full.crossAttention!.shape).toEqual([2, 2, 4, 3]);
      let cache: DecoderLayerCache | undefined;
      const steps: Tensor[] = [];
      for (let t = 0; t < 4; t++) {
        const out = layer.forward(ops.slice(tgt, 1, t, t + 1), {
          encoderHiddenStates: memory,
          encoderMask: memoryMask,
          pastKeyValue: cache,
          useCache: true,
        });
        cache = out.presentKeyValue!;
        steps.push(out.hidden);
      }
      expectClose(ops.concat(steps, 1), full.hidden, 1e-5);
      expect(cache!.self.key.shape).toEqual([2, 2, 4, 4]);
      expect(cache!.cross!.key.shape).toEqual([2, 2, 3, 4]);
    });
  });

  it('without cross-attention it is a GPT block', () => {
    const block = new TransformerDecoderLayer({ ...layerOptions({ normFirst: true }), crossAttention: false });
    expect(block.encoder_attn).toBeNull();
    expect(block.namedParameters().some(([n]) => n.startsWith('encoder_attn'))).toBe(false);
    const out = block.forward(tgt).hidden;
    const changed = ops.concat([ops.slice(tgt, 1, 0, 2), seeded([2, 2, 8], 13)], 1);
    expectClose(timeSlice(block.forward(changed).hidden, 0, 2), timeSlice(out, 0, 2), 1e-5);
  });

  it('asks for the encoder output when it has cross-attention', () => {
    expect(() => new TransformerDecoderLayer(layerOptions()).forward(tgt)).toThrow(
      /cross-attention needs keyValueStates/,
    );
  });
});

describe('Transformer (encoder–decoder)', () => {
  const model = new Transformer({
    dModel: 8,
    numHeads: 2,
    dFF: 16,
    numEncoderLayers: 2,
    numDecoderLayers: 2,
    dropout: 0,
    generator: new Generator(8),
  });
  const src = seeded([2, 5, 8], 21);
  const tgt = seeded([2, 4, 8], 22);
  const srcMask = tensor(
    [
      [1, 1, 1, 1, 1],
      [1, 1, 1, 0, 0],
    ],
    { dtype: 'int32' },
  );

  it('maps (B, S, C) and (B, T, C) to (B, T, C), with torch.nn.Transformer-like structure', () => {
    expect(model.forward(src, tgt, { srcMask }).shape).toEqual([2, 4, 8]);
    const names = model.namedParameters().map(([n]) => n);
    expect(names).toContain('encoder.layers.1.self_attn.q_proj.weight');
    expect(names).toContain('decoder.layers.0.encoder_attn.k_proj.weight');
    expect(names.filter((n) => n.endsWith('.weight')).length).toBe(2 * 8 + 2 * 13);
  });

  it('the target attends causally and padded source tokens are ignored', () => {
    const out = model.forward(src, tgt, { srcMask });
    const futureChanged = ops.concat([ops.slice(tgt, 1, 0, 2), seeded([2, 2, 8], 23)], 1);
    expectClose(timeSlice(model.forward(src, futureChanged, { srcMask }), 0, 2), timeSlice(out, 0, 2), 1e-5);
    const padChanged = ops.concat([ops.slice(src, 1, 0, 3), ops.mul(ops.slice(src, 1, 3), 5)], 1);
    const row1 = (t: Tensor): number[] => Array.from(t.data.subarray(32));
    expectClose(row1(model.forward(padChanged, tgt, { srcMask })), row1(out), 1e-5);
  });

  it('the decoder stack decodes incrementally with a Seq2SeqCache', () => {
    noGrad(() => {
      const decoder: TransformerDecoder = model.decoder;
      const memory = model.encoder.forward(src, { attentionMask: srcMask }).lastHiddenState;
      const full = decoder.forward(tgt, { encoderHiddenStates: memory, encoderAttentionMask: srcMask }).lastHiddenState;
      let past = null;
      const steps: Tensor[] = [];
      for (let t = 0; t < 4; t++) {
        const out = decoder.forward(ops.slice(tgt, 1, t, t + 1), {
          encoderHiddenStates: memory,
          encoderAttentionMask: srcMask,
          pastKeyValues: past,
          useCache: true,
        });
        past = out.pastKeyValues!;
        steps.push(out.lastHiddenState);
      }
      expectClose(ops.concat(steps, 1), full, 1e-5);
      expect(past!.self.length).toBe(2);
      expect(past!.cross.length).toBe(2);
    });
  });

  it('pre-norm stacks end with a final norm and report hidden states and attentions', () => {
    const pre = new Transformer({
      dModel: 8,
      numHeads: 2,
      dFF: 16,
      numEncoderLayers: 2,
      numDecoderLayers: 1,
      dropout: 0,
      normFirst: true,
    });
    expect(pre.encoder.layer_norm).not.toBeNull();
    const out = pre.encoder.forward(src, { outputHiddenStates: true, outputAttentions: true });
    expect(out.hiddenStates!.length).toBe(3);
    expect(out.attentions!.map((a) => a.shape)).toEqual([
      [2, 2, 5, 5],
      [2, 2, 5, 5],
    ]);
    expect(model.encoder.layer_norm).toBeNull();
  });
});
