import { describe, expect, it } from 'vitest';
import { GenerationConfig } from '../../src/generation/configuration_utils.js';
import { TextIteratorStreamer, TextStreamer } from '../../src/generation/streamers.js';
import { generate, generateAsync } from '../../src/generation/utils.js';
import { Tensor } from '../../src/tensor/tensor.js';
import { ToyCausalLM } from './toy-model.js';

/** Full-recompute log-probabilities of the next token after `ids` (no cache, no mask). */
function nextLogProbs(model: ToyCausalLM, ids: number[]): number[] {
  const out = model.forward({ inputIds: new Tensor(Int32Array.from(ids), [1, ids.length]) });
  const v = model.vocabSize;
  const row = Array.from(out.logits.data.subarray((ids.length - 1) * v, ids.length * v));
  const max = Math.max(...row);
  const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
  return row.map((x) => x - lse);
}

describe('generate: greedy and the KV cache', () => {
  it('feeds one token per step with the cache and matches full recompute', () => {
    const cached = new ToyCausalLM();
    const recomputed = new ToyCausalLM();
    const a = generate(cached, [[1, 2, 3]], { maxNewTokens: 6, outputScores: true });
    const b = generate(recomputed, [[1, 2, 3]], { maxNewTokens: 6, useCache: false, outputScores: true });
    expect(a.sequences).toEqual(b.sequences);
    expect(cached.calls).toEqual([3, 1, 1, 1, 1, 1]);
    expect(recomputed.calls).toEqual([3, 4, 5, 6, 7, 8]);
    a.scores!.forEach((s, i) =>
      expect(Array.from(s)).toEqual(Array.from(b.scores![i]!).map((x) => expect.closeTo(x, 5))),
    );
  });

  it('greedy picks the argmax of the full-recompute logits at every step', () => {
    const model = new ToyCausalLM();
    const { sequences } = generate(model, [[4, 0]], { maxNewTokens: 5 });
    const row = sequences[0]!;
    for (let t = 2; t < row.length; t++) {
      const lp = nextLogProbs(model, row.slice(0, t));
      expect(row[t]).toBe(lp.indexOf(Math.max(...lp)));
    }
  });

  it('left-padded batches give each row what it gets alone (positions from the mask)', () => {
    const model = new ToyCausalLM(7, 4, { padTokenId: 6 });
    const alone = generate(model, [[1, 2]], { maxNewTokens: 4 }).sequences[0]!;
    const long = generate(model, [[3, 1, 5, 2]], { maxNewTokens: 4 }).sequences[0]!;
    const batch = generate(
      model,
      [
        [6, 6, 1, 2],
        [3, 1, 5, 2],
      ],
      {
        attentionMask: [
          [0, 0, 1, 1],
          [1, 1, 1, 1],
        ],
        maxNewTokens: 4,
      },
    );
    expect(batch.sequences[0]).toEqual([6, 6, ...alone]);
    expect(batch.sequences[1]).toEqual(long);
  });

  it('stops a row at EOS and pads it while others continue; maxLength counts the prompt', () => {
    const model = new ToyCausalLM(7, 4, { seed: 3 });
    const free = generate(model, [[1], [2]], { maxLength: 8 }).sequences;
    expect(free.every((r) => r.length === 8)).toBe(true);
    const eos = free[0]![2]!; // make row 0's second generated token the EOS
    const out = generate(model, [[1], [2]], { maxLength: 8, eosTokenId: eos, padTokenId: 0 }).sequences;
    expect(out[0]!.slice(0, 3)).toEqual(free[0]!.slice(0, 3));
    const firstEos = out[0]!.indexOf(eos, 1);
    expect(out[0]!.slice(firstEos + 1).every((id) => id === 0)).toBe(true);
  });

  it('noRepeatNgramSize 1 and badWordsIds reach the processors from the options', () => {
    const model = new ToyCausalLM(7, 4, { seed: 3 });
    const row = generate(model, [[1]], { maxNewTokens: 5, noRepeatNgramSize: 1 }).sequences[0]!;
    expect(new Set(row).size).toBe(row.length);
    const free = generate(model, [[1]], { maxNewTokens: 5 }).sequences[0]!;
    expect(generate(model, [[1]], { maxNewTokens: 5, badWordsIds: [[free[1]!]] }).sequences[0]).not.toContain(free[1]);
  });

  it('minLength bans EOS, forcedEosTokenId forces it at the last step', () => {
    const model = new ToyCausalLM(7, 4, { seed: 3 });
    const free = generate(model, [[1]], { maxLength: 8 }).sequences[0]!;
    const eos = free[1]!;
    const banned = generate(model, [[1]], { maxLength: 8, eosTokenId: eos, minLength: 5, outputScores: true });
    expect(banned.scores![0]![eos]).toBe(-Infinity);
    expect(banned.sequences[0]!.slice(1, 4)).not.toContain(eos);
    const forced = generate(model, [[1]], {
      maxLength: 6,
      forcedEosTokenId: 5,
      eosTokenId: 5,
      minLength: 0,
      outputScores: true,
    });
    expect(forced.sequences[0]!.at(-1)).toBe(5);
    const last = forced.scores!.at(-1)!;
    expect(Array.from(last).filter((x) => x !== -Infinity)).toEqual([0]);
  });
});

