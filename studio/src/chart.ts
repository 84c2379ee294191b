// A line chart in SVG: several series over a shared step axis, with the axes' ranges, a legend and a text summary
// (the last value of each series) for screen readers.

export interface Series {
  name: string;
  colour: string;
  points: Array<[x: number, y: number]>;
}

const SVG = 'http://www.w3.org/2000/svg';
const WIDTH = 420;
const HEIGHT = 220;
const MARGIN = { left: 58, right: 12, top: 12, bottom: 30 };

function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number>,
  text?: string,
): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  if (text !== undefined) element.textContent = text;
  return element;
}

/** Short numbers for tick labels: 0.00123 → 1.23e-3, 1234.5 → 1235. */
export function formatNumber(x: number): string {
  if (x === 0) return '0';
  const magnitude = Math.abs(x);
  if (magnitude < 1e-2 || magnitude >= 1e5) return x.toExponential(2);
  return Number(x.toPrecision(4)).toString();
}

export function lineChart(title: string, series: Series[]): SVGSVGElement {
  const points = series.flatMap((s) => s.points);
  const xs = points.map(([x]) => x);
  const ys = points.map(([, y]) => y);
  const [xMin, xMax] = [Math.min(...xs), Math.max(...xs)];
  let [yMin, yMax] = [Math.min(...ys), Math.max(...ys)];
  if (yMin === yMax) [yMin, yMax] = [yMin - 1, yMax + 1];
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const plotH = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number) => MARGIN.left + (xMax === xMin ? plotW / 2 : ((x - xMin) / (xMax - xMin)) * plotW);
  const sy = (y: number) => MARGIN.top + (1 - (y - yMin) / (yMax - yMin)) * plotH;

  const summary = series
    .map((s) => `${s.name}: ${s.points.length ? formatNumber(s.points.at(-1)![1]) : 'no values'}`)
    .join('; ');
  const chart = svg('svg', {
    viewBox: `0 0 ${WIDTH} ${HEIGHT}`,
    role: 'img',
    'aria-label': `${title} by step. Latest: ${summary}`,
    class: 'chart',
  });
  chart.append(svg('rect', { x: MARGIN.left, y: MARGIN.top, width: plotW, height: plotH, class: 'plot' }));
  for (const y of [yMin, (yMin + yMax) / 2, yMax]) {
    chart.append(svg('line', { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: sy(y), y2: sy(y), class: 'grid' }));
    chart.append(
      svg('text', { x: MARGIN.left - 6, y: sy(y) + 4, 'text-anchor': 'end', class: 'tick' }, formatNumber(y)),
    );
  }
  // The first step's label starts at the axis and the last one's ends at it, so neither runs off the chart.
  const xTicks: Array<[number, string]> =
    xMin === xMax
      ? [[xMin, 'middle']]
      : [
          [xMin, 'start'],
          [xMax, 'end'],
        ];
  for (const [x, anchor] of xTicks)
    chart.append(svg('text', { x: sx(x), y: HEIGHT - 10, 'text-anchor': anchor, class: 'tick' }, `step ${x}`));
  for (const s of series) {
    if (s.points.length === 0) continue;
    const path = s.points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join('');
    chart.append(svg('path', { d: path, stroke: s.colour, class: 'series' }));
    // A dot per point once there are few: a single eval point is otherwise invisible.
    if (s.points.length <= 30)
      for (const [x, y] of s.points) chart.append(svg('circle', { cx: sx(x), cy: sy(y), r: 2.5, fill: s.colour }));
  }
  return chart;
}
