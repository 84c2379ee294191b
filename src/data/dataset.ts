import { Tensor, type DType } from '../tensor/index.js';
import { Rng } from './rng.js';

/** One example: column name → value. */
export type Row = Record<string, unknown>;

/** Column-major form of rows: column name → one value per row (the input and output of a batched `map`). */
export type Columns<R extends Row> = { [K in keyof R]: R[K][] };

/** `A` with the columns of `B` added or replaced. */
export type Merge<A, B> = Omit<A, keyof B> & B;

export interface MapOptions<K> {
  /** Columns to drop from the result (after `fn` has seen them). */
  removeColumns?: K[];
}

export interface BatchedMapOptions<K> extends MapOptions<K> {
  batched: true;
  /** Rows per call of `fn`; the last batch may be smaller. Default 1000. */
  batchSize?: number;
}

export interface TrainTestSplitOptions {
  /** A fraction in (0, 1) of the rows, or a whole number of rows. */
  testSize: number;
  /** Default 0: the same split on every run unless asked otherwise. */
  seed?: number;
  /** Keep each value of this column in the same proportion in both splits. */
  stratifyByColumn?: string;
}

export interface ToTensorsOptions {
  /** One dtype for all columns or one per column. Default: int32 where every value is an integer, else float32. */
  dtype?: DType | Record<string, DType>;
}

export interface EncodeLabelsOptions<In extends string = string, Out extends string = string> {
  /** The column that holds label names. Default 'label'. */
  column?: In;
  /** Where the ids go. Default: replace `column`. */
  outputColumn?: Out;
}

const DEFAULT_MAP_BATCH_SIZE = 1000;

/**
 * A table of examples stored by column, like a Hugging Face `datasets.Dataset`. Transformations return new datasets
 * and never change this one. `select`, `shuffle`, `filter` and splits share the column storage and only keep a list of
 * row indices, so they cost 4 bytes a row whatever the columns hold; `map` writes new columns.
 */
export class Dataset<R extends Row = Row> implements Iterable<R> {
  private constructor(
    /** Column name → values, in storage order. Every column has the same length. */
    private readonly storage: ReadonlyMap<string, readonly unknown[]>,
    /** Row i of this dataset is storage row `rowIndices[i]`; null when rows are the storage rows in order. */
    private readonly rowIndices: Int32Array | null,
    /** Names the dataset in messages: a file path, a split name. */
    readonly description: string,
  ) {}

  /** A dataset from rows; columns are the keys of all rows in order of first appearance, missing values null. */
  static fromRecords<R extends Row>(records: readonly R[], description = 'records'): Dataset<R> {
    const names: string[] = [];
    const seen = new Set<string>();
    for (const record of records) {
      if (record === null || typeof record !== 'object' || Array.isArray(record)) {
        throw new TypeError(
          `Dataset.fromRecords (${description}): each record must be an object of column values, got ${JSON.stringify(record)}`,
        );
      }
      for (const key of Object.keys(record)) {
        if (!seen.has(key)) {
          seen.add(key);
          names.push(key);
        }
      }
    }
    const storage = new Map<string, unknown[]>();
    for (const name of names)
      storage.set(
        name,
        records.map((record) => (name in record ? record[name] : null)),
      );
    return new Dataset<R>(storage, null, description);
  }

  /** A dataset from columns of equal length. The arrays are used as they are, not copied: do not change them after. */
  static fromColumns<R extends Row>(columns: Columns<R>, description = 'columns'): Dataset<R> {
    const entries = Object.entries(columns) as [string, unknown[]][];
    for (const [name, values] of entries) {
      if (!Array.isArray(values))
        throw new TypeError(
          `Dataset.fromColumns (${description}): column '${name}' must be an array, got ${typeof values}`,
        );
    }
    const lengths = entries.map(([name, values]) => `${name}: ${values.length}`);
    if (new Set(entries.map(([, values]) => values.length)).size > 1) {
      throw new RangeError(`Dataset.fromColumns (${description}): columns differ in length (${lengths.join(', ')})`);
    }
    return new Dataset<R>(new Map(entries), null, description);
  }

