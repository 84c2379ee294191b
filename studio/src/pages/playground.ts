// Playground: a task, a model (a name from the list, a folder, or a hub repo id), some text, and the answer.
// Text generation streams: the server sends each decoded piece as it comes.
import { modelList, postJson, query, type ModelList } from '../api.js';
import { field, h, Notice, options, pageHeading, type Page } from '../dom.js';

const TASK_LABELS: Record<string, string> = {
  'text-classification': 'Text classification (sentiment)',
  'zero-shot-classification': 'Zero-shot classification',
  summarization: 'Summarization',
  translation: 'Translation',
  'text-generation': 'Text generation',
  'feature-extraction': 'Feature extraction (sentence vector)',
  'fill-mask': 'Fill mask',
};

const EXAMPLES: Record<string, string> = {
  'text-classification': 'I loved this movie, the actors were wonderful.',
  'zero-shot-classification': 'The team won the game in the last minute.',
  summarization:
    'The cat sat on the mat. It was a sunny day. The dog slept in the garden. Later the cat chased a bird.',
  translation: 'Ein Mann fährt Fahrrad.',
  'text-generation': 'Once upon a time',
  'feature-extraction': 'A sentence to embed.',
  'fill-mask': 'The capital of France is [MASK].',
};

interface Scored {
  label?: string;
  token_str?: string;
  score: number;
}

function scoreList(items: Scored[]): HTMLElement {
  return h(
    'ul',
    { class: 'scores' },
    ...items.map((item) => {
      const name = item.label ?? item.token_str ?? '?';
      const percent = `${(item.score * 100).toFixed(1)}%`;
      return h(
        'li',
        {},
        h('span', { class: 'score-label' }, name),
        h('meter', { min: 0, max: 1, value: item.score, 'aria-label': `${name} score` }),
        h('span', { class: 'score-value' }, percent),
      );
    }),
  );
}

/** The input with the spans an extractive summary kept marked, so the reader sees where each sentence came from. */
function keptInInput(input: string, units: Array<{ start: number; end: number }>): HTMLElement {
  const pieces: Array<string | HTMLElement> = [];
  let at = 0;
  for (const { start, end } of units) {
    pieces.push(input.slice(at, start), h('mark', {}, input.slice(start, end)));
    at = end;
  }
  return h('p', { class: 'generated' }, ...pieces, input.slice(at));
}

/** The answer in the form that reads best: score bars, the produced text, a vector's size, else JSON. */
function renderResult(task: string, result: unknown, input: string): HTMLElement {
  const first = Array.isArray(result) ? result[0] : result;
  if (task === 'zero-shot-classification') {
    const { labels, scores } = first as { labels: string[]; scores: number[] };
    return scoreList(labels.map((label, i) => ({ label, score: scores[i]! })));
  }
  if (task === 'text-classification' || task === 'fill-mask')
    return scoreList((Array.isArray(result) ? result : [result]) as Scored[]);
  if (task === 'feature-extraction') {
    const vector = (Array.isArray(first) ? first : result) as number[];
    const shown = vector
      .slice(0, 8)
      .map((x) => x.toFixed(4))
      .join(', ');
    return h('p', {}, `A vector of ${vector.length} numbers: [${shown}${vector.length > 8 ? ', …' : ''}]`);
  }
  const text =
    (first as Record<string, unknown> | undefined)?.['translation_text'] ??
    (first as Record<string, unknown> | undefined)?.['summary_text'];
  if (task === 'summarization' && typeof text === 'string') {
    // Extractive summaries (the default) quote the input; a BART/T5 model writes its own: say which this is.
    const { method, units } = first as { method?: string; units?: Array<{ start: number; end: number }> };
    if (method !== 'extractive' || units === undefined)
      return h(
        'div',
        {},
        h('p', { class: 'generated' }, text),
        h('small', { class: 'hint' }, 'Abstractive: written by the model.'),
      );
    const how = `Extractive: ${units.length} sentences of the text, in their order, marked below.`;
    return h(
      'div',
      {},
      h('p', { class: 'generated' }, text),
      h('small', { class: 'hint' }, how),
      keptInInput(input, units),
    );
  }
  if (typeof text === 'string') return h('p', { class: 'generated' }, text);
  return h('pre', {}, JSON.stringify(result, null, 2));
}

