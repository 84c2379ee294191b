// Attention: a sentence through a model with its attention weights returned, drawn as token × token maps for one
// head, or for every head of a layer as small multiples; and the model's positional encodings as a table.
import { getJson, modelList, postJson, query } from '../api.js';
import { field, h, Notice, options, pageHeading, type Page } from '../dom.js';
import { diverging, heatmap, sequential, tokenLabel } from '../heatmap.js';

interface AttentionMaps {
  model: string;
  modelType: string;
  tokens: string[];
  layers: number;
  heads: number;
  weights: number[][][][]; // (layers, heads, T, T)
  note?: string;
}

interface PositionTable {
  kind: string;
  description: string;
  values: number[][]; // (positions, dimensions / columnStride)
  totalDimensions: number;
  columnStride: number;
}

const ALL_HEADS = 'all';
const POSITIONS_SHOWN = 48;

function positionsView(table: PositionTable): HTMLElement {
  if (table.values.length === 0) return h('p', {}, table.description);
  const dims = table.values[0]!.length;
  const range = Math.max(...table.values.flat().map(Math.abs));
  const stride = table.columnStride;
  const shown = stride > 1 ? ` (one dimension in ${stride} of ${table.totalDimensions})` : '';
  return h(
    'figure',
    {},
    heatmap({
      values: table.values,
      cell: Math.max(3, Math.min(8, Math.floor(640 / dims))),
      colour: diverging(range),
      describe: (p, c, v) => `position ${p}, dimension ${c * stride}: ${v.toFixed(4)}`,
      label: `Positional encoding, ${table.kind}: ${table.values.length} positions by ${dims} dimensions`,
    }),
    h(
      'figcaption',
      {},
      `${table.kind[0]!.toUpperCase()}${table.kind.slice(1)}${shown}: ${table.description}. Rows are positions 0–${table.values.length - 1} (top to bottom), columns dimensions; blue is negative, red positive.`,
    ),
  );
}

export function attentionPage(params: URLSearchParams): Page {
  const model = h('input', {
    name: 'model',
    list: 'attention-models',
    autocomplete: 'off',
    spellcheck: 'false',
    value: params.get('model') ?? '',
  });
  const modelChoices = h('datalist', { id: 'attention-models' });
  const sentence = h('input', {
    name: 'sentence',
    value: params.get('text') ?? 'The cat sat on the mat because it was tired.',
  });
  const show = h('button', { type: 'submit' }, 'Show attention');
  const layer = h('select', { name: 'layer' });
  const head = h('select', { name: 'head' });
  const choices = h('div', { class: 'row', hidden: true }, field('Layer', layer), field('Head', head));
  const notice = new Notice();
  const maps = h('section', { class: 'maps', 'aria-label': 'Attention maps' });
  const positions = h('section', { class: 'positions', 'aria-labelledby': 'positions-heading' });
  let data: AttentionMaps | undefined;

  modelList().then(
    (list) => {
      const all = [...list.installed, ...list.cached].filter((m) => m.problem === undefined);
      modelChoices.replaceChildren(
        ...all.map((m) => h('option', { value: m.name }, `${m.modelType ?? ''} (${m.source})`)),
      );
      if (model.value === '' && all.length > 0) model.value = all[0]!.name;
    },
    (err: Error) => notice.show('error', err.message),
  );

  const draw = (): void => {
    if (!data) return;
    const l = Number(layer.value);
    const tokens = data.tokens.map(tokenLabel);
    const t = tokens.length;
    const describe = (q: number, k: number, w: number) =>
      `query ${q} “${tokens[q]}” → key ${k} “${tokens[k]}”: ${w.toFixed(4)}`;
    if (head.value !== ALL_HEADS) {
      const hd = Number(head.value);
      const values = data.weights[l]![hd]!;
      maps.replaceChildren(
        h(
          'figure',
          {},
          heatmap({
            values,
            rowLabels: tokens,
            columnLabels: tokens,
            cell: Math.max(12, Math.min(36, Math.floor(480 / t))),
            labelSpace: 90,
            colour: sequential(1),
            describe,
            label: `Layer ${l + 1}, head ${hd + 1}: attention of each query token (rows) to each key token (columns)`,
          }),
          h(
            'figcaption',
            {},
            `Layer ${l + 1}, head ${hd + 1}. Rows: the token attending (query); columns: the token attended to (key). Each row sums to 1; darker is more.`,
          ),
        ),
      );
      return;
    }
    const grid = h('div', { class: 'multiples' });
    data.weights[l]!.forEach((values, hd) => {
      const open = h(
        'button',
        { type: 'button', class: 'link', onclick: () => ((head.value = String(hd)), draw()) },
        `Head ${hd + 1}`,
      );
      grid.append(
        h(
          'figure',
          {},
          heatmap({
            values,
            cell: Math.max(3, Math.min(10, Math.floor(160 / t))),
            colour: sequential(1),
            describe,
            label: `Layer ${l + 1}, head ${hd + 1}`,
          }),
          h('figcaption', {}, open),
        ),
      );
    });
    maps.replaceChildren(grid);
  };
  layer.addEventListener('change', draw);
  head.addEventListener('change', draw);

  const loadPositions = async (name: string): Promise<void> => {
    const heading = h('h2', { id: 'positions-heading' }, 'Positional encodings');
    positions.replaceChildren(heading, h('p', {}, 'Loading…'));
    try {
      const table = await getJson<PositionTable>(`/api/positions?${query({ model: name, count: POSITIONS_SHOWN })}`);
      positions.replaceChildren(heading, positionsView(table));
    } catch (err) {
      positions.replaceChildren(heading, h('p', { role: 'alert', class: 'notice error' }, (err as Error).message));
    }
  };

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    show.disabled = true;
    notice.show('info', 'Running the model… (the first run loads it)');
    try {
      data = await postJson<AttentionMaps>('/api/attention', { model: model.value.trim(), text: sentence.value });
      options(
        layer,
        Array.from({ length: data.layers }, (_, i) => [String(i), `Layer ${i + 1}`]),
        String(Math.min(Number(layer.value) || 0, data.layers - 1)),
      );
      options(
        head,
        [
          [ALL_HEADS, `All ${data.heads} heads`],
          ...Array.from({ length: data.heads }, (_, i): [string, string] => [String(i), `Head ${i + 1}`]),
        ],
        head.value || ALL_HEADS,
      );
      choices.hidden = false;
      draw();
      notice.show(
        'success',
        `${data.tokens.length} tokens, ${data.layers} layers × ${data.heads} heads (${data.modelType}).${data.note ? ` Note: ${data.note}.` : ''}`,
      );
      void loadPositions(data.model);
    } catch (err) {
      notice.show('error', (err as Error).message);
    } finally {
      show.disabled = false;
    }
  };

  const form = h(
    'form',
    { class: 'panel', onsubmit: (event: Event) => void submit(event) },
    field(
      'Model',
      model,
      'An installed name, a folder, or a hub repo id: encoders (BERT, USE) and decoders (GPT-2, Llama).',
    ),
    modelChoices,
    field('Sentence', sentence),
    h('div', { class: 'actions' }, show),
  );
  return {
    element: h(
      'div',
      { class: 'page' },
      ...pageHeading(
        'Attention',
        'See which tokens each head attends to, layer by layer, and how the model encodes positions.',
      ),
      form,
      notice.element,
      choices,
      maps,
      positions,
    ),
  };
}