  get numRows(): number {
    return this.rowIndices ? this.rowIndices.length : this.storedRowCount();
  }

  get columnNames(): string[] {
    return [...this.storage.keys()];
  }

  /** The values of one column, in row order (a new array). */
  column<K extends keyof R & string>(name: K): R[K][] {
    const values = this.storageOf(name);
    if (!this.rowIndices) return values.slice() as R[K][];
    return Array.from(this.rowIndices, (i) => values[i]) as R[K][];
  }

  row(index: number): R {
    if (!Number.isInteger(index) || index < 0 || index >= this.numRows) {
      throw new RangeError(`${this.description}: row ${index} is out of range (${this.numRows} rows)`);
    }
    return this.storedRow(this.rowIndices ? this.rowIndices[index]! : index);
  }

  *[Symbol.iterator](): Iterator<R> {
    for (let i = 0; i < this.numRows; i++) yield this.storedRow(this.rowIndices ? this.rowIndices[i]! : i);
  }

  /** Consecutive batches of rows (arrays of records, the input of a collator); the last one may be smaller. */
  *batches(batchSize: number): Generator<R[]> {
    requirePositiveInteger(batchSize, 'batches: batchSize');
    for (let start = 0; start < this.numRows; start += batchSize) {
      const end = Math.min(start + batchSize, this.numRows);
      const batch: R[] = [];
      for (let i = start; i < end; i++) batch.push(this.row(i));
      yield batch;
    }
  }

  /** The rows at `indices`, in that order (repeats allowed). */
  select(indices: Iterable<number>): Dataset<R> {
    const picked = Int32Array.from(indices);
    const n = this.numRows;
    for (const i of picked) {
      if (i < 0 || i >= n) throw new RangeError(`${this.description}: select index ${i} is out of range (${n} rows)`);
    }
    return this.withRows(this.rowIndices ? picked.map((i) => this.rowIndices![i]!) : picked);
  }

  filter(predicate: (row: R, index: number) => boolean): Dataset<R> {
    const kept: number[] = [];
    for (let i = 0; i < this.numRows; i++) if (predicate(this.row(i), i)) kept.push(i);
    return this.select(kept);
  }

  /** The rows in a random order fixed by `seed`. */
  shuffle(seed = 0): Dataset<R> {
    return this.select(new Rng(seed).shuffle(identity(this.numRows)));
  }

  /**
   * Applies `fn` to every row; what it returns is added to the row (same names replace). With `batched: true`, `fn`
   * gets and returns columns for `batchSize` rows at a time, and may return a different number of rows if every input
   * column is removed or replaced.
   */
  map<S extends Row, K extends keyof R & string = never>(
    fn: (row: R, index: number) => S,
    options?: MapOptions<K> & { batched?: false },
  ): Dataset<Merge<Omit<R, K>, S>>;
  map<S extends Row, K extends keyof R & string = never>(
    fn: (batch: Columns<R>, indices: number[]) => Columns<S>,
    options: BatchedMapOptions<K>,
  ): Dataset<Merge<Omit<R, K>, S>>;
  map(
    fn: ((row: R, index: number) => Row) | ((batch: Columns<R>, indices: number[]) => Columns<Row>),
    options: MapOptions<string> & { batched?: boolean; batchSize?: number } = {},
  ): Dataset<Row> {
    const removed = new Set(options.removeColumns ?? []);
    for (const name of removed) this.storageOf(name);
    const batchSize = options.batched ? (options.batchSize ?? DEFAULT_MAP_BATCH_SIZE) : 1;
    requirePositiveInteger(batchSize, 'map: batchSize');

    const outputs = new Map<string, unknown[]>();
    let outputRows = 0;
    for (let start = 0; start < this.numRows; start += batchSize) {
      const indices = range(start, Math.min(start + batchSize, this.numRows));
      const produced = options.batched
        ? (fn as (batch: Columns<R>, indices: number[]) => Columns<Row>)(this.columnsOf(indices), indices)
        : toColumns((fn as (row: R, index: number) => Row)(this.row(start), start), start, this.description);
      const count = this.appendBatch(outputs, produced, indices, outputRows);
      if (count !== indices.length) {
        const kept = this.columnNames.filter((name) => !removed.has(name) && !outputs.has(name));
        if (kept.length > 0) {
          throw new RangeError(
            `${this.description}: map returned ${count} rows for a batch of ${indices.length}; the input columns ` +
              `(${kept.join(', ')}) cannot be kept alongside: add them to removeColumns`,
          );
        }
      }
      outputRows += count;
    }

    return this.withColumns(outputs, removed);
  }

