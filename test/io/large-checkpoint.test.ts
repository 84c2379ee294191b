// A checkpoint of real size: TinyLlama-1.1B's shape (2.2 GB of fp16, one file over Node's 2 GiB readFile limit),
// written by the test, loaded in half precision, run for one token and checked against a plain float64
// computation of the same weights. Peak RSS is printed.
import { statfsSync, writeFileSync, mkdtempSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { saveSafetensors } from '../../src/io/safetensors.js';
import { LlamaForCausalLM } from '../../src/models/llama/modeling_llama.js';
import { narrowToHalf } from '../../src/tensor/half.js';
import { Generator } from '../../src/tensor/random.js';
import { Tensor } from '../../src/tensor/tensor.js';

const V = 32000;
const H = 2048;
const I = 5632;
const LAYERS = 22;
const HEADS = 32;
const KV_HEADS = 4;
const HEAD_DIM = H / HEADS;
const EPS = 1e-5;
const PARAMETERS = 2 * V * H + LAYERS * (2 * H * H + 2 * H * KV_HEADS * HEAD_DIM + 3 * H * I + 2 * H) + H;
const FILE_BYTES = 2 * PARAMETERS;
const TWO_GIB = 2 ** 31;

function freeBytes(dir: string): number {
  const fs = statfsSync(dir);
  return fs.bavail * fs.bsize;
}

const free = freeBytes(tmpdir());
const skipReason =
  free < FILE_BYTES * 1.2
    ? `needs ${((FILE_BYTES * 1.2) / 1e9).toFixed(1)} GB free in ${tmpdir()}, has ${(free / 1e9).toFixed(1)} GB`
    : undefined;
if (skipReason) console.warn(`large checkpoint test skipped: ${skipReason}`);

/** Multiples of 2^-10 below 2 in magnitude: exactly representable in fp16, so the float32 values are the truth. */
function weights(n: number, g: Generator): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.max(-1023, Math.min(1023, Math.round(g.normal() * 0.02 * 1024))) / 1024;
  return out;
}

/** y = W x for a row-major (out, in) matrix, in float64. */
function matvec(w: Float32Array, x: Float64Array, out: number): Float64Array {
  const inDim = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = 0;
    const row = o * inDim;
    for (let i = 0; i < inDim; i++) s += w[row + i]! * x[i]!;
    y[o] = s;
  }
  return y;
}

function rmsNorm(x: Float64Array): Float64Array {
  let ms = 0;
  for (const v of x) ms += v * v;
  const scale = 1 / Math.sqrt(ms / x.length + EPS);
  return x.map((v) => v * scale);
}

