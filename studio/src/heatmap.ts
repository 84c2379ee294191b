// A heatmap of a matrix on a canvas, with row and column labels drawn beside it. Hovering a cell shows its value;
// the arrow keys move a cursor over the cells and announce each one, so the map can be read without a mouse.
import { h } from './dom.js';

export interface HeatmapOptions {
  values: number[][];
  rowLabels?: string[];
  columnLabels?: string[];
  /** Pixels per cell side. */
  cell: number;
  /** The value's colour: see `sequential` and `diverging`. */
  colour: (value: number) => string;
  /** What a cell says when hovered or reached by keyboard. */
  describe: (row: number, column: number, value: number) => string;
  /** The accessible name of the whole map. */
  label: string;
  /** Room for the labels, in pixels (0 for none). */
  labelSpace?: number;
}

/** White to deep blue for 0..max (attention weights). */
export function sequential(max: number): (value: number) => string {
  return (value) => {
    const t = Math.max(0, Math.min(1, value / (max || 1)));
    return `rgb(${Math.round(255 - 225 * t)}, ${Math.round(255 - 170 * t)}, ${Math.round(255 - 75 * t)})`;
  };
}

/** Blue below zero, white at zero, red above, saturating at ±range (positional encodings). */
export function diverging(range: number): (value: number) => string {
  return (value) => {
    const t = Math.max(-1, Math.min(1, value / (range || 1)));
    const fade = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0
      ? `rgb(${200 + Math.round(55 * (1 - t))}, ${fade}, ${fade})`
      : `rgb(${fade}, ${fade}, ${200 + Math.round(55 * (1 + t))})`;
  };
}

/** Token labels as the tokenizer spells them, with the word-start markers of BPE and SentencePiece made visible. */
export function tokenLabel(token: string): string {
  return token.replace(/^[Ġ▁]/, '·');
}

export function heatmap(options: HeatmapOptions): HTMLElement {
  const { values, cell } = options;
  const rows = values.length;
  const columns = values[0]?.length ?? 0;
  const space = options.labelSpace ?? 0;
  const width = space + columns * cell;
  const height = space + rows * cell;
  const canvas = h('canvas', {
    tabindex: 0,
    role: 'img',
    'aria-label': `${options.label}. Use the arrow keys to read cells.`,
  });
  const tip = h('div', { class: 'tip', hidden: true, 'aria-live': 'polite' });
  const scale = window.devicePixelRatio || 1;
  canvas.width = width * scale;
  canvas.height = height * scale;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const context = canvas.getContext('2d')!;
  context.scale(scale, scale);
  let cursor: [number, number] | undefined;

  const draw = (): void => {
    context.clearRect(0, 0, width, height);
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        context.fillStyle = options.colour(values[r]![c]!);
        context.fillRect(space + c * cell, space + r * cell, cell, cell);
      }
    }
    if (space > 0) {
      context.fillStyle = '#333';
      context.font = `${Math.min(12, cell)}px system-ui, sans-serif`;
      context.textBaseline = 'middle';
      context.textAlign = 'right';
      options.rowLabels?.forEach((label, r) => context.fillText(label, space - 4, space + (r + 0.5) * cell, space - 6));
      options.columnLabels?.forEach((label, c) => {
        context.save();
        context.translate(space + (c + 0.5) * cell, space - 4);
        context.rotate(-Math.PI / 2);
        context.textAlign = 'left';
        context.fillText(label, 0, 0, space - 6);
        context.restore();
      });
    }
    if (cursor) {
      context.strokeStyle = '#d0021b';
      context.lineWidth = 2;
      context.strokeRect(space + cursor[1] * cell + 1, space + cursor[0] * cell + 1, cell - 2, cell - 2);
    }
  };

  const point = (r: number, c: number, x: number, y: number): void => {
    tip.hidden = false;
    tip.textContent = options.describe(r, c, values[r]![c]!);
    tip.style.left = `${x + 12}px`;
    tip.style.top = `${y + 12}px`;
  };

  canvas.addEventListener('mousemove', (event) => {
    const c = Math.floor((event.offsetX - space) / cell);
    const r = Math.floor((event.offsetY - space) / cell);
    if (r < 0 || c < 0 || r >= rows || c >= columns) {
      tip.hidden = true;
      return;
    }
    point(r, c, event.offsetX, event.offsetY);
  });
  canvas.addEventListener('mouseleave', () => (tip.hidden = true));
  canvas.addEventListener('keydown', (event) => {
    const moves: Record<string, [number, number]> = {
      ArrowUp: [-1, 0],
      ArrowDown: [1, 0],
      ArrowLeft: [0, -1],
      ArrowRight: [0, 1],
    };
    const move = moves[event.key];
    if (move === undefined || rows === 0) return;
    event.preventDefault();
    const within = (i: number, n: number) => Math.max(0, Math.min(n - 1, i));
    // The first key press shows the top-left cell; later ones move from the cursor.
    cursor = cursor === undefined ? [0, 0] : [within(cursor[0] + move[0], rows), within(cursor[1] + move[1], columns)];
    draw();
    point(cursor[0], cursor[1], space + (cursor[1] + 1) * cell, space + (cursor[0] + 1) * cell);
  });
  canvas.addEventListener('blur', () => {
    cursor = undefined;
    tip.hidden = true;
    draw();
  });
  draw();
  return h('div', { class: 'heatmap' }, canvas, tip);
}