  /**
   * Splits into `train` and `test` after a seeded shuffle, like `datasets.Dataset.train_test_split`; with
   * `stratifyByColumn`, each value of that column keeps its share in both splits (largest-remainder rounding).
   */
  trainTestSplit(options: TrainTestSplitOptions): DatasetDict<'train' | 'test', R> {
    const n = this.numRows;
    const testCount = testRowCount(options.testSize, n, this.description);
    const rng = new Rng(options.seed ?? 0);
    let train: number[];
    let test: number[];
    if (options.stratifyByColumn === undefined) {
      const order = rng.shuffle(identity(n));
      test = order.slice(0, testCount);
      train = order.slice(testCount);
    } else {
      ({ train, test } = stratifiedSplit(this.column(options.stratifyByColumn as keyof R & string), testCount, rng));
    }
    return new DatasetDict({
      train: this.select(train).describedAs(`${this.description} (train split)`),
      test: this.select(test).describedAs(`${this.description} (test split)`),
    });
  }

  /**
   * Columns as tensors with the rows as the first axis: numbers give shape (N), equal-length number arrays (N, L).
   * Ragged or text columns are refused: pad them with a collator per batch.
   */
  toTensors<K extends keyof R & string>(columns: readonly K[], options: ToTensorsOptions = {}): Record<K, Tensor> {
    const result = {} as Record<K, Tensor>;
    for (const name of columns) {
      const dtype = typeof options.dtype === 'string' ? options.dtype : options.dtype?.[name];
      result[name] = columnToTensor(this.column(name), dtype, `${this.description}: column '${name}'`);
    }
    return result;
  }

  /** Throws, naming what is missing and what there is, unless every column in `names` exists. */
  requireColumns(names: readonly string[], purpose?: string): this {
    const missing = names.filter((name) => !this.storage.has(name));
    if (missing.length > 0) {
      const why = purpose ? ` (needed for ${purpose})` : '';
      throw new Error(
        `${this.description}: missing column${missing.length > 1 ? 's' : ''} ${missing.map((m) => `'${m}'`).join(', ')}${why}; ` +
          `it has ${this.columnNames.map((m) => `'${m}'`).join(', ') || 'no columns'}`,
      );
    }
    return this;
  }

  /** Throws unless the dataset has at least one row (an empty split would train or evaluate on nothing). */
  requireRows(purpose?: string): this {
    if (this.numRows === 0)
      throw new Error(`${this.description}: has no rows${purpose ? ` (needed for ${purpose})` : ''}`);
    return this;
  }

  /**
   * Replaces label names with their ids from `label2id` (names are compared as strings, so a label column read as
   * numbers matches `{ '0': 0, '1': 1 }`). A label not in `label2id` is an error naming the row and the known labels.
   */
  encodeLabels<In extends string = 'label', Out extends string = In>(
    label2id: Readonly<Record<string, number>>,
    options: EncodeLabelsOptions<In, Out> = {},
  ): Dataset<Merge<R, Record<Out, number>>> {
    const column = options.column ?? 'label';
    this.requireColumns([column], 'encodeLabels');
    const labels = this.column(column as keyof R & string);
    const ids = labels.map((label, row) => {
      const name = String(label);
      if (!Object.hasOwn(label2id, name)) {
        throw new Error(
          `${this.description}: row ${row} has ${column} ${JSON.stringify(label)}, which is not in label2id ` +
            `(known: ${Object.keys(label2id)
              .map((k) => JSON.stringify(k))
              .join(', ')})`,
        );
      }
      return label2id[name]!;
    });
    return this.withColumns(new Map([[options.outputColumn ?? column, ids]])) as Dataset<Merge<R, Record<Out, number>>>;
  }

