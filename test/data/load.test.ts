import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/load.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

const dir = mkdtempSync(join(tmpdir(), 'attn-data-'));
function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('loadDataset from files', () => {
  it('reads CSV with a header, quoting and numbers inferred per column', async () => {
    const ds = await loadDataset(file('a.csv', 'text,label,score\n"hi, there",1,0.5\nbye,0,x\n'));
    expect(ds.columnNames).toEqual(['text', 'label', 'score']);
    expect(ds.column('text')).toEqual(['hi, there', 'bye']);
    expect(ds.column('label')).toEqual([1, 0]);
    expect(ds.column('score')).toEqual(['0.5', 'x']);
    expect((await loadDataset(file('b.csv', 'a\n1\n'), { inferNumbers: false })).column('a')).toEqual(['1']);
  });

  it('reads TSV without a header given column names', async () => {
    const ds = await loadDataset(file('c.tsv', 'good\tpos\nbad\tneg\n'), {
      header: false,
      columnNames: ['text', 'label'],
    });
    expect(ds.row(1)).toEqual({ text: 'bad', label: 'neg' });
    await expect(loadDataset(file('d.tsv', 'x\ty\n'), { header: false })).rejects.toThrow(
      /header is false, so columnNames must name the columns/,
    );
  });

  it('names the file and line of a row with the wrong number of fields', async () => {
    const path = file('bad.tsv', 'sentence\tlabel\nfine\t1\n\nextra\ttab\t0\n');
    await expect(loadDataset(path)).rejects.toThrow(`${path} line 4: expected 2 fields (sentence, label) but found 3`);
  });

  it('reads JSON Lines (union of keys), JSON arrays and JSON under a field', async () => {
    const lines = await loadDataset(file('e.jsonl', '{"a":1}\n\n{"a":2,"b":[1,2]}\n'));
    expect(lines.column('b')).toEqual([null, [1, 2]]);
    expect((await loadDataset(file('f.json', '[{"x":1},{"x":2}]'))).column('x')).toEqual([1, 2]);
    expect((await loadDataset(file('g.json', '{"data":[{"x":3}]}'), { field: 'data' })).column('x')).toEqual([3]);
    const bad = file('h.jsonl', '{"a":1}\n{"a":\n');
    await expect(loadDataset(bad)).rejects.toThrow(`${bad} line 2: invalid JSON`);
    await expect(loadDataset(file('i.jsonl', '[1]\n'))).rejects.toThrow(
      /line 1: expected a JSON object per line, got \[1\]/,
    );
  });

  it('reads plain text by line (blank lines kept), paragraph or document', async () => {
    const path = file('j.txt', 'one\n\ntwo\nthree\n');
    expect((await loadDataset(path)).column('text')).toEqual(['one', '', 'two', 'three']);
    expect((await loadDataset(path, { sampleBy: 'paragraph', textColumn: 'story' })).column('story')).toEqual([
      'one',
      'two\nthree',
    ]);
    expect((await loadDataset(path, { sampleBy: 'document' })).numRows).toBe(1);
  });

  it('refuses an unknown extension, an empty file and an empty split, naming them', async () => {
    await expect(loadDataset(file('k.de', 'x\n'))).rejects.toThrow(
      /k\.de: cannot tell the format from the extension '\.de'; pass \{ format/,
    );
    expect((await loadDataset(file('l.de', 'Ein Hund\n'), { format: 'text' })).column('text')).toEqual(['Ein Hund']);
    const empty = file('m.tsv', 'sentence\tlabel\n');
    await expect(loadDataset({ train: file('n.tsv', 'sentence\tlabel\nok\t1\n'), test: empty })).rejects.toThrow(
      `${empty} (split 'test'): has no rows`,
    );
  });

  it('reads named splits into a DatasetDict', async () => {
    const dict = await loadDataset({ train: file('o.csv', 'a\n1\n2\n'), test: file('p.csv', 'a\n3\n') });
    expect(dict.names).toEqual(['train', 'test']);
    expect(dict.splits.train.numRows).toBe(2);
    expect(dict.split('test').column('a')).toEqual([3]);
  });
});

describeWithShared(
  'loadDataset on the shared corpora',
  ['data/sst2/dev.tsv', 'data/nsmc/train.tsv', 'data/agnews/dev.tsv', 'data/rte/dev.tsv'],
  () => {
    it('SST-2: sentence and numeric label, every row', async () => {
      const dev = await loadDataset(sharedPath('data/sst2/dev.tsv'));
      expect(dev.columnNames).toEqual(['sentence', 'label']);
      expect(dev.numRows).toBe(6735);
      expect(new Set(dev.column('label'))).toEqual(new Set([0, 1]));
    });

    it('NSMC: 100,000 rows; raw quotes inside the text stay literal', async () => {
      const train = await loadDataset(sharedPath('data/nsmc/train.tsv'));
      expect(train.numRows).toBe(100_000);
      expect(train.columnNames).toEqual(['text', 'label']);
      const texts = train.column('text') as string[];
      expect(texts).toContain('"이상한평점"이네요 상당히 조잡한전개와 흡입력없는 잔잔하다못해 지루한스토리');
      expect(texts).toContain('"');
    });

    it('AG News: CSV-style quoted fields in a headerless TSV', async () => {
      const dev = await loadDataset(sharedPath('data/agnews/dev.tsv'), {
        header: false,
        columnNames: ['text', 'label'],
      });
      expect(new Set(dev.column('label'))).toEqual(new Set(['World', 'Sports', 'Business', 'Sci/Tech']));
      expect(dev.column('text')).toContain(
        'Iraqi interim Prime Minister Ayad Allawi said on Tuesday "major neglect" by U.S.-led forces led to the murder of 49 Iraqi army recruits by insurgents this weekend.',
      );
    });

    it('RTE: string labels that encodeLabels maps', async () => {
      const dev = await loadDataset(sharedPath('data/rte/dev.tsv'));
      expect(dev.numRows).toBe(139);
      const ids = dev.encodeLabels({ entailment: 0, not_entailment: 1 }).column('label');
      expect(new Set(ids)).toEqual(new Set([0, 1]));
    });
  },
);
