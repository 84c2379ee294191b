// DOM helpers: elements from a tag, properties and children; labelled form fields; status messages.
// Plain DOM keeps the bundle a few kilobytes: the pages are forms, lists, a canvas and an SVG chart.

export type Child = Node | string | number | null | undefined | false;
type Props = Record<string, string | number | boolean | EventListener | undefined>;

/** Props set as DOM properties (they differ from, or have no, attributes); every other prop is an attribute. */
const PROPERTIES = new Set([
  'value',
  'checked',
  'selected',
  'disabled',
  'htmlFor',
  'hidden',
  'multiple',
  'readOnly',
  'textContent',
]);

/** `h('button', { type: 'submit', onclick: go }, 'Run')`: on* functions become listeners, PROPERTIES are set, the rest are attributes. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === false) continue;
    if (typeof value === 'function') element.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) (element as unknown as Record<string, unknown>)[key] = value;
    else element.setAttribute(key, value === true ? '' : String(value));
  }
  append(element, ...children);
  return element;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

let nextId = 0;
export function uniqueId(prefix: string): string {
  return `${prefix}-${++nextId}`;
}

/** A label tied to its control (and to a hint, read by screen readers after the label). */
export function field(
  label: string,
  control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement,
  hint?: string,
): HTMLElement {
  control.id ||= uniqueId('field');
  const hintElement = hint === undefined ? null : h('small', { id: `${control.id}-hint`, class: 'hint' }, hint);
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { htmlFor: control.id }, label), control, hintElement);
}

export function options(
  select: HTMLSelectElement,
  entries: Array<[value: string, label: string]>,
  selected?: string,
): void {
  select.replaceChildren(
    ...entries.map(([value, label]) => h('option', { value, selected: value === selected }, label)),
  );
}

/** A message area: errors are alerts (read out at once), the rest polite status updates. */
export class Notice {
  readonly element = h('div', { class: 'notice', role: 'status', 'aria-live': 'polite' });

  show(kind: 'info' | 'error' | 'success', text: string): void {
    this.element.className = `notice ${kind}`;
    this.element.setAttribute('role', kind === 'error' ? 'alert' : 'status');
    this.element.textContent = text;
  }

  clear(): void {
    this.element.className = 'notice';
    this.element.textContent = '';
  }
}

/** A page: its element, and what to stop (event streams) when another page is shown. */
export interface Page {
  element: HTMLElement;
  dispose?(): void;
}

export function pageHeading(title: string, intro: string): HTMLElement[] {
  return [h('h1', { tabindex: -1 }, title), h('p', { class: 'intro' }, intro)];
}
