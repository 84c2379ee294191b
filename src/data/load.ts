import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { Dataset, DatasetDict, type Row } from './dataset.js';
import { parseDelimited, type Quoting } from './delimited.js';

export type DataFormat = 'csv' | 'tsv' | 'json' | 'jsonl' | 'text';

export interface LoadDatasetOptions {
  /** Default: from the file extension (.csv, .tsv, .json, .jsonl / .ndjson, .txt). */
  format?: DataFormat;
  /** CSV / TSV: the field separator. Default ',' for csv, tab for tsv. */
  delimiter?: string;
  /** CSV / TSV: how quotes are read (see `Quoting`). Default 'csv' for csv, 'lenient' for tsv. */
  quoting?: Quoting;
  /** CSV / TSV: whether the first row names the columns. Default true. */
  header?: boolean;
  /** CSV / TSV: column names; required when `header` is false, and replaces the header row when it is true. */
  columnNames?: string[];
  /** CSV / TSV: a column whose every value is a number is read as numbers. Default true. */
  inferNumbers?: boolean;
  /** Text: the column name. Default 'text'. */
  textColumn?: string;
  /** Text: one row per line (default), per blank-line-separated paragraph, or the whole file as one row. */
  sampleBy?: 'line' | 'paragraph' | 'document';
  /** JSON: the key that holds the array of records, when the file is an object rather than an array. */
  field?: string;
}

/**
 * Reads a dataset from a file: CSV, TSV, JSON (an array of records, or JSON Lines), JSON Lines or plain text.
 * Given `{ train: path, test: path }`, reads each file as a named split of a `DatasetDict`. A file without rows is an
 * error, as is a malformed row (naming the file and line). `R` declares the row type the file is known to hold
 * (`loadDataset<{ sentence: string; label: number }>(…)`); it is not checked.
 */
export async function loadDataset<R extends Row = Row>(path: string, options?: LoadDatasetOptions): Promise<Dataset<R>>;
export async function loadDataset<S extends string, R extends Row = Row>(
  files: Record<S, string>,
  options?: LoadDatasetOptions,
): Promise<DatasetDict<S, R>>;
export async function loadDataset(
  pathOrFiles: string | Record<string, string>,
  options: LoadDatasetOptions = {},
): Promise<Dataset | DatasetDict> {
  if (typeof pathOrFiles === 'string') return loadFile(pathOrFiles, options, pathOrFiles);
  const names = Object.keys(pathOrFiles);
  if (names.length === 0)
    throw new Error('loadDataset: no splits given (expected e.g. { train: "train.tsv", test: "dev.tsv" })');
  const loaded = await Promise.all(
    names.map((name) => loadFile(pathOrFiles[name]!, options, `${pathOrFiles[name]} (split '${name}')`)),
  );
  return new DatasetDict(Object.fromEntries(names.map((name, i) => [name, loaded[i]!])));
}

async function loadFile(path: string, options: LoadDatasetOptions, description: string): Promise<Dataset> {
  const format = options.format ?? formatFromExtension(path);
  const text = await readFile(path, 'utf8');
  const dataset = parseDataset(text, format, options, path).describedAs(description);
  if (dataset.numRows === 0) throw new Error(`${description}: has no rows`);
  return dataset;
}

/** Parses file contents already in memory; `source` names them in error messages. */
export function parseDataset(text: string, format: DataFormat, options: LoadDatasetOptions, source: string): Dataset {
  switch (format) {
    case 'csv':
    case 'tsv':
      return parseTable(text, format, options, source);
    case 'json':
      return text.trimStart().startsWith('[') || options.field !== undefined
        ? parseJsonArray(text, options.field, source)
        : parseJsonLines(text, source);
    case 'jsonl':
      return parseJsonLines(text, source);
    case 'text':
      return parseText(text, options, source);
  }
}

