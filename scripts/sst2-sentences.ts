/**
 * A sentence-level split of SST-2 for the default English sentiment model.
 *
 * `../shared/data/sst2/{train,dev}.tsv` are phrases cut from the same reviews (GLUE's train set re-split at random),
 * so a dev phrase's sentence usually sits in train in pieces, and dev accuracy overstates what a user sees on a
 * new sentence by about 8 points. Here every item not contained in a longer item is a "sentence" (6,885 of them);
 * a seeded draw holds some sentences out for testing and checkpoint selection, and every phrase that occurs inside a
 * held-out sentence leaves the training set, so nothing of a held-out sentence is trained on.
 */
import { Rng } from '../src/data/index.js';
import { sharedPath } from '../src/util/paths.js';
import { readTsv } from './eval-use.js';

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

/** train.tsv / dev.tsv rows, each label checked. */
function readSst2(file: string): LabelledText[] {
  const { texts, labels } = readTsv(file, { header: true });
  return texts.map((sentence, i) => {
    if (labels[i] !== '0' && labels[i] !== '1')
      throw new RangeError(`${file}:${i + 2}: label must be 0 or 1, got ${labels[i]}`);
    return { sentence: sentence.trim(), label: Number(labels[i]) };
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
    ...readSst2(sharedPath('data', 'sst2', 'train.tsv')),
    ...readSst2(sharedPath('data', 'sst2', 'dev.tsv')),
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
