// nn/rotary.ts against independent computations: Llama 3.1's frequency rescaling written as transformers' vectorised
// form (torch.where over wavelengths) in float64, dynamic NTK's theta from the golden README's check value, linear
// scaling as halved positions, and the defining property of RoPE (scores depend on relative position only).
import { describe, expect, it } from 'vitest';
import { LlamaConfig } from '../../src/models/llama/configuration_llama.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { inverseFrequencies, parseRopeScaling, RotaryEmbedding } from '../../src/nn/rotary.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import { Tensor } from '../../src/tensor/tensor.js';

const LLAMA31 = {
  rope_type: 'llama3',
  factor: 8,
  low_freq_factor: 1,
  high_freq_factor: 4,
  original_max_position_embeddings: 8192,
};

/** transformers' _compute_llama3_parameters, transcribed as its tensor expressions (float64). */
function llama3Reference(theta: number, dim: number): number[] {
  const invFreq = Array.from({ length: dim / 2 }, (_, i) => 1 / theta ** ((2 * i) / dim));
  const { factor, low_freq_factor: low, high_freq_factor: high, original_max_position_embeddings: old } = LLAMA31;
  const wavelen = invFreq.map((f) => (2 * Math.PI) / f);
  const invFreqLlama = invFreq.map((f, i) => (wavelen[i]! > old / low ? f / factor : f));
  const smoothFactor = wavelen.map((w) => (old / w - low) / (high - low));
  const smoothed = invFreqLlama.map((f, i) => ((1 - smoothFactor[i]!) * f) / factor + smoothFactor[i]! * f);
  const isMedium = wavelen.map((w) => !(w < old / high) && !(w > old / low));
  return invFreqLlama.map((f, i) => (isMedium[i] ? smoothed[i]! : f));
}

const positions = (values: number[]) => new Tensor(Int32Array.from(values), [values.length]);

describe('rope scaling', () => {
  it('llama3: frequencies of Llama 3.1 8B (theta 500000, head 128) match the reference formula', () => {
    const rope = new RotaryEmbedding(128, { theta: 500000, scaling: parseRopeScaling(LLAMA31, 131072, 'config.json') });
    const got = rope.frequencies(10);
    const want = llama3Reference(500000, 128);
    want.forEach((w, i) => expect(Math.abs(got[i]! - w) / w).toBeLessThan(1e-6));
    // High frequencies (short wavelengths) are kept, the lowest ones slowed 8-fold, and some lie in between.
    const plain = inverseFrequencies(128, 500000);
    expect(got[0]).toBe(plain[0]);
    expect(got[63]! / plain[63]!).toBeCloseTo(1 / 8, 6);
    expect(Array.from(got).filter((f, i) => f / plain[i]! < 0.99 && f / plain[i]! > 0.13).length).toBeGreaterThan(0);
  });

  it('llama3: cos/sin at positions are cos/sin(position · frequency), with rotate_half signs', () => {
    const rope = new RotaryEmbedding(128, { theta: 500000, scaling: parseRopeScaling(LLAMA31, 131072, 'config.json') });
    const want = llama3Reference(500000, 128);
    const { cos, signedSin } = rope.angles(positions([0, 1, 37, 100]), 4);
    expect([...cos.shape]).toEqual([1, 1, 4, 128]);
    [0, 1, 37, 100].forEach((p, n) => {
      want.forEach((f, i) => {
        expect(Math.abs(cos.data[n * 128 + i]! - Math.cos(p * f))).toBeLessThan(2e-5);
        expect(Math.abs(cos.data[n * 128 + 64 + i]! - Math.cos(p * f))).toBeLessThan(2e-5);
        expect(Math.abs(signedSin.data[n * 128 + i]! + Math.sin(p * f))).toBeLessThan(2e-5);
        expect(Math.abs(signedSin.data[n * 128 + 64 + i]! - Math.sin(p * f))).toBeLessThan(2e-5);
      });
    });
  });

  it('rotated query·key scores depend only on the distance between positions (llama3 frequencies)', () => {
    const rope = new RotaryEmbedding(8, {
      theta: 500000,
      scaling: parseRopeScaling({ ...LLAMA31, original_max_position_embeddings: 64 }, 512, 'c'),
    });
    const q = new Tensor(Float32Array.from([0.3, -1.2, 0.5, 2, 1.1, -0.4, 0.7, 0.2]), [1, 1, 1, 8]);
    const k = new Tensor(Float32Array.from([-0.6, 0.9, 1.5, -0.3, 0.2, 0.8, -1.1, 0.4]), [1, 1, 1, 8]);
    const score = (m: number, n: number) => {
      const rq = RotaryEmbedding.rotate(q, rope.angles(positions([m]), 1));
      const rk = RotaryEmbedding.rotate(k, rope.angles(positions([n]), 1));
      return ops.sum(ops.mul(rq, rk)).item();
    };
    expect(score(9, 4)).toBeCloseTo(score(5, 0), 4);
    expect(score(30, 27)).toBeCloseTo(score(3, 0), 4);
    expect(Math.abs(score(9, 4) - score(9, 0))).toBeGreaterThan(1e-3);
  });

  it("dynamic: theta grows only past the original context, to the golden README's base(11) = 18956.48…", () => {
    const rope = new RotaryEmbedding(16, { scaling: parseRopeScaling({ type: 'dynamic', factor: 2 }, 8, 'c') });
    expect(rope.frequencies(8)).toEqual(inverseFrequencies(16, 10000));
    const base11 = 10000 * ((2 * 11) / 8 - 1) ** (16 / 14);
    expect(base11).toBeCloseTo(18956.48, 1);
    expect(rope.frequencies(11)).toEqual(inverseFrequencies(16, base11));
  });

  it('linear: position p is rotated as p / factor', () => {
    const scaled = new RotaryEmbedding(16, { scaling: parseRopeScaling({ type: 'linear', factor: 2 }, 128, 'c') });
    const plain = new RotaryEmbedding(16);
    expect(scaled.angles(positions([0, 6, 40]), 41).cos.data).toEqual(plain.angles(positions([0, 3, 20]), 41).cos.data);
  });

  it('reads `type` and `rope_type`; a bad rope_scaling names the file and what is expected', () => {
    expect(parseRopeScaling({ type: 'linear', factor: 4 }, 8, 'c')).toEqual({ type: 'linear', factor: 4 });
    expect(parseRopeScaling({ rope_type: 'default' }, 8, 'c')).toEqual({ type: 'default' });
    expect(parseRopeScaling(null, 8, 'c')).toEqual({ type: 'default' });
    expect(() => parseRopeScaling({ rope_type: 'yarn', factor: 4 }, 8, 'dir/config.json')).toThrow(
      /dir\/config.json.*"yarn" is not supported.*'linear', 'dynamic' or 'llama3'/,
    );
    expect(() => parseRopeScaling({ type: 'linear' }, 8, 'dir/config.json')).toThrow(
      /dir\/config.json.*'factor' is undefined; expected a number > 0/,
    );
    expect(() => parseRopeScaling({ ...LLAMA31, low_freq_factor: 4 }, 8, 'c')).toThrow(
      /high_freq_factor must be larger/,
    );
  });
});