export function playgroundPage(params: URLSearchParams): Page {
  const task = h('select', { name: 'task' });
  options(task, Object.entries(TASK_LABELS), params.get('task') ?? 'text-classification');
  const model = h('input', {
    name: 'model',
    list: 'playground-models',
    autocomplete: 'off',
    spellcheck: 'false',
    value: params.get('model') ?? '',
  });
  const modelChoices = h('datalist', { id: 'playground-models' });
  const labels = h('input', { name: 'labels', value: 'sports, politics, science' });
  const labelsField = field('Candidate labels (comma-separated)', labels);
  const text = h('textarea', { name: 'text', rows: 4 });
  const run = h('button', { type: 'submit' }, 'Run');
  const notice = new Notice();
  const output = h('section', { class: 'result', 'aria-label': 'Result', 'aria-live': 'polite' });
  let stream: EventSource | undefined;
  let models: ModelList | undefined;

  const fitTask = (): void => {
    labelsField.hidden = task.value !== 'zero-shot-classification';
    text.placeholder = EXAMPLES[task.value] ?? '';
    if (models === undefined) return;
    const fitting = [...models.installed, ...models.cached].filter((m) => m.tasks.includes(task.value));
    modelChoices.replaceChildren(
      ...fitting.map((m) => h('option', { value: m.name }, `${m.modelType ?? ''} (${m.source})`)),
    );
    const defaults = Object.values(models.defaults[task.value] ?? {});
    model.placeholder =
      defaults.length > 0 ? `default: ${defaults[0]}` : 'a model folder, installed name or hub repo id';
  };
  task.addEventListener('change', fitTask);
  modelList().then(
    (list) => {
      models = list;
      fitTask();
    },
    (err: Error) => notice.show('error', err.message),
  );

  const generate = (prompt: string): void => {
    const generated = h('p', { class: 'generated' }, h('span', { class: 'prompt' }, prompt));
    output.replaceChildren(generated);
    notice.show('info', 'Generating…');
    stream = new EventSource(`/api/generate?${query({ model: model.value.trim(), text: prompt, maxNewTokens: 40 })}`);
    const finish = (): void => {
      stream?.close();
      run.disabled = false;
    };
    stream.addEventListener('text', (event) =>
      generated.append((JSON.parse((event as MessageEvent).data) as { text: string }).text),
    );
    stream.addEventListener('done', (event) => {
      // The final text is authoritative: it has the space joining the continuation to the prompt, which the
      // streamed pieces may lack.
      const { generated_text: full } = JSON.parse((event as MessageEvent).data) as { generated_text: string };
      generated.replaceChildren(
        h('span', { class: 'prompt' }, prompt),
        full.startsWith(prompt) ? full.slice(prompt.length) : full,
      );
      notice.show('success', 'Done.');
      finish();
    });
    stream.addEventListener('failure', (event) => {
      notice.show('error', (JSON.parse((event as MessageEvent).data) as { error: string }).error);
      finish();
    });
    stream.onerror = () => {
      if (stream?.readyState === EventSource.CLOSED) return;
      notice.show('error', 'the connection to the studio server was lost while generating');
      finish();
    };
  };

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    const input = text.value.trim() || text.placeholder;
    text.value = input;
    run.disabled = true;
    output.replaceChildren();
    if (task.value === 'text-generation') {
      generate(input);
      return;
    }
    notice.show('info', 'Running… (the first run of a model loads it)');
    try {
      const taskOptions =
        task.value === 'zero-shot-classification'
          ? {
              candidateLabels: labels.value
                .split(',')
                .map((l) => l.trim())
                .filter(Boolean),
            }
          : {};
      const { result } = await postJson<{ result: unknown }>('/api/run', {
        task: task.value,
        model: model.value.trim() || undefined,
        text: input,
        options: taskOptions,
      });
      output.replaceChildren(renderResult(task.value, result, input));
      notice.show('success', 'Done.');
    } catch (err) {
      notice.show('error', (err as Error).message);
    } finally {
      run.disabled = false;
    }
  };

  // Ctrl+Enter runs from the text box, as in most playgrounds.
  text.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) form.requestSubmit();
  });
  const form = h(
    'form',
    { class: 'panel', onsubmit: (event: Event) => void submit(event) },
    field('Task', task),
    field(
      'Model',
      model,
      'Empty for the task’s default; or an installed name, a folder, or a hub repo id like alice/my-model.',
    ),
    modelChoices,
    labelsField,
    field('Text', text, 'Ctrl+Enter runs.'),
    h('div', { class: 'actions' }, run),
  );
  fitTask();
  return {
    element: h(
      'div',
      { class: 'page' },
      ...pageHeading('Playground', 'Try a pipeline: pick a task and a model, type some text, and run it.'),
      form,
      notice.element,
      output,
    ),
    dispose: () => stream?.close(),
  };
}