describe('generate: sampling', () => {
  it('is reproducible with a seed and differs across seeds', () => {
    const model = new ToyCausalLM(7, 4, { seed: 5 });
    const opts = { doSample: true, maxNewTokens: 12, temperature: 1.5, topK: 0 };
    const a = generate(model, [[1, 2]], { ...opts, seed: 42 }).sequences;
    expect(generate(model, [[1, 2]], { ...opts, seed: 42 }).sequences).toEqual(a);
    const others = [1, 2, 3, 4].map((seed) => generate(model, [[1, 2]], { ...opts, seed }).sequences[0]);
    expect(others.some((s) => JSON.stringify(s) !== JSON.stringify(a[0]))).toBe(true);
  });

  it('topK 1 and tiny topP are greedy', () => {
    const model = new ToyCausalLM(7, 4, { seed: 5 });
    const greedy = generate(model, [[1, 2]], { maxNewTokens: 8 }).sequences;
    expect(generate(model, [[1, 2]], { doSample: true, topK: 1, seed: 9, maxNewTokens: 8 }).sequences).toEqual(greedy);
    expect(generate(model, [[1, 2]], { doSample: true, topP: 1e-6, seed: 9, maxNewTokens: 8 }).sequences).toEqual(
      greedy,
    );
  });

  it('numReturnSequences gives several samples per prompt', () => {
    const model = new ToyCausalLM(7, 4, { seed: 5 });
    const { sequences } = generate(
      model,
      [
        [1, 2],
        [3, 4],
      ],
      { doSample: true, numReturnSequences: 3, seed: 1, maxNewTokens: 4 },
    );
    expect(sequences).toHaveLength(6);
    expect(sequences.slice(0, 3).every((s) => s[0] === 1) && sequences.slice(3).every((s) => s[0] === 3)).toBe(true);
  });
});