  /** This dataset with `values` as column `name` (added, or replacing a column of that name). */
  addColumn<K extends string, V>(name: K, values: readonly V[]): Dataset<Merge<R, Record<K, V>>> {
    if (values.length !== this.numRows) {
      throw new RangeError(
        `${this.description}: addColumn '${name}' has ${values.length} values for ${this.numRows} rows`,
      );
    }
    return this.withColumns(new Map([[name, values]])) as Dataset<Merge<R, Record<K, V>>>;
  }

  removeColumns<K extends keyof R & string>(names: readonly K[]): Dataset<Omit<R, K>> {
    for (const name of names) this.storageOf(name);
    const storage = new Map([...this.storage].filter(([name]) => !names.includes(name as K)));
    return new Dataset<Omit<R, K>>(storage, this.rowIndices, this.description);
  }

  renameColumn<From extends keyof R & string, To extends string>(
    from: From,
    to: To,
  ): Dataset<Merge<Omit<R, From>, Record<To, R[From]>>> {
    this.storageOf(from);
    if ((from as string) !== to && this.storage.has(to))
      throw new Error(`${this.description}: cannot rename '${from}' to '${to}': '${to}' exists`);
    const storage = new Map([...this.storage].map(([name, values]) => [name === from ? to : name, values] as const));
    return new Dataset(storage, this.rowIndices, this.description);
  }

  /** The same rows under another name in messages. */
  describedAs(description: string): Dataset<R> {
    return new Dataset<R>(this.storage, this.rowIndices, description);
  }

  private withRows(rowIndices: Int32Array): Dataset<R> {
    return new Dataset<R>(this.storage, rowIndices, this.description);
  }

  /**
   * Adds or replaces (in place) columns given in row order, dropping `removed`; the other columns are gathered so
   * that all share one row order.
   */
  private withColumns(
    columns: ReadonlyMap<string, readonly unknown[]>,
    removed: ReadonlySet<string> = new Set(),
  ): Dataset<Row> {
    const storage = new Map<string, readonly unknown[]>();
    for (const name of this.columnNames) {
      if (!removed.has(name) || columns.has(name)) storage.set(name, columns.get(name) ?? this.column(name));
    }
    for (const [name, values] of columns) storage.set(name, values);
    return new Dataset<Row>(storage, null, this.description);
  }

  private storageOf(name: string): readonly unknown[] {
    const values = this.storage.get(name);
    if (!values) this.requireColumns([name]);
    return values!;
  }

  private storedRowCount(): number {
    const first = this.storage.values().next();
    return first.done ? 0 : first.value.length;
  }

  private storedRow(storageIndex: number): R {
    const row: Row = {};
    for (const [name, values] of this.storage) row[name] = values[storageIndex];
    return row as R;
  }

  private columnsOf(indices: readonly number[]): Columns<R> {
    const batch: Row = {};
    for (const [name, values] of this.storage) {
      batch[name] = indices.map((i) => values[this.rowIndices ? this.rowIndices[i]! : i]);
    }
    return batch as Columns<R>;
  }

  /** Appends one batch of `map` output to `outputs`, checking that every batch names the same columns. */
  private appendBatch(
    outputs: Map<string, unknown[]>,
    produced: Columns<Row>,
    indices: number[],
    rowsSoFar: number,
  ): number {
    if (produced === null || typeof produced !== 'object') {
      throw new TypeError(
        `${this.description}: map must return an object of columns, got ${JSON.stringify(produced)} for rows from ${indices[0]}`,
      );
    }
    const names = Object.keys(produced);
    if (rowsSoFar > 0 || outputs.size > 0) {
      const expected = [...outputs.keys()];
      if (names.length !== expected.length || names.some((name) => !outputs.has(name))) {
        throw new Error(
          `${this.description}: map returned columns (${names.join(', ')}) for rows from ${indices[0]}, ` +
            `but (${expected.join(', ')}) before; every call must return the same columns`,
        );
      }
    }
    let count: number | undefined;
    for (const name of names) {
      const values = produced[name]!;
      if (!Array.isArray(values)) {
        throw new TypeError(
          `${this.description}: batched map must return arrays, column '${name}' is ${typeof values}`,
        );
      }
      if (count !== undefined && values.length !== count) {
        throw new RangeError(
          `${this.description}: map returned columns of different lengths for rows from ${indices[0]}`,
        );
      }
      count = values.length;
      let column = outputs.get(name);
      if (!column) outputs.set(name, (column = []));
      for (const value of values) column.push(value);
    }
    return count ?? indices.length;
  }
}

