// attn studio: a hash router over four pages. Each navigation moves focus to the new page's heading, so keyboard
// and screen-reader users land where the content changed.
import './style.css';
import type { Page } from './dom.js';
import { attentionPage } from './pages/attention.js';
import { hubPage } from './pages/hub.js';
import { playgroundPage } from './pages/playground.js';
import { trainingPage } from './pages/training.js';

const PAGES: Record<string, { title: string; create: (params: URLSearchParams) => Page }> = {
  playground: { title: 'Playground', create: playgroundPage },
  attention: { title: 'Attention', create: attentionPage },
  training: { title: 'Training', create: trainingPage },
  hub: { title: 'Hub', create: hubPage },
};

const view = document.getElementById('view')!;
let current: Page | undefined;

function show(): void {
  // '#/playground?model=alice/tiny': the page name, then parameters a page may start from.
  const [name = '', search = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const key = name in PAGES ? name : 'playground';
  current?.dispose?.();
  current = PAGES[key]!.create(new URLSearchParams(search));
  view.replaceChildren(current.element);
  document.title = `${PAGES[key]!.title} · attn studio`;
  for (const link of document.querySelectorAll<HTMLAnchorElement>('nav a')) {
    if (link.getAttribute('href') === `#/${key}`) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  view.querySelector<HTMLElement>('h1')?.focus();
}

window.addEventListener('hashchange', show);
show();