describe('generate: beam search', () => {
  it('with enough beams finds the exhaustive best score / length ** lengthPenalty', () => {
    const eos = 4;
    const model = new ToyCausalLM(5, 3, { seed: 11, eosTokenId: eos });
    const prompt = [2, 1];
    const maxNew = 3;
    for (const lengthPenalty of [1, 0, 2]) {
      // Every continuation that ends in EOS or runs to the length limit, scored as HF scores finished beams.
      let best = { score: -Infinity, seq: [] as number[] };
      const walk = (seq: number[], sum: number): void => {
        const lp = nextLogProbs(model, seq);
        lp.forEach((l, tok) => {
          const next = [...seq, tok];
          const generated = next.length - prompt.length;
          if (tok === eos || generated === maxNew) {
            const score = (sum + l) / generated ** lengthPenalty;
            if (score > best.score) best = { score, seq: next };
          } else walk(next, sum + l);
        });
      };
      walk(prompt, 0);
      const out = generate(model, [prompt], { numBeams: 125, maxNewTokens: maxNew, lengthPenalty, padTokenId: 0 });
      expect(out.sequences[0]!.slice(0, best.seq.length)).toEqual(best.seq);
      expect(out.sequencesScores![0]).toBeCloseTo(best.score, 5);
    }
  });

  it('runs batches, reorders the cache (cache and recompute agree) and returns numReturnSequences per item', () => {
    const model = new ToyCausalLM(7, 4, { seed: 2, eosTokenId: 6 });
    const opts = { numBeams: 3, numReturnSequences: 2, maxNewTokens: 5, padTokenId: 0 };
    const a = generate(
      model,
      [
        [1, 2],
        [3, 4],
      ],
      opts,
    );
    const b = generate(
      model,
      [
        [1, 2],
        [3, 4],
      ],
      { ...opts, useCache: false },
    );
    expect(a.sequences).toEqual(b.sequences);
    a.sequencesScores!.forEach((s, i) => expect(s).toBeCloseTo(b.sequencesScores![i]!, 5));
    expect(a.sequences).toHaveLength(4);
    expect(a.sequencesScores![0]).toBeGreaterThanOrEqual(a.sequencesScores![1]!);
  });
});

describe('generate: streaming and stop strings', () => {
  const decode = (ids: readonly number[]): string => ids.map((id) => String.fromCharCode(97 + id)).join('');
  const letters = { decode };

  it('TextStreamer(tokenizer, { skipPrompt, callback }) hands on the text as tokens arrive, the prompt first unless skipped', () => {
    const model = new ToyCausalLM();
    const pieces: string[] = [];
    const out = generate(model, [[1, 2]], {
      maxNewTokens: 5,
      streamer: new TextStreamer(letters, { skipPrompt: true, callback: (t) => pieces.push(t) }),
    });
    expect(pieces.join('')).toBe(decode(out.sequences[0]!.slice(2)));
    expect(pieces.filter(Boolean)).toHaveLength(5);
    const withPrompt: string[] = [];
    generate(model, [[1, 2]], {
      maxNewTokens: 5,
      streamer: new TextStreamer(letters, { callback: (t) => withPrompt.push(t) }),
    });
    expect(withPrompt.join('')).toBe(decode(out.sequences[0]!));
  });

  it('TextStreamer holds back a split multi-byte character', () => {
    const pieces: string[] = [];
    const s = new TextStreamer(
      { decode: (ids) => (ids.length === 1 ? 'a\uFFFD' : 'aé') },
      { callback: (t) => pieces.push(t) },
    );
    s.put([1]);
    s.put([2]);
    s.end();
    expect(pieces).toEqual(['aé', '']);
  });

  it('TextStreamer starts afresh after a line break', () => {
    const decoded: number[][] = [];
    const pieces: string[] = [];
    const lines = {
      decode: (ids: number[]) => (decoded.push([...ids]), ids.map((id) => (id === 0 ? '\n' : 'x')).join('')),
    };
    const s = new TextStreamer(lines, { callback: (t) => pieces.push(t) });
    for (const id of [1, 0, 1, 1]) s.put([id]);
    s.end();
    expect(pieces.join('')).toBe('x\nxx');
    expect(decoded.at(-1)).toEqual([1, 1]);
  });

  it('TextIteratorStreamer yields pieces while generateAsync runs', async () => {
    const model = new ToyCausalLM();
    const streamer = new TextIteratorStreamer(letters, { skipPrompt: true });
    const running = generateAsync(model, [[1]], { maxNewTokens: 4, streamer });
    const seen: string[] = [];
    for await (const piece of streamer) seen.push(piece);
    const out = await running;
    expect(seen.join('')).toBe(decode(out.sequences[0]!.slice(1)));
  });

  it('stopStrings end a row once its text contains one', () => {
    const model = new ToyCausalLM();
    const free = generate(model, [[1]], { maxNewTokens: 8 }).sequences[0]!;
    const stop = decode(free.slice(2, 4));
    const out = generate(model, [[1]], { maxNewTokens: 8, stopStrings: [stop], decode, padTokenId: 0 }).sequences[0]!;
    expect(out).toEqual(free.slice(0, 4));
  });
});