/** Named splits of one dataset (`train`, `test`, …), like `datasets.DatasetDict`. */
export class DatasetDict<S extends string = string, R extends Row = Row> {
  constructor(readonly splits: Readonly<Record<S, Dataset<R>>>) {}

  get names(): S[] {
    return Object.keys(this.splits) as S[];
  }

  /** The split called `name`; an unknown name is an error listing the splits there are. */
  split(name: string): Dataset<R> {
    if (!Object.hasOwn(this.splits, name)) {
      throw new Error(`no split '${name}'; the splits are ${this.names.map((n) => `'${n}'`).join(', ')}`);
    }
    return this.splits[name as S];
  }

  map<T extends Row, K extends keyof R & string = never>(
    fn: (row: R, index: number) => T,
    options?: MapOptions<K> & { batched?: false },
  ): DatasetDict<S, Merge<Omit<R, K>, T>>;
  map<T extends Row, K extends keyof R & string = never>(
    fn: (batch: Columns<R>, indices: number[]) => Columns<T>,
    options: BatchedMapOptions<K>,
  ): DatasetDict<S, Merge<Omit<R, K>, T>>;
  map(
    fn: (input: never, index: never) => Row,
    options?: BatchedMapOptions<string> | MapOptions<string>,
  ): DatasetDict<S, Row> {
    return this.each((dataset) => (dataset.map as (f: unknown, o: unknown) => Dataset<Row>).call(dataset, fn, options));
  }

  filter(predicate: (row: R, index: number) => boolean): DatasetDict<S, R> {
    return this.each((dataset) => dataset.filter(predicate));
  }

  shuffle(seed = 0): DatasetDict<S, R> {
    return this.each((dataset) => dataset.shuffle(seed));
  }

  encodeLabels<In extends string = 'label', Out extends string = In>(
    label2id: Readonly<Record<string, number>>,
    options?: EncodeLabelsOptions<In, Out>,
  ): DatasetDict<S, Merge<R, Record<Out, number>>> {
    return this.each((dataset) => dataset.encodeLabels(label2id, options));
  }

  removeColumns<K extends keyof R & string>(names: readonly K[]): DatasetDict<S, Omit<R, K>> {
    return this.each((dataset) => dataset.removeColumns(names));
  }

  renameColumn<From extends keyof R & string, To extends string>(
    from: From,
    to: To,
  ): DatasetDict<S, Merge<Omit<R, From>, Record<To, R[From]>>> {
    return this.each((dataset) => dataset.renameColumn(from, to));
  }

  /** Applies `transform` to every split. */
  each<T extends Row>(transform: (dataset: Dataset<R>, name: S) => Dataset<T>): DatasetDict<S, T> {
    const splits = {} as Record<S, Dataset<T>>;
    for (const name of this.names) splits[name] = transform(this.splits[name], name);
    return new DatasetDict(splits);
  }
}

function toColumns(row: Row, index: number, description: string): Columns<Row> {
  if (row === null || typeof row !== 'object' || Array.isArray(row)) {
    throw new TypeError(
      `${description}: map must return an object of column values, got ${JSON.stringify(row)} for row ${index}`,
    );
  }
  const columns: Columns<Row> = {};
  for (const [name, value] of Object.entries(row)) columns[name] = [value];
  return columns;
}

