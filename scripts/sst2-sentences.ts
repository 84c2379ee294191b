/**
 * A sentence-level split of SST-2 for the default English sentiment model.
 *
 * `../shared/data/sst2/{train,dev}.tsv` are phrases cut from the same reviews (GLUE's train set re-split at random),
 * so a dev phrase's sentence usually sits in train in pieces, and dev accuracy overstates what a user sees on a
 * new sentence by about 8 points. Here every item not contained in a longer item is a "sentence" (6,885 of them);
 * a seeded draw holds some sentences out for testing and checkpoint selection, and every phrase that occurs inside a
 * held-out sentence leaves the training set, so nothing of a held-out sentence is trained on.
 */
import { readFile } from 'node:fs/promises';
import { Rng } from '../src/data/index.js';
import { sharedPath } from '../src/util/paths.js';

export type LabelledText = {
  sentence: string;
  label: number;
};

export interface Sst2SentenceSplit {
  /** Phrases (and sentences) with no overlap with a held-out sentence. */
  train: LabelledText[];
  /** Held-out whole sentences for checkpoint selection. */
  validation: LabelledText[];
  /** Held-out whole sentences, never looked at during training: the figure the model card reports. */
  test: LabelledText[];
  /** Number of items of train.tsv + dev.tsv that were dropped because a held-out sentence contains them. */
  dropped: number;
}

async function readTsv(file: string): Promise<LabelledText[]> {
  const lines = (await readFile(file, 'utf8')).split('\n').slice(1);
  return lines
    .filter((line) => line.trim() !== '')
    .map((line, i) => {
      const [sentence, label] = line.split('\t');
      if (label !== '0' && label !== '1') throw new RangeError(`${file}:${i + 2}: label must be 0 or 1, got ${label}`);
      return { sentence: sentence!.trim(), label: Number(label) };
    });
}

/** Whether each item is contained in no longer item (a whole sentence). Indexed by each item's rarest word. */
function sentenceFlags(items: readonly LabelledText[]): boolean[] {
  const holders = new Map<string, number[]>();
  const words = items.map((item) => [...new Set(item.sentence.split(' ').filter((w) => w !== ''))]);
  words.forEach((ws, i) => ws.forEach((w) => (holders.get(w) ?? holders.set(w, []).get(w)!).push(i)));
  return items.map((item, i) => {
    const ws = words[i]!;
    if (ws.length === 0) return false;
    const rarest = ws.reduce((a, b) => (holders.get(b)!.length < holders.get(a)!.length ? b : a));
    return !holders
      .get(rarest)!
      .some((j) => items[j]!.sentence.length > item.sentence.length && items[j]!.sentence.includes(item.sentence));
  });
}

export async function sst2SentenceSplit(options: {
  testSentences: number;
  validationSentences: number;
  seed: number;
}): Promise<Sst2SentenceSplit> {
  const items = [
    ...(await readTsv(sharedPath('data', 'sst2', 'train.tsv'))),
    ...(await readTsv(sharedPath('data', 'sst2', 'dev.tsv'))),
  ];
  const isSentence = sentenceFlags(items);
  const sentences = items.filter((_, i) => isSentence[i]);
  const rng = new Rng(options.seed);
  for (let i = sentences.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    [sentences[i], sentences[j]] = [sentences[j]!, sentences[i]!];
  }
  const held = options.testSentences + options.validationSentences;
  const test = sentences.slice(0, options.testSentences);
  const validation = sentences.slice(options.testSentences, held);
  const heldOut = sentences.slice(0, held).map((s) => s.sentence);
  const train = items.filter((item) => !heldOut.some((s) => s.includes(item.sentence)));
  return { train, validation, test, dropped: items.length - train.length };
}
