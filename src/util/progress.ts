/**
 * Progress for long work (training, downloads, evaluation): a bar redrawn in place on a terminal, JSON lines
 * otherwise (CI logs, pipes), so the same call reads well for people and for tools.
 *
 *   const bar = progress({ total: steps, label: 'train' });
 *   for (…) bar.tick(1, { loss, lr });
 *   bar.done();
 */

/** Extra values shown beside the count: loss, learning rate, file name… */
export type ProgressFields = Readonly<Record<string, number | string>>;

export interface ProgressOptions {
  label: string;
  /** How many units make 100%; without it there is no bar and no ETA. */
  total?: number;
  /** What a unit is called. 'B' shows bytes as KiB, MiB, GiB. Default 'it'. */
  unit?: string;
  /** Where to write. Default process.stderr; a bar when it is a TTY, JSON lines when not. */
  stream?: ProgressStream;
  /** The least time between two updates. Default 100 ms on a terminal, 2000 ms for JSON lines. */
  intervalMs?: number;
}

export interface ProgressStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface Progress {
  /** Adds `n` finished units (default 1) and updates the fields shown; redraws at most once per interval. */
  tick(n?: number, fields?: ProgressFields): void;
  /** Writes the final state (always) and ends the line; later calls do nothing. */
  done(fields?: ProgressFields): void;
  /** A line that stays (an evaluation's metrics): above the bar on a terminal, a JSON record otherwise. */
  note(message: string, fields?: ProgressFields): void;
}

const BAR_WIDTH = 24;
const MIN_BAR_WIDTH = 8;

export function progress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const tty = stream.isTTY === true;
  const interval = options.intervalMs ?? (tty ? 100 : 2000);
  const unit = options.unit ?? 'it';
  const start = performance.now();
  let count = 0;
  let fields: ProgressFields = {};
  let lastWrite = -Infinity;
  let finished = false;

  const write = (final: boolean): void => {
    const elapsedS = (performance.now() - start) / 1000;
    const rate = elapsedS > 0 ? count / elapsedS : 0;
    const { total } = options;
    const etaS = total !== undefined && rate > 0 ? Math.max(0, (total - count) / rate) : undefined;
    if (tty) {
      const line = fitLine(
        { label: options.label, count, total, unit, rate, elapsedS, etaS, fields },
        (stream.columns ?? 120) - 1,
      );
      stream.write(`\r${line}\x1b[K${final ? '\n' : ''}`);
    } else {
      const record: Record<string, unknown> = { ...fields, label: options.label, n: count };
      if (total !== undefined) record.total = total;
      record.rate = round(rate);
      record.elapsed_s = round(elapsedS);
      if (etaS !== undefined && !final) record.eta_s = round(etaS);
      if (final) record.finished = true;
      stream.write(JSON.stringify(record) + '\n');
    }
    lastWrite = performance.now();
  };

  return {
    tick(n = 1, newFields) {
      if (finished) return;
      count += n;
      if (newFields) fields = { ...fields, ...newFields };
      const reachedTotal = options.total !== undefined && count >= options.total;
      if (performance.now() - lastWrite >= interval && !reachedTotal) write(false);
    },
    done(newFields) {
      if (finished) return;
      finished = true;
      if (newFields) fields = { ...fields, ...newFields };
      write(true);
    },
    note(message, noteFields = {}) {
      const shown = Object.entries(noteFields).map(([key, value]) => `${key}=${formatValue(value)}`);
      if (!tty) {
        stream.write(JSON.stringify({ label: options.label, note: message, ...noteFields }) + '\n');
        return;
      }
      // The note takes the bar's line; the bar is drawn again below it.
      stream.write(`\r\x1b[K${[message, ...shown].join(' ')}\n`);
      if (!finished) write(false);
    },
  };
}

export interface LineState {
  label: string;
  count: number;
  total: number | undefined;
  unit: string;
  rate: number;
  elapsedS: number;
  etaS: number | undefined;
  fields: ProgressFields;
}

/**
 * The status line within `width` columns, shortened whole parts at a time so that no value is ever cut: the bar
 * narrows first, then goes; then the rate; then fields from the last one back.
 */
export function fitLine(s: LineState, width: number): string {
  const amount = (value: number) => (s.unit === 'B' ? formatBytes(value) : String(value));
  const unit = s.unit === 'B' ? '' : ` ${s.unit}`;
  const hasTotal = s.total !== undefined && s.total > 0;
  const fraction = hasTotal ? Math.min(1, s.count / s.total!) : 0;
  const bar = (cells: number) => {
    const filled = Math.round(fraction * cells);
    return `|${'█'.repeat(filled)}${' '.repeat(cells - filled)}|`;
  };
  const rate = s.unit === 'B' ? `${formatBytes(s.rate)}/s` : `${formatNumber(s.rate)} ${s.unit}/s`;
  const time = `${formatDuration(s.elapsedS)}${s.etaS !== undefined ? `<${formatDuration(s.etaS)}` : ''}`;
  const fields = Object.entries(s.fields).map(([key, value]) => `${key}=${formatValue(value)}`);
  const render = (barCells: number, withRate: boolean, fieldCount: number) =>
    [
      s.label,
      ...(hasTotal ? [`${(fraction * 100).toFixed(0).padStart(3)}%`] : []),
      ...(hasTotal && barCells > 0 ? [bar(barCells)] : []),
      hasTotal ? `${amount(s.count)}/${amount(s.total!)}${unit}` : `${amount(s.count)}${unit}`,
      withRate ? `[${time}, ${rate}]` : `[${time}]`,
      ...fields.slice(0, fieldCount),
    ].join(' ');
  let line = render(BAR_WIDTH, true, fields.length);
  const over = line.length - width;
  if (over <= 0) return line;
  if (BAR_WIDTH - over >= MIN_BAR_WIDTH) return render(BAR_WIDTH - over, true, fields.length);
  for (const withRate of [true, false]) {
    line = render(0, withRate, fields.length);
    if (line.length <= width) return line;
  }
  for (let count = fields.length - 1; count >= 0; count--) {
    line = render(0, false, count);
    if (line.length <= width) return line;
  }
  return line;
}

function formatValue(value: number | string): string {
  return typeof value === 'number' ? formatNumber(value) : value;
}

/** Four significant digits, or exponent form for very small and large magnitudes (learning rates, token counts). */
function formatNumber(value: number): string {
  if (value === 0 || !Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude < 1e-3 || magnitude >= 1e6) return value.toExponential(2);
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(4)));
}

function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(value) : value.toFixed(1)} ${units[i]}`;
}

function formatDuration(seconds: number): string {
  const total = Math.round(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mmss = `${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
  return h > 0 ? `${h}:${mmss}` : mmss;
}

function round(value: number): number {
  return Number(value.toFixed(3));
}
