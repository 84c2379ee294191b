import { describe, expect, it } from 'vitest';
import { Dataset } from '../../src/data/dataset.js';

const people = () =>
  Dataset.fromRecords(
    [
      { name: 'ann', age: 31, label: 'pos' },
      { name: 'bob', age: 25, label: 'neg' },
      { name: 'cy', age: 40, label: 'pos' },
      { name: 'dee', age: 19, label: 'neg' },
    ],
    'people',
  );

describe('Dataset basics', () => {
  it('builds from records and from columns, with column access, rows and iteration', () => {
    const ds = people();
    expect(ds.numRows).toBe(4);
    expect(ds.columnNames).toEqual(['name', 'age', 'label']);
    expect(ds.column('age')).toEqual([31, 25, 40, 19]);
    expect(ds.row(1)).toEqual({ name: 'bob', age: 25, label: 'neg' });
    expect([...ds].map((r) => r.name)).toEqual(['ann', 'bob', 'cy', 'dee']);
    const cols = Dataset.fromColumns({ a: [1, 2], b: ['x', 'y'] });
    expect(cols.row(1)).toEqual({ a: 2, b: 'y' });
  });

  it('fills keys missing from some records with null', () => {
    const ds = Dataset.fromRecords<Record<string, unknown>>([{ a: 1 }, { b: 2 }]);
    expect(ds.columnNames).toEqual(['a', 'b']);
    expect(ds.row(1)).toEqual({ a: null, b: 2 });
  });

  it('refuses columns of different lengths and out-of-range rows', () => {
    expect(() => Dataset.fromColumns({ a: [1, 2], b: [1] }, 'cols')).toThrow(
      /cols\): columns differ in length \(a: 2, b: 1\)/,
    );
    expect(() => people().row(4)).toThrow(/people: row 4 is out of range \(4 rows\)/);
  });

  it('select, filter and shuffle compose as views over the same rows', () => {
    const ds = people();
    expect(ds.select([3, 0, 0]).column('name')).toEqual(['dee', 'ann', 'ann']);
    const adults = ds.filter((r) => r.age >= 25);
    expect(adults.column('name')).toEqual(['ann', 'bob', 'cy']);
    expect(adults.select([2]).row(0).name).toBe('cy');
    const shuffled = ds.shuffle(5);
    expect(shuffled.column('name')).toEqual(ds.shuffle(5).column('name'));
    expect([...shuffled.column('name')].sort()).toEqual(['ann', 'bob', 'cy', 'dee']);
    expect(() => ds.select([9])).toThrow(/select index 9 is out of range/);
  });

  it('yields batches of rows', () => {
    expect([...people().batches(3)].map((b) => b.map((r) => r.name))).toEqual([['ann', 'bob', 'cy'], ['dee']]);
  });
});

describe('Dataset.map', () => {
  it('adds and replaces columns row by row, and removes columns', () => {
    const ds = people().map((r, i) => ({ upper: r.name.toUpperCase(), age: r.age + i }), { removeColumns: ['label'] });
    expect(ds.columnNames).toEqual(['name', 'age', 'upper']);
    expect(ds.row(1)).toEqual({ name: 'bob', age: 26, upper: 'BOB' });
  });

  it('works on a shuffled view, in its row order', () => {
    const ds = people()
      .select([2, 0])
      .map((r) => ({ n: r.name.length }));
    expect(ds.column('name')).toEqual(['cy', 'ann']);
    expect(ds.column('n')).toEqual([2, 3]);
  });

  it('batched: gets columns batchSize rows at a time and may change the row count once inputs are removed', () => {
    const sizes: number[] = [];
    const ds = people().map(
      (batch) => {
        sizes.push(batch.name.length);
        // One output row per character of each name: a change of row count.
        return { char: batch.name.flatMap((n) => [...n]) };
      },
      { batched: true, batchSize: 3, removeColumns: ['name', 'age', 'label'] },
    );
    expect(sizes).toEqual([3, 1]);
    expect(ds.column('char').join('')).toBe('annbobcydee');
  });

  it('batched: refuses a change of row count while input columns are kept', () => {
    expect(() => people().map((b) => ({ x: [...b.name, 'extra'] }), { batched: true })).toThrow(
      /map returned 5 rows for a batch of 4; the input columns \(name, age, label\) cannot be kept/,
    );
  });

  it('refuses inconsistent output columns and unknown removeColumns', () => {
    expect(() => people().map((r, i): Record<string, unknown> => (i === 2 ? { a: 1, b: 2 } : { a: 1 }))).toThrow(
      /returned columns \(a, b\) for rows from 2, but \(a\) before/,
    );
    expect(() => people().map((r) => r, { removeColumns: ['nope' as 'name'] })).toThrow(
      /people: missing column 'nope'/,
    );
  });

  it('handles 100,000 rows quickly (columnar storage, index views)', () => {
    const n = 100_000;
    const ds = Dataset.fromColumns({
      text: Array.from({ length: n }, (_, i) => `row ${i}`),
      label: Array.from({ length: n }, (_, i) => i % 2),
    });
    const split = ds
      .shuffle(1)
      .map((b) => ({ length: b.text.map((t) => t.length) }), { batched: true })
      .filter((r) => r.length > 5)
      .trainTestSplit({ testSize: 0.1, seed: 2, stratifyByColumn: 'label' });
    expect(split.splits.train.numRows + split.splits.test.numRows).toBe(n - 10);
  });
});