function formatFromExtension(path: string): DataFormat {
  const ext = extname(path).toLowerCase();
  const byExtension: Record<string, DataFormat> = {
    '.csv': 'csv',
    '.tsv': 'tsv',
    '.json': 'json',
    '.jsonl': 'jsonl',
    '.ndjson': 'jsonl',
    '.txt': 'text',
  };
  const format = byExtension[ext];
  if (!format) {
    throw new Error(
      `${path}: cannot tell the format from the extension '${ext}'; pass { format: 'csv' | 'tsv' | 'json' | 'jsonl' | 'text' }`,
    );
  }
  return format;
}

function parseTable(text: string, format: 'csv' | 'tsv', options: LoadDatasetOptions, source: string): Dataset {
  const { records, lines } = parseDelimited(text, {
    delimiter: options.delimiter ?? (format === 'csv' ? ',' : '\t'),
    quoting: options.quoting ?? (format === 'csv' ? 'csv' : 'lenient'),
    source,
  });
  const header = options.header ?? true;
  if (!header && !options.columnNames) {
    throw new Error(`${source}: header is false, so columnNames must name the columns`);
  }
  const names = options.columnNames ?? records[0] ?? [];
  if (header && options.columnNames && records[0] && records[0].length !== names.length) {
    throw new Error(
      `${source} line ${lines[0]}: the header has ${records[0].length} fields but columnNames gives ${names.length}`,
    );
  }
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new Error(`${source}: column name '${duplicate}' appears twice`);

  const first = header ? 1 : 0;
  const columns: string[][] = names.map(() => new Array<string>(Math.max(0, records.length - first)));
  for (let r = first; r < records.length; r++) {
    const record = records[r]!;
    if (record.length !== names.length) {
      throw new Error(
        `${source} line ${lines[r]}: expected ${names.length} fields (${names.join(', ')}) but found ${record.length}; ` +
          `a field holding the delimiter must be quoted`,
      );
    }
    for (let c = 0; c < names.length; c++) columns[c]![r - first] = record[c]!;
  }
  const inferNumbers = options.inferNumbers ?? true;
  return Dataset.fromColumns(
    Object.fromEntries(names.map((name, c) => [name, inferNumbers ? numbersIfAll(columns[c]!) : columns[c]!])),
    source,
  );
}

const NUMBER = /^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

/** The column as numbers when every value is one (labels, scores), else unchanged. */
function numbersIfAll(values: string[]): string[] | number[] {
  if (values.length === 0 || !values.every((v) => NUMBER.test(v))) return values;
  return values.map(Number);
}

function parseJsonLines(text: string, source: string): Dataset {
  const records: Row[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new SyntaxError(`${source} line ${i + 1}: invalid JSON (${(err as Error).message})`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new TypeError(
        `${source} line ${i + 1}: expected a JSON object per line, got ${JSON.stringify(value).slice(0, 80)}`,
      );
    }
    records.push(value as Row);
  });
  return Dataset.fromRecords(records, source);
}

function parseJsonArray(text: string, field: string | undefined, source: string): Dataset {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new SyntaxError(`${source}: invalid JSON (${(err as Error).message})`);
  }
  if (field !== undefined) {
    if (value === null || typeof value !== 'object' || !(field in value))
      throw new Error(`${source}: no field '${field}' at the top level`);
    value = (value as Record<string, unknown>)[field];
  }
  if (!Array.isArray(value))
    throw new TypeError(`${source}${field ? ` field '${field}'` : ''}: expected an array of records`);
  return Dataset.fromRecords(value as Row[], source);
}

function parseText(text: string, options: LoadDatasetOptions, source: string): Dataset {
  const column = options.textColumn ?? 'text';
  const normalized = text.replace(/\r\n/g, '\n').replace(/\n$/, '');
  let samples: string[];
  switch (options.sampleBy ?? 'line') {
    case 'line':
      // Blank lines stay (as empty rows) so that parallel files keep their line alignment.
      samples = normalized === '' ? [] : normalized.split('\n');
      break;
    case 'paragraph':
      samples = normalized
        .split(/\n\s*\n/)
        .map((p) => p.trim())
        .filter((p) => p !== '');
      break;
    case 'document':
      samples = normalized === '' ? [] : [normalized];
      break;
  }
  return Dataset.fromColumns({ [column]: samples }, source);
}
