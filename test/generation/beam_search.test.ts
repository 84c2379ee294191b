import { describe, expect, it } from 'vitest';
import { BeamSearchScorer, topCandidates } from '../../src/generation/beam_search.js';
import type { EarlyStopping } from '../../src/generation/configuration_utils.js';

/**
 * Two beams, EOS 9, prompt [0]. Step 1 finishes [0]+EOS (score -1 / 1) and opens [0,5] (-2), [0,6] (-4); an EOS
 * ranked below the top two is ignored. Step 2 finishes [0,5]+EOS (-2.2 / 2 = -1.1) and opens [0,5,7] (-2),
 * [0,6,8] (-5). Whether the search is done then depends on earlyStopping.
 */
function run(earlyStopping: EarlyStopping) {
  const scorer = new BeamSearchScorer(1, {
    numBeams: 2,
    lengthPenalty: 1,
    earlyStopping,
    numReturnSequences: 1,
    maxLength: 10,
    promptLength: 1,
    eosTokenIds: [9],
    padTokenId: 0,
  });
  const first = scorer.process([[0], [0]], [{ scores: [-1, -2, -3, -4], tokens: [9, 5, 9, 6], beams: [0, 0, 1, 1] }]);
  expect(Array.from(first.tokens)).toEqual([5, 6]);
  expect(Array.from(first.scores)).toEqual([-2, -4]);
  expect(scorer.isDone).toBe(false);
  const second = scorer.process(
    [
      [0, 5],
      [0, 6],
    ],
    [{ scores: [-2, -2.2, -5, -6], tokens: [7, 9, 8, 9], beams: [0, 0, 1, 1] }],
  );
  expect(Array.from(second.sourceRows)).toEqual([0, 1]);
  return {
    done: scorer.isDone,
    result: scorer.finalize(
      [
        [0, 5, 7],
        [0, 6, 8],
      ],
      second.scores,
    ),
  };
}

describe('BeamSearchScorer', () => {
  it('earlyStopping false: an open beam that can still win keeps the search going, and wins', () => {
    const { done, result } = run(false);
    expect(done).toBe(false); // best open -2 over length 2 = -1 beats the worst finished -1.1
    expect(result).toEqual({ sequences: [[0, 5, 7, 9]], scores: [-1] });
  });

  it('earlyStopping true: done once numBeams hypotheses finished', () => {
    const { done, result } = run(true);
    expect(done).toBe(true);
    expect(result).toEqual({ sequences: [[0, 9]], scores: [-1] });
  });

  it("earlyStopping 'never': judges open beams at the longest allowed length", () => {
    expect(run('never').done).toBe(false);
  });

  it('topCandidates ranks (score, token, beam) across beams, earlier entries first on ties', () => {
    const scores = Float32Array.from([0, 3, 1, /* beam 1 */ 3, -Infinity, 2]);
    expect(topCandidates(scores, 0, 2, 3, 4)).toEqual({
      scores: [3, 3, 2, 1],
      tokens: [1, 0, 2, 2],
      beams: [0, 1, 1, 0],
    });
  });
});