function testRowCount(testSize: number, n: number, description: string): number {
  // A fraction rounds up (as scikit-learn does), so a small test split is never empty.
  const count = testSize > 0 && testSize < 1 ? Math.ceil(testSize * n) : testSize;
  if (!Number.isInteger(count) || count <= 0 || count >= n) {
    throw new RangeError(
      `${description}: trainTestSplit testSize ${testSize} must be a fraction in (0, 1) or a whole number of rows that leaves ` +
        `both splits non-empty (${n} rows)`,
    );
  }
  return count;
}

function stratifiedSplit(labels: readonly unknown[], testCount: number, rng: Rng): { train: number[]; test: number[] } {
  const groups = new Map<string, number[]>();
  labels.forEach((label, i) => {
    const key = JSON.stringify(label);
    let group = groups.get(key);
    if (!group) groups.set(key, (group = []));
    group.push(i);
  });
  const members = [...groups.values()];
  const exact = members.map((group) => (group.length * testCount) / labels.length);
  const counts = exact.map(Math.floor);
  // Largest remainders take the rows left over by rounding down, so the counts sum to testCount exactly.
  const byRemainder = range(0, members.length).sort(
    (a, b) => exact[b]! - counts[b]! - (exact[a]! - counts[a]!) || a - b,
  );
  for (let k = 0, left = testCount - counts.reduce((a, b) => a + b, 0); k < left; k++) counts[byRemainder[k]!]!++;
  const train: number[] = [];
  const test: number[] = [];
  members.forEach((group, g) => {
    rng.shuffle(group);
    test.push(...group.slice(0, counts[g]));
    train.push(...group.slice(counts[g]));
  });
  // Interleave the classes, as a shuffled unstratified split would.
  return { train: rng.shuffle(train), test: rng.shuffle(test) };
}

function columnToTensor(values: readonly unknown[], dtype: DType | undefined, what: string): Tensor {
  if (values.length === 0) throw new RangeError(`${what}: no rows to make a tensor from`);
  const rowShape = shapeOf(values[0], what, 0);
  const rowSize = rowShape.reduce((a, b) => a * b, 1);
  const flat = new Array<number>(values.length * rowSize);
  let offset = 0;
  values.forEach((value, row) => {
    offset = flatten(value, rowShape, 0, flat, offset, what, row);
  });
  const chosen =
    dtype ?? (flat.every((v) => Number.isInteger(v) && v >= -2147483648 && v <= 2147483647) ? 'int32' : 'float32');
  return Tensor.from(flat, [values.length, ...rowShape], chosen);
}

function shapeOf(value: unknown, what: string, row: number): number[] {
  if (typeof value === 'number' || typeof value === 'boolean') return [];
  if (Array.isArray(value)) return value.length === 0 ? [0] : [value.length, ...shapeOf(value[0], what, row)];
  throw new TypeError(
    `${what} holds ${typeof value === 'string' ? 'text' : JSON.stringify(value)} at row ${row}; only numbers and arrays ` +
      `of numbers become tensors (tokenize text with map first)`,
  );
}

function flatten(
  value: unknown,
  shape: number[],
  axis: number,
  out: number[],
  offset: number,
  what: string,
  row: number,
): number {
  if (axis === shape.length) {
    if (typeof value === 'boolean') value = value ? 1 : 0;
    if (typeof value !== 'number') shapeOf(value, what, row);
    out[offset] = value as number;
    return offset + 1;
  }
  if (!Array.isArray(value) || value.length !== shape[axis]) {
    throw new RangeError(
      `${what}: row ${row} has length ${Array.isArray(value) ? value.length : 'none'} where row 0 has ${shape[axis]}; ` +
        `ragged rows need padding (use a data collator per batch)`,
    );
  }
  for (const item of value) offset = flatten(item, shape, axis + 1, out, offset, what, row);
  return offset;
}

function requirePositiveInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${what} must be a positive integer, got ${value}`);
}

function identity(n: number): number[] {
  return range(0, n);
}

function range(start: number, end: number): number[] {
  const out = new Array<number>(Math.max(0, end - start));
  for (let i = start; i < end; i++) out[i - start] = i;
  return out;
}