describe('trainTestSplit', () => {
  const numbers = Dataset.fromColumns({
    x: Array.from({ length: 100 }, (_, i) => i),
    y: Array.from({ length: 100 }, (_, i) => (i < 80 ? 'a' : 'b')),
  });

  it('splits a fraction (rounded up) into disjoint, covering, seeded parts', () => {
    const { train, test } = numbers.trainTestSplit({ testSize: 0.25, seed: 3 }).splits;
    expect(test.numRows).toBe(25);
    expect(train.numRows).toBe(75);
    expect([...train.column('x'), ...test.column('x')].sort((a, b) => a - b)).toEqual(numbers.column('x'));
    expect(numbers.trainTestSplit({ testSize: 0.25, seed: 3 }).splits.test.column('x')).toEqual(test.column('x'));
    expect(numbers.trainTestSplit({ testSize: 0.25, seed: 4 }).splits.test.column('x')).not.toEqual(test.column('x'));
    expect(numbers.trainTestSplit({ testSize: 10 }).splits.test.numRows).toBe(10);
  });

  it('stratifies: each class keeps its share', () => {
    const { train, test } = numbers.trainTestSplit({ testSize: 0.15, seed: 1, stratifyByColumn: 'y' }).splits;
    // 15 test rows over 80 'a' and 20 'b': 12 and 3 exactly.
    expect(test.column('y').filter((y) => y === 'a').length).toBe(12);
    expect(test.column('y').filter((y) => y === 'b').length).toBe(3);
    expect(train.numRows).toBe(85);
  });

  it('refuses sizes that leave a split empty', () => {
    expect(() => numbers.trainTestSplit({ testSize: 100 })).toThrow(
      /testSize 100 must be a fraction in \(0, 1\) or a whole number/,
    );
    expect(() => numbers.trainTestSplit({ testSize: 0 })).toThrow(/testSize 0/);
  });
});

describe('tensors, labels and required columns', () => {
  it('makes (N) and (N, L) tensors, int32 for integers and float32 otherwise', () => {
    const ds = Dataset.fromColumns({
      ids: [
        [1, 2, 3],
        [4, 5, 6],
      ],
      label: [0, 1],
      score: [0.5, 1.5],
      flag: [true, false],
    });
    const t = ds.toTensors(['ids', 'label', 'score', 'flag']);
    expect(t.ids.shape).toEqual([2, 3]);
    expect(t.ids.dtype).toBe('int32');
    expect(Array.from(t.ids.data)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(t.label.dtype).toBe('int32');
    expect(t.score.dtype).toBe('float32');
    expect(Array.from(t.flag.data)).toEqual([1, 0]);
    expect(ds.toTensors(['label'], { dtype: 'float32' }).label.dtype).toBe('float32');
  });

  it('refuses ragged and text columns with a hint', () => {
    const ds = Dataset.fromColumns({ ids: [[1, 2], [3]], text: ['a', 'b'] }, 'd');
    expect(() => ds.toTensors(['ids'])).toThrow(
      /d: column 'ids': row 1 has length 1 where row 0 has 2; ragged rows need padding/,
    );
    expect(() => ds.toTensors(['text'])).toThrow(/column 'text' holds text at row 0.*tokenize text with map first/);
  });

  it('requireColumns and requireRows name what is missing', () => {
    expect(() => people().requireColumns(['label', 'labels', 'input_ids'], 'training')).toThrow(
      "people: missing columns 'labels', 'input_ids' (needed for training); it has 'name', 'age', 'label'",
    );
    expect(() =>
      people()
        .filter(() => false)
        .requireRows('evaluation'),
    ).toThrow('people: has no rows (needed for evaluation)');
  });

  it('encodeLabels maps names to ids and names a label that is not known', () => {
    expect(people().encodeLabels({ neg: 0, pos: 1 }).column('label')).toEqual([1, 0, 1, 0]);
    expect(people().encodeLabels({ neg: 0, pos: 1 }, { outputColumn: 'labels' }).column('labels')).toEqual([
      1, 0, 1, 0,
    ]);
    expect(() => people().encodeLabels({ pos: 1, neutral: 2 })).toThrow(
      'people: row 1 has label "neg", which is not in label2id (known: "pos", "neutral")',
    );
    const numeric = Dataset.fromColumns({ label: [1, 0] });
    expect(numeric.encodeLabels({ '0': 0, '1': 1 }).column('label')).toEqual([1, 0]);
    expect(() => Dataset.fromColumns({ text: ['a'] }, 'sst2').encodeLabels({ a: 0 })).toThrow(
      /sst2: missing column 'label' \(needed for encodeLabels\)/,
    );
  });

  it('renames, removes and adds columns', () => {
    const ds = people().renameColumn('label', 'labels').removeColumns(['age']).addColumn('id', [1, 2, 3, 4]);
    expect(ds.columnNames).toEqual(['name', 'labels', 'id']);
    expect(ds.row(0)).toEqual({ name: 'ann', labels: 'pos', id: 1 });
    expect(() => people().renameColumn('name', 'age')).toThrow(/cannot rename 'name' to 'age': 'age' exists/);
  });
});

describe('DatasetDict', () => {
  it('applies map and filter to every split and names unknown splits', () => {
    const dict = people().trainTestSplit({ testSize: 2, seed: 0 });
    const mapped = dict.map((r) => ({ len: r.name.length })).filter((r) => r.len > 0);
    expect(mapped.names).toEqual(['train', 'test']);
    expect(mapped.splits.train.columnNames).toEqual(['name', 'age', 'label', 'len']);
    expect(mapped.split('test').numRows).toBe(2);
    expect(() => mapped.split('validation')).toThrow("no split 'validation'; the splits are 'train', 'test'");
  });
});
