import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { AutoModelForSeq2SeqLM } from '../../src/models/auto/index.js';
import type { PreTrainedModel } from '../../src/models/modeling_utils.js';
import { generate } from '../../src/generation/utils.js';
import type { Seq2SeqLM } from '../../src/models/modeling_outputs.js';
import { noGrad } from '../../src/tensor/engine.js';
import * as ops from '../../src/tensor/ops.js';
import type { Tensor } from '../../src/tensor/tensor.js';
import { expectClose, goldenCase, ids, type Json } from '../models/golden.js';

/** The top 5 finite (id, value) pairs of one row of processed scores, as the goldens' step_top5. */
export function top5(scores: Float32Array, row: number, vocabSize: number): { ids: number[]; values: number[] } {
  const entries = Array.from(scores.subarray(row * vocabSize, (row + 1) * vocabSize), (v, id) => ({ id, v }))
    .filter((e) => e.v !== -Infinity)
    .sort((a, b) => b.v - a.v || a.id - b.id)
    .slice(0, 5);
  return { ids: entries.map((e) => e.id), values: entries.map((e) => e.v) };
}

/** Greedy sequences and every step's top-5 processed scores (ids exact, values within 1e-4). */
export function expectGreedyGolden(
  out: { sequences: number[][]; scores?: Float32Array[] },
  golden: Json,
  vocabSize: number,
): void {
  expect(out.sequences).toEqual(golden.sequences);
  expect(out.scores).toHaveLength(golden.step_top5.length);
  golden.step_top5.forEach((step: { ids: number[][]; values: number[][] }, s: number) => {
    step.ids.forEach((wantIds, row) => {
      const got = top5(out.scores![s]!, row, vocabSize);
      expect(got.ids).toEqual(wantIds);
      got.values.forEach((v, i) => expect(Math.abs(v - step.values[row]![i]!)).toBeLessThan(1e-4));
    });
  });
}

/**
 * The golden suite every encoder–decoder case shares: forward outputs on a padded batch, greedy and beam generation,
 * and the KV cache (incremental decoding gives the full pass's logits).
 */
export function describeSeq2SeqGolden(
  caseName: string,
  load: (dir: string) => Promise<Seq2SeqLM & PreTrainedModel>,
): void {
  describe(`${caseName} golden`, () => {
    const { dir, inputs, expected } = goldenCase(caseName);
    const modelPromise = load(dir);

    it('matches logits, encoder and decoder hidden states on a padded batch', async () => {
      const model = await modelPromise;
      const out = noGrad(() =>
        model.forward({
          inputIds: ids(inputs.input_ids),
          attentionMask: ids(inputs.attention_mask),
          decoderInputIds: ids(inputs.decoder_input_ids),
          outputHiddenStates: true,
        }),
      );
      expectClose(out.logits, expected.logits);
      expectClose(out.encoderLastHiddenState, expected.encoder_last_hidden_state);
      expect(out.encoderHiddenStates).toHaveLength(expected.encoder_hidden_states.length);
      out.encoderHiddenStates!.forEach((h, i) => expectClose(h, expected.encoder_hidden_states[i]));
      expect(out.decoderHiddenStates).toHaveLength(expected.decoder_hidden_states.length);
      out.decoderHiddenStates!.forEach((h, i) => expectClose(h, expected.decoder_hidden_states[i]));
    });

    it('decodes token by token with the KV cache to the full pass logits', async () => {
      const model = await modelPromise;
      const decoderIds = ids(inputs.decoder_input_ids);
      const t = decoderIds.shape[1]!;
      const steps: Tensor[] = noGrad(() => {
        const encoded = model.encode(ids(inputs.input_ids), ids(inputs.attention_mask));
        let cache = null;
        const logits: Tensor[] = [];
        for (let i = 0; i < t; i++) {
          const out = model.forward({
            decoderInputIds: ops.slice(decoderIds, 1, i, i + 1),
            encoderHiddenStates: encoded,
            attentionMask: ids(inputs.attention_mask),
            pastKeyValues: cache,
            useCache: true,
          });
          cache = out.pastKeyValues!;
          logits.push(out.logits);
        }
        return logits;
      });
      expectClose(ops.concat(steps, 1), expected.logits);
    });

    it('greedy generation gives the same ids and processed scores as transformers', async () => {
      const model = await modelPromise;
      const g = inputs.generate;
      const out = generate(model, g.input_ids, {
        attentionMask: g.attention_mask,
        maxNewTokens: g.kwargs.max_new_tokens,
        outputScores: true,
      });
      expectGreedyGolden(out, expected.generate, model.config.vocabSize);
    });

    it('beam search gives the same sequences and sequences_scores as transformers', async () => {
      const model = await modelPromise;
      const g = inputs.generate_beam;
      const out = generate(model, g.input_ids, {
        attentionMask: g.attention_mask,
        maxNewTokens: g.kwargs.max_new_tokens,
        numBeams: g.kwargs.num_beams,
      });
      expect(out.sequences).toEqual(expected.generate_beam.sequences);
      out.sequencesScores!.forEach((s, i) =>
        expect(Math.abs(s - expected.generate_beam.sequences_scores[i])).toBeLessThan(1e-4),
      );
    });

    it('loads through AutoModelForSeq2SeqLM and saves checkpoints that load back bit-identically', async () => {
      const model = await modelPromise;
      const auto = await AutoModelForSeq2SeqLM.fromPretrained(dir);
      expect(auto.constructor).toBe(model.constructor);
      const out = mkdtempSync(join(tmpdir(), `attn-${caseName}-`));
      try {
        await model.savePretrained(out);
        const saved = await loadSafetensors(join(out, 'model.safetensors'));
        const original = await loadSafetensors(join(dir, 'model.safetensors'));
        // Same tensor names as transformers saved (tied weights once, Marian's fixed positions not at all), same bits.
        expect([...saved.tensors.keys()].sort()).toEqual([...original.tensors.keys()].sort());
        for (const [name, t] of original.tensors) expect(saved.tensors.get(name)!.data).toEqual(t.data);
        const reloaded = await load(out);
        const prompt = inputs.generate.input_ids;
        const opts = { attentionMask: inputs.generate.attention_mask, maxNewTokens: 4 };
        expect(generate(reloaded, prompt, opts).sequences).toEqual(generate(model, prompt, opts).sequences);
      } finally {
        rmSync(out, { recursive: true, force: true });
      }
    });
  });
}