describe('Llama with head_dim and llama3 rope scaling', () => {
  const config = new LlamaConfig(
    {
      model_type: 'llama',
      vocab_size: 50,
      hidden_size: 32,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      head_dim: 16,
      max_position_embeddings: 64,
      rope_theta: 500000,
      rope_scaling: { ...LLAMA31, original_max_position_embeddings: 16 },
    },
    'test config',
  );

  it('sizes the projections from head_dim (4 heads × 16 ≠ hidden 32) and decodes with the cache as without', () => {
    const model = new LlamaForCausalLM(config);
    model.eval();
    const attention = model.model.layers.at(0).self_attn;
    expect([...attention.q_proj.weight.shape]).toEqual([64, 32]);
    expect([...attention.k_proj.weight.shape]).toEqual([32, 32]);
    expect([...attention.o_proj.weight.shape]).toEqual([32, 64]);
    const tokens = [3, 14, 15, 9, 26, 5, 35, 8];
    noGrad(() => {
      const full = model.forward({ inputIds: new Tensor(Int32Array.from(tokens), [1, 8]) }).logits;
      let out = model.forward({ inputIds: new Tensor(Int32Array.from(tokens.slice(0, 5)), [1, 5]), useCache: true });
      for (let i = 5; i < 8; i++)
        out = model.forward({
          inputIds: new Tensor(Int32Array.from([tokens[i]!]), [1, 1]),
          pastKeyValues: out.pastKeyValues,
          useCache: true,
        });
      const diff = ops.abs(ops.sub(ops.slice(full, 1, 7), out.logits));
      expect(Math.max(...diff.data)).toBeLessThan(1e-4);
    });
  });

  it('writes head_dim and rope_scaling back as read', () => {
    const json = config.toJSON();
    expect(json['head_dim']).toBe(16);
    expect(json['rope_scaling']).toEqual({ ...LLAMA31, original_max_position_embeddings: 16 });
    expect(
      new LlamaConfig({ model_type: 'llama', hidden_size: 32, num_attention_heads: 4 }).toJSON()['head_dim'],
    ).toBeUndefined();
  });
});