describe('a checkpoint over 2 GiB (TinyLlama-1.1B shape, fp16)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'attn-large-'));
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.skipIf(skipReason !== undefined)(
    `loads in half precision and runs one token${skipReason ? ` (skipped: ${skipReason})` : ''}`,
    async () => {
      // Distinct weights per tensor without 2 GB in this process: each tensor is a window, at its own offset, into
      // one shared buffer of random values (the embedding and LM head into a larger one).
      const g = new Generator(16);
      const small = weights(1 << 24, g);
      const large = new Float32Array(V * H + 64);
      for (let at = 0; at < large.length; at += small.length)
        large.set(small.subarray(0, Math.min(small.length, large.length - at)), at);
      const smallHalf = narrowToHalf(small, 'F16').bits;
      const largeHalf = narrowToHalf(large, 'F16').bits;
      const zeros = new Uint16Array(H * I);
      const ones = new Uint16Array(H).fill(0x3c00);
      const shapes: Record<string, [number, number]> = {
        'self_attn.q_proj': [H, H],
        'self_attn.k_proj': [KV_HEADS * HEAD_DIM, H],
        'self_attn.v_proj': [KV_HEADS * HEAD_DIM, H],
        'self_attn.o_proj': [H, H],
        'mlp.gate_proj': [I, H],
        'mlp.up_proj': [I, H],
        'mlp.down_proj': [H, I],
      };
      const truth = new Map<string, Float32Array>();
      const tensors = new Map<string, Tensor>();
      const window = (name: string, shape: number[], source: Float32Array, bits: Uint16Array, offset: number): void => {
        const n = shape.reduce((a, b) => a * b, 1);
        truth.set(name, source.subarray(offset, offset + n));
        tensors.set(name, new Tensor({ format: 'F16', bits: bits.subarray(offset, offset + n) }, shape));
      };
      window('model.embed_tokens.weight', [V, H], large, largeHalf, 0);
      window('lm_head.weight', [V, H], large, largeHalf, 37);
      tensors.set('model.norm.weight', new Tensor({ format: 'F16', bits: ones }, [H]));
      let offset = 0;
      for (let layer = 0; layer < LAYERS; layer++) {
        const prefix = `model.layers.${layer}`;
        for (const [name, [rows, cols]] of Object.entries(shapes)) {
          offset = (offset + 7919) % 65536;
          // Layers after the first add nothing to the residual stream (zero output projections), so the float64
          // reference below needs only layer 0; their other weights are still loaded and run.
          if (layer > 0 && (name.endsWith('o_proj') || name.endsWith('down_proj'))) {
            tensors.set(
              `${prefix}.${name}.weight`,
              new Tensor({ format: 'F16', bits: zeros.subarray(0, rows * cols) }, [rows, cols]),
            );
          } else {
            window(`${prefix}.${name}.weight`, [rows, cols], small, smallHalf, offset);
          }
        }
        tensors.set(`${prefix}.input_layernorm.weight`, new Tensor({ format: 'F16', bits: ones }, [H]));
        tensors.set(`${prefix}.post_attention_layernorm.weight`, new Tensor({ format: 'F16', bits: ones }, [H]));
      }
      const config = {
        model_type: 'llama',
        architectures: ['LlamaForCausalLM'],
        vocab_size: V,
        hidden_size: H,
        intermediate_size: I,
        num_hidden_layers: LAYERS,
        num_attention_heads: HEADS,
        num_key_value_heads: KV_HEADS,
        rms_norm_eps: EPS,
        max_position_embeddings: 2048,
        tie_word_embeddings: false,
        torch_dtype: 'float16',
      };
      writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
      await saveSafetensors(join(dir, 'model.safetensors'), tensors, { metadata: { format: 'pt' } });
      tensors.clear();
      const size = (await stat(join(dir, 'model.safetensors'))).size;
      expect(size).toBeGreaterThan(TWO_GIB);

      const model = await LlamaForCausalLM.fromPretrained(dir);
      const rssAfterLoad = process.memoryUsage().rss;
      const parameterBytes = model.parameters().reduce((n, p) => n + p.size * (p.halfStorage ? 2 : 4), 0);
      expect(model.numParameters()).toBe(PARAMETERS);
      expect(parameterBytes).toBe(FILE_BYTES);
      // Half storage: resident memory stays below what the weights alone take in float32.
      expect(rssAfterLoad).toBeLessThan(4 * PARAMETERS);
      // Each tensor came from its own offset: a window of layer 13 holds its own values.
      const q13 = model.stateDict().get('model.layers.13.self_attn.q_proj.weight')!;
      expect([...q13.data.subarray(0, 4)]).toEqual([
        ...truth.get('model.layers.13.self_attn.q_proj.weight')!.subarray(0, 4),
      ]);

      const token = 12345;
      const logits = model.forward({ inputIds: new Tensor(Int32Array.of(token), [1, 1]) }).logits.data; // (1, 1, V)
      const peakRss = process.resourceUsage().maxRSS * 1024;

      // The same token through plain float64 arithmetic. One position: attention returns each head's value vector
      // (its kv head's, under GQA), and rotary position 0 is the identity.
      const at = (name: string): Float32Array => truth.get(`model.layers.0.${name}.weight`)!;
      const hidden = Float64Array.from(truth.get('model.embed_tokens.weight')!.subarray(token * H, (token + 1) * H));
      const x = rmsNorm(hidden);
      const v = matvec(at('self_attn.v_proj'), x, KV_HEADS * HEAD_DIM);
      const heads = new Float64Array(H);
      for (let h = 0; h < HEADS; h++)
        heads.set(
          v.subarray(
            Math.floor(h / (HEADS / KV_HEADS)) * HEAD_DIM,
            (Math.floor(h / (HEADS / KV_HEADS)) + 1) * HEAD_DIM,
          ),
          h * HEAD_DIM,
        );
      const attention = matvec(at('self_attn.o_proj'), heads, H);
      for (let i = 0; i < H; i++) hidden[i]! += attention[i]!;
      const x2 = rmsNorm(hidden);
      const gate = matvec(at('mlp.gate_proj'), x2, I);
      const up = matvec(at('mlp.up_proj'), x2, I);
      const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]!);
      const mlp = matvec(at('mlp.down_proj'), act, H);
      for (let i = 0; i < H; i++) hidden[i]! += mlp[i]!;
      const expected = matvec(truth.get('lm_head.weight')!, rmsNorm(hidden), V);

      let worst = 0;
      for (let i = 0; i < V; i++) worst = Math.max(worst, Math.abs(logits[i]! - expected[i]!));
      expect(worst).toBeLessThan(1e-3);
      console.log(
        JSON.stringify({
          checkpoint_bytes: size,
          parameters: PARAMETERS,
          weights_in_memory_bytes: parameterBytes,
          rss_after_load_mb: Math.round(rssAfterLoad / 2 ** 20),
          peak_rss_mb: Math.round(peakRss / 2 ** 20),
          max_abs_logit_error: worst,
        }),
      );
    },
  );
});
