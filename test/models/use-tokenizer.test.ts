// The converted tokenizer.json (through AutoTokenizer) against the original JavaScript tokenizer of
// @energetic-ai/embeddings, on thousands of real sentences.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { loadOriginalTokenizer, TFJS_USE_DIR } from '../../scripts/use-tfjs-reference.js';
import { tokenizeLikeOriginal } from '../../src/models/use/modeling_use.js';
import { AutoTokenizer, type PreTrainedTokenizer } from '../../src/tokenizers/index.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';
import { USE_LITE_DIR } from './use-fixtures.js';

function firstColumn(file: string, options: { header: boolean; limit: number }): string[] {
  const lines = readFileSync(sharedPath(file), 'utf8')
    .split('\n')
    .slice(options.header ? 1 : 0, options.limit + 1);
  return lines.filter((l) => l.trim() !== '').map((l) => l.split('\t')[0]!);
}

describeWithShared(
  'USE Lite tokenizer.json vs the original tokenizer',
  ['data/sst2/dev.tsv', 'data/agnews/dev.tsv'],
  () => {
    let ours: PreTrainedTokenizer;
    let original: Awaited<ReturnType<typeof loadOriginalTokenizer>>;

    beforeAll(async () => {
      ours = await AutoTokenizer.fromPretrained(USE_LITE_DIR);
      original = await loadOriginalTokenizer();
    });

    it('agrees on SST-2 dev and 3,000 AG News texts, differing only where the original is not the best segmentation', () => {
      const texts = [
        ...firstColumn('data/sst2/dev.tsv', { header: true, limit: 10_000 }),
        ...firstColumn('data/agnews/dev.tsv', { header: false, limit: 3000 }),
      ];
      expect(texts.length).toBeGreaterThan(9000);
      // Log-probability of a segmentation under the vocabulary's scores (the original adds null scores as 0).
      const scores = (
        JSON.parse(readFileSync(join(TFJS_USE_DIR, 'vocab.json'), 'utf8')) as Array<[string, number | null]>
      ).map(([, s]) => s ?? 0);
      const logProbability = (ids: number[]) => ids.reduce((sum, id) => sum + scores[id]!, 0);
      const differing = texts.filter((t) => tokenizeLikeOriginal(ours, t).join() !== original.encode(t).join());
      // Two known quirks of the original's Viterbi: a running score of exactly 0 counts as "unset" (texts opening
      // with ":", as AG News items do), and ties go to the shorter last piece (",999" → ",", "99", "9"; ours "9", "99").
      expect(differing.length / texts.length).toBeLessThan(0.002);
      for (const text of differing) {
        expect(logProbability(tokenizeLikeOriginal(ours, text)), text).toBeGreaterThanOrEqual(
          logProbability(original.encode(text)) - 1e-9,
        );
      }
    });

    it('maps unknown characters to id 0, fusing runs, and never emits the reserved ids 1-5', () => {
      for (const text of ['東京 😀😀 x', '<s> </s> extra_token_id_1', '\uFFFD']) {
        const ids = tokenizeLikeOriginal(ours, text);
        expect(ids, text).toEqual(original.encode(text));
        expect(ids.some((id) => id >= 1 && id <= 5)).toBe(false);
      }
    });

    it('differs on a tie and on a leading ":" (the two quirks above)', () => {
      expect(ours.convertIdsToTokens(original.encode('3,999'))).toEqual(['\u25813', ',', '99', '9']);
      expect(ours.convertIdsToTokens(tokenizeLikeOriginal(ours, '3,999'))).toEqual(['\u25813', ',', '9', '99']);
      expect(original.encode(':) great')).not.toEqual(tokenizeLikeOriginal(ours, ':) great'));
      expect(tokenizeLikeOriginal(ours, 'great :)')).toEqual(original.encode('great :)'));
    });

    it('decodes ids back to the text', () => {
      const text = 'The quick brown fox, 10:30 a.m.';
      expect(ours.decode(tokenizeLikeOriginal(ours, text))).toBe(text);
    });
  },
);
