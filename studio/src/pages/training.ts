// Training: one or several Trainer output folders followed live. The server watches each folder's
// trainer_state.json and sends its log history at every change; every logged quantity gets a chart with the runs
// overlaid.
import { getJson, query } from '../api.js';
import { lineChart, type Series } from '../chart.js';
import { field, h, Notice, pageHeading, type Page } from '../dom.js';

type LogEntry = Record<string, number>;

interface RunSnapshot {
  dir: string;
  globalStep: number;
  maxSteps: number;
  epoch: number;
  logHistory: LogEntry[];
}

interface Run {
  dir: string;
  colour: string;
  source: EventSource;
  snapshot?: RunSnapshot;
  status: string;
}

const COLOURS = ['#1f6fd1', '#d1495b', '#2a9d5c', '#8e44ad', '#e07b00', '#00838f'];

/** Bookkeeping fields and end-of-run summaries: not curves. */
const NOT_PLOTTED = /^(step|epoch|total_flos)$|_(runtime|per_second)$|^train_(loss|runtime)$/;

/** Loss first, then learning rate, then the eval metrics in name order. */
function metricOrder(a: string, b: string): number {
  const rank = (key: string) => (key === 'loss' ? 0 : key === 'learning_rate' ? 1 : key === 'eval_loss' ? 2 : 3);
  return rank(a) - rank(b) || a.localeCompare(b);
}

function runName(dir: string): string {
  return dir.split(/[\\/]/).filter(Boolean).slice(-2).join('/');
}

export function trainingPage(): Page {
  const folder = h('input', { name: 'run', spellcheck: 'false', placeholder: '/path/to/outputDir' });
  const notice = new Notice();
  const list = h('ul', { class: 'runs', 'aria-label': 'Runs followed' });
  const charts = h('section', { class: 'charts', 'aria-label': 'Training curves', 'aria-live': 'polite' });
  const runs: Run[] = [];

  const drawCharts = (): void => {
    const keys = new Set<string>();
    for (const run of runs)
      for (const entry of run.snapshot?.logHistory ?? [])
        for (const key of Object.keys(entry)) if (!NOT_PLOTTED.test(key)) keys.add(key);
    if (keys.size === 0) {
      charts.replaceChildren(
        h('p', { class: 'empty' }, runs.length === 0 ? 'Add a run folder to see its curves.' : 'No values logged yet.'),
      );
      return;
    }
    charts.replaceChildren(
      ...[...keys].sort(metricOrder).map((key) => {
        const series: Series[] = runs.map((run) => ({
          name: runName(run.dir),
          colour: run.colour,
          points: (run.snapshot?.logHistory ?? [])
            .filter((e) => typeof e[key] === 'number' && Number.isFinite(e[key]))
            .map((e): [number, number] => [e['step'] ?? 0, e[key]!]),
        }));
        const legend = h(
          'ul',
          { class: 'legend' },
          ...series
            .filter((s) => s.points.length > 0)
            .map((s) => h('li', {}, h('span', { class: 'swatch', style: `background:${s.colour}` }), s.name)),
        );
        return h(
          'figure',
          { class: 'chart-card', 'data-metric': key },
          h('figcaption', {}, key),
          lineChart(key, series),
          legend,
        );
      }),
    );
  };

  const drawList = (): void => {
    list.replaceChildren(
      ...runs.map((run) =>
        h(
          'li',
          {},
          h('span', { class: 'swatch', style: `background:${run.colour}` }),
          h('span', { class: 'run-name', title: run.dir }, runName(run.dir)),
          h('span', { class: 'run-status' }, run.status),
          h(
            'button',
            { type: 'button', class: 'link', 'aria-label': `Stop following ${run.dir}`, onclick: () => remove(run) },
            'Remove',
          ),
        ),
      ),
    );
  };

  const remove = (run: Run): void => {
    run.source.close();
    runs.splice(runs.indexOf(run), 1);
    drawList();
    drawCharts();
  };

  const follow = (dir: string): void => {
    if (runs.some((run) => run.dir === dir)) {
      notice.show('info', `${dir} is already shown.`);
      return;
    }
    const used = new Set(runs.map((r) => r.colour));
    const run: Run = {
      dir,
      colour: COLOURS.find((c) => !used.has(c)) ?? COLOURS[runs.length % COLOURS.length]!,
      source: new EventSource(`/api/training/watch?${query({ dir })}`),
      status: 'connecting…',
    };
    run.source.addEventListener('state', (event) => {
      run.snapshot = JSON.parse((event as MessageEvent).data) as RunSnapshot;
      const { globalStep, maxSteps, epoch } = run.snapshot;
      run.status = `step ${globalStep}${maxSteps ? ` of ${maxSteps}` : ''}, epoch ${epoch.toFixed(2)}`;
      drawList();
      drawCharts();
    });
    run.source.addEventListener('waiting', (event) => {
      run.status = (JSON.parse((event as MessageEvent).data) as { message: string }).message;
      drawList();
    });
    run.source.onerror = () => {
      run.status = 'connection to the studio server lost; retrying…';
      drawList();
    };
    runs.push(run);
    drawList();
    drawCharts();
  };

  const form = h(
    'form',
    {
      class: 'panel row',
      onsubmit: (event: Event) => {
        event.preventDefault();
        const dir = folder.value.trim();
        if (dir === '') {
          notice.show('error', 'Type the output folder of a Trainer run (the folder holding trainer_state.json).');
          return;
        }
        notice.clear();
        follow(dir);
        folder.value = '';
      },
    },
    field('Run folder', folder, 'A Trainer outputDir; the curves update as the run logs. Add several to compare them.'),
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Add run')),
  );

  getJson<{ runs: string[] }>('/api/training/runs').then(
    ({ runs: given }) => given.forEach(follow),
    (err: Error) => notice.show('error', err.message),
  );
  drawCharts();
  return {
    element: h(
      'div',
      { class: 'page' },
      ...pageHeading(
        'Training',
        'Follow Trainer runs live: loss, learning rate and evaluation metrics, several runs overlaid.',
      ),
      form,
      notice.element,
      list,
      charts,
    ),
    dispose: () => runs.forEach((run) => run.source.close()),
  };
}
