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
}

const BAR_WIDTH = 24;

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
      const line = renderLine({ label: options.label, count, total, unit, rate, elapsedS, etaS, fields });
      const width = stream.columns ?? 120;
      stream.write(`\r${line.length > width ? line.slice(0, width - 1) : line}\x1b[K${final ? '\n' : ''}`);
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
  };
}

interface LineState {
  label: string;
  count: number;
  total: number | undefined;
  unit: string;
  rate: number;
  elapsedS: number;
  etaS: number | undefined;
  fields: ProgressFields;
}

function renderLine(s: LineState): string {
  const amount = (value: number) => (s.unit === 'B' ? formatBytes(value) : String(value));
  const parts = [s.label];
  if (s.total !== undefined && s.total > 0) {
    const fraction = Math.min(1, s.count / s.total);
    const filled = Math.round(fraction * BAR_WIDTH);
    parts.push(`${(fraction * 100).toFixed(0).padStart(3)}%`, `|${'█'.repeat(filled)}${' '.repeat(BAR_WIDTH - filled)}|`);
    parts.push(`${amount(s.count)}/${amount(s.total)}${s.unit === 'B' ? '' : ` ${s.unit}`}`);
  } else {
    parts.push(`${amount(s.count)}${s.unit === 'B' ? '' : ` ${s.unit}`}`);
  }
  const rate = s.unit === 'B' ? `${formatBytes(s.rate)}/s` : `${formatNumber(s.rate)} ${s.unit}/s`;
  parts.push(`[${formatDuration(s.elapsedS)}${s.etaS !== undefined ? `<${formatDuration(s.etaS)}` : ''}, ${rate}]`);
  for (const [key, value] of Object.entries(s.fields)) parts.push(`${key}=${typeof value === 'number' ? formatNumber(value) : value}`);
  return parts.join(' ');
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