describe('generate: bad input', () => {
  const model = new ToyCausalLM(7, 4, { context: 16 });

  it('rejects unknown options, naming a near match', () => {
    expect(() => generate(model, [[1]], { topk: 5 } as never)).toThrow(
      /unknown option 'topk' \(did you mean 'topK'\?\)/,
    );
    expect(() => generate(model, [[1]], { numbeams: 2 } as never)).toThrow(/did you mean 'numBeams'/);
  });

  it("takes Hugging Face's snake_case names for the same options", () => {
    const snake = { max_new_tokens: 6, do_sample: true, top_k: 3, temperature: 0.7, seed: 5 };
    const camel = { maxNewTokens: 6, doSample: true, topK: 3, temperature: 0.7, seed: 5 };
    expect(generate(model, [[1, 2]], snake as never).sequences).toEqual(generate(model, [[1, 2]], camel).sequences);
    expect(() => generate(model, [[1]], { maxNewTokens: 2, max_new_tokens: 3 } as never)).toThrow(
      /same option with different values/,
    );
  });

  it('rejects bad values', () => {
    expect(() => generate(model, [[1]], { temperature: 0 })).toThrow(/temperature = 0 is invalid/);
    expect(() => generate(model, [[1]], { topP: 1.5 })).toThrow(/topP = 1.5/);
    expect(() => generate(model, [[1]], { numBeams: 2, doSample: true })).toThrow(/numBeams/);
    expect(() => generate(model, [[1, 99]])).toThrow(/token id 99/);
  });

  it('rejects prompts longer than the context window, and lengths past it', () => {
    expect(() => generate(model, [Array.from({ length: 17 }, () => 1)], { maxNewTokens: 1 })).toThrow(
      /prompt has 17 tokens, more than the model's context window of 16/,
    );
    expect(() => generate(model, [[1, 2]], { maxNewTokens: 20 })).toThrow(/lower maxNewTokens to at most 14/);
  });

  it('rejects right-padded decoder-only batches', () => {
    expect(() =>
      generate(
        model,
        [
          [1, 2],
          [1, 0],
        ],
        {
          attentionMask: [
            [1, 1],
            [1, 0],
          ],
          maxNewTokens: 1,
        },
      ),
    ).toThrow(/padded on the left/);
  });
});

describe('GenerationConfig', () => {
  it('reads snake_case JSON, falls back to config.json ids, and round-trips', () => {
    const c = GenerationConfig.fromJSON({
      max_new_tokens: 5,
      eos_token_id: [1, 2],
      do_sample: true,
      transformers_version: 'x',
    });
    expect(c.maxNewTokens).toBe(5);
    expect(c.eosTokenId).toEqual([1, 2]);
    expect(GenerationConfig.fromJSON(c.toJSON())).toEqual(c);
    const m = GenerationConfig.fromModelConfig({ eos_token_id: 3, decoder_start_token_id: 0, num_beams: 7 });
    expect([m.eosTokenId, m.decoderStartTokenId, m.numBeams]).toEqual([3, 0, 1]);
  });

  it('model.generationConfig supplies defaults that options override', () => {
    const model = Object.assign(new ToyCausalLM(), { generationConfig: new GenerationConfig({ maxNewTokens: 3 }) });
    expect(generate(model, [[1]]).sequences[0]).toHaveLength(4);
    expect(generate(model, [[1]], { maxNewTokens: 1 }).sequences[0]).toHaveLength(2);
  });
});
