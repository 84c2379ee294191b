// Hub: the web flow of a model hub against `attn hub serve` or any Hugging Face compatible endpoint. Create a repo
// (name and license), drop files (each sent to the studio server with a progress bar), commit them with a message,
// browse files and revisions, and copy the name to use in pipeline().
import { getJson, modelList, postJson, query } from '../api.js';
import { field, h, Notice, options, pageHeading, type Page } from '../dom.js';

interface HubStatus {
  endpoint: string;
  reachable: boolean;
  tokenFromEnvironment: boolean;
  licenses: string[];
  problem?: string;
}

interface RepoView {
  info: { id: string; sha: string; private: boolean; cardData?: Record<string, unknown> };
  files: Array<{ path: string; size: number; lfs?: { oid: string; size: number } }>;
  refs: {
    branches: Array<{ name: string; targetCommit: string }>;
    tags: Array<{ name: string; targetCommit: string }>;
  };
}

interface Upload {
  name: string;
  progress: HTMLProgressElement;
  done: Promise<void>;
}

function bytes(n: number): string {
  return n < 1024 ? `${n} B` : n < 1 << 20 ? `${(n / 1024).toFixed(1)} KB` : `${(n / (1 << 20)).toFixed(1)} MB`;
}

/** PUTs one file to the staging area with XMLHttpRequest, the browser API that reports upload progress. */
function sendFile(session: string, file: File, progress: HTMLProgressElement): Promise<void> {
  return new Promise((resolve, reject) => {
    const request = new XMLHttpRequest();
    request.open('PUT', `/api/hub/upload?${query({ session, path: file.name })}`);
    request.upload.onprogress = (event) => {
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    };
    request.onload = () => {
      if (request.status >= 200 && request.status < 300) {
        progress.value = 1;
        resolve();
      } else {
        const message = (() => {
          try {
            return (JSON.parse(request.responseText) as { error: string }).error;
          } catch {
            return `status ${request.status}`;
          }
        })();
        reject(new Error(`uploading ${file.name}: ${message}`));
      }
    };
    request.onerror = () => reject(new Error(`uploading ${file.name}: the studio server does not answer`));
    request.send(file);
  });
}

export function hubPage(): Page {
  const notice = new Notice();
  const connection = h('p', { class: 'connection' }, 'Checking the hub…');
  const token = h('input', { type: 'password', name: 'token', autocomplete: 'off' });
  const tokenHeaders = (): Record<string, string> => (token.value.trim() ? { 'X-Hub-Token': token.value.trim() } : {});

  // ---- create ----
  const name = h('input', { name: 'name', spellcheck: 'false', placeholder: 'alice/my-model' });
  const license = h('select', { name: 'license' });
  const isPrivate = h('input', { type: 'checkbox', name: 'private' });
  const create = h('button', { type: 'submit' }, 'Create repository');

  // ---- the repo being worked on ----
  const repo = h('input', { name: 'repo', spellcheck: 'false', placeholder: 'namespace/name' });
  const revision = h('select', { name: 'revision' });
  const browser = h('section', { class: 'files', 'aria-label': 'Repository files' });
  const copyName = h('button', { type: 'button' }, 'Copy name');
  const snippet = h('code', { class: 'snippet' });
  const tryIt = h('a', { class: 'button-link', href: '#/playground' }, 'Try it in the Playground');
  const usage = h(
    'div',
    { class: 'usage', hidden: true },
    h('p', {}, 'Use it: ', snippet),
    h('div', { class: 'actions' }, copyName, tryIt),
  );

  // ---- upload ----
  const picker = h('input', { type: 'file', multiple: true, class: 'visually-hidden', tabindex: -1 });
  const dropZone = h(
    'div',
    { class: 'drop', role: 'button', tabindex: 0, 'aria-describedby': 'drop-hint' },
    'Drop model files here, or press Enter to choose them',
  );
  const uploads = h('ul', { class: 'uploads', 'aria-label': 'Files to commit' });
  const message = h('input', { name: 'message', value: 'Upload model' });
  const commitButton = h('button', { type: 'submit' }, 'Commit');
  let session = crypto.randomUUID();
  let pending: Upload[] = [];

  const repoId = (): string => repo.value.trim();

  const browse = async (rev?: string): Promise<void> => {
    const id = repoId();
    if (id === '') return;
    try {
      const view = await getJson<RepoView>(`/api/hub/repo?${query({ repo: id, revision: rev })}`, tokenHeaders());
      const refs = [...view.refs.branches.map((b) => b.name), ...view.refs.tags.map((t) => t.name)];
      options(
        revision,
        refs.map((r): [string, string] => [r, r]),
        rev ?? 'main',
      );
      const licenseName = view.info.cardData?.['license'];
      browser.replaceChildren(
        h(
          'h3',
          {},
          `${view.info.id} at ${revision.value} (commit ${view.info.sha.slice(0, 10)})${typeof licenseName === 'string' ? ` · license ${licenseName}` : ''}`,
        ),
        view.files.length === 0
          ? h('p', {}, 'No files yet.')
          : h(
              'table',
              {},
              h('caption', { class: 'visually-hidden' }, `Files of ${view.info.id}`),
              h(
                'thead',
                {},
                h(
                  'tr',
                  {},
                  h('th', { scope: 'col' }, 'File'),
                  h('th', { scope: 'col' }, 'Size'),
                  h('th', { scope: 'col' }, 'Stored'),
                ),
              ),
              h(
                'tbody',
                {},
                ...view.files.map((f) =>
                  h('tr', {}, h('td', {}, f.path), h('td', {}, bytes(f.size)), h('td', {}, f.lfs ? 'LFS' : 'git')),
                ),
              ),
            ),
      );
      const task = view.info.cardData?.['pipeline_tag'];
      snippet.textContent = `await pipeline(${typeof task === 'string' ? `'${task}'` : 'task'}, '${view.info.id}')`;
      tryIt.href = `#/playground?${query({ model: view.info.id })}`;
      usage.hidden = false;
    } catch (err) {
      browser.replaceChildren();
      usage.hidden = true;
      notice.show('error', (err as Error).message);
    }
  };
  revision.addEventListener('change', () => void browse(revision.value));

  const addFiles = (files: Iterable<File>): void => {
    for (const file of files) {
      const progress = h('progress', { max: 1, value: 0, 'aria-label': `Upload of ${file.name}` });
      const status = h('span', { class: 'upload-status' }, bytes(file.size));
      const upload: Upload = { name: file.name, progress, done: sendFile(session, file, progress) };
      upload.done.then(
        () => (status.textContent = `${bytes(file.size)} · uploaded`),
        (err: Error) => {
          status.textContent = 'failed';
          notice.show('error', err.message);
        },
      );
      pending.push(upload);
      uploads.append(h('li', {}, h('span', { class: 'upload-name' }, file.name), progress, status));
    }
  };
  picker.addEventListener('change', () => {
    addFiles(picker.files ?? []);
    picker.value = '';
  });
  dropZone.addEventListener('click', () => picker.click());
  dropZone.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ' ') {
      event.preventDefault();
      picker.click();
    }
  });
  dropZone.addEventListener('dragover', (event) => {
    event.preventDefault();
    dropZone.classList.add('over');
  });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('over'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('over');
    addFiles(event.dataTransfer?.files ?? []);
  });

  const commit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (repoId() === '') return notice.show('error', 'Create a repository or type the name of one first.');
    if (pending.length === 0) return notice.show('error', 'Drop some files to commit first.');
    commitButton.disabled = true;
    try {
      notice.show('info', 'Waiting for the uploads to finish…');
      await Promise.all(pending.map((u) => u.done));
      notice.show('info', `Committing ${pending.length} file(s) to ${repoId()}…`);
      const result = await postJson<{ commitOid: string; files: string[] }>(
        '/api/hub/commit',
        { repo: repoId(), session, message: message.value.trim() },
        tokenHeaders(),
      );
      notice.show(
        'success',
        `Committed ${result.files.length} file(s) to ${repoId()}: commit ${result.commitOid.slice(0, 10)}.`,
      );
      pending = [];
      session = crypto.randomUUID();
      uploads.replaceChildren();
      await browse();
      void modelList(true);
    } catch (err) {
      notice.show('error', (err as Error).message);
    } finally {
      commitButton.disabled = false;
    }
  };

  copyName.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(repoId());
      notice.show('success', `Copied '${repoId()}'.`);
    } catch {
      // Clipboard access can be refused (permissions, no focus): select the name so Ctrl+C copies it.
      repo.focus();
      repo.select();
      notice.show('info', 'The browser refused the clipboard: the name is selected, press Ctrl+C.');
    }
  });

  const createRepo = async (event: Event): Promise<void> => {
    event.preventDefault();
    create.disabled = true;
    try {
      const created = await postJson<{ repoId: string }>(
        '/api/hub/repos',
        { name: name.value.trim(), license: license.value, private: isPrivate.checked },
        tokenHeaders(),
      );
      repo.value = created.repoId;
      notice.show('success', `Created ${created.repoId} (${license.value}). Now drop its files and commit.`);
      await browse();
    } catch (err) {
      notice.show('error', (err as Error).message);
    } finally {
      create.disabled = false;
    }
  };

  getJson<HubStatus>('/api/hub').then(
    (status) => {
      options(
        license,
        status.licenses.map((l): [string, string] => [l, l]),
        'apache-2.0',
      );
      const tokenNote = status.tokenFromEnvironment
        ? 'a token from HF_TOKEN is used unless you type one'
        : 'no token in the environment: type one to write';
      connection.replaceChildren(`Hub: `, h('strong', {}, status.endpoint), ` · ${tokenNote}`);
      if (!status.reachable) notice.show('error', status.problem ?? `cannot reach ${status.endpoint}`);
    },
    (err: Error) => notice.show('error', err.message),
  );

  return {
    element: h(
      'div',
      { class: 'page' },
      ...pageHeading('Hub', 'Publish a model: create a repository, upload its files, commit, and use it by name.'),
      connection,
      field(
        'Access token',
        token,
        'Leave empty to use HF_TOKEN or your saved login. Sent only to this studio server, which passes it to the hub.',
      ),
      notice.element,
      h(
        'div',
        { class: 'columns' },
        h(
          'form',
          { class: 'panel', 'aria-labelledby': 'create-heading', onsubmit: (event: Event) => void createRepo(event) },
          h('h2', { id: 'create-heading' }, '1. New model repository'),
          field('Repository name', name, "'namespace/name', or 'name' in your own namespace."),
          field('License', license),
          h(
            'div',
            { class: 'field inline' },
            isPrivate,
            h('label', { htmlFor: (isPrivate.id = 'repo-private') }, 'Private'),
          ),
          h('div', { class: 'actions' }, create),
        ),
        h(
          'form',
          { class: 'panel', 'aria-labelledby': 'upload-heading', onsubmit: (event: Event) => void commit(event) },
          h('h2', { id: 'upload-heading' }, '2. Upload and commit'),
          field('Repository', repo),
          dropZone,
          h(
            'small',
            { id: 'drop-hint', class: 'hint' },
            'Files go to the root of the repo: config.json, model.safetensors, tokenizer files.',
          ),
          picker,
          uploads,
          field('Commit message', message),
          h(
            'div',
            { class: 'actions' },
            commitButton,
            h('button', { type: 'button', onclick: () => void browse(revision.value || undefined) }, 'Browse'),
          ),
        ),
      ),
      h(
        'section',
        { class: 'panel', 'aria-labelledby': 'browse-heading' },
        h('h2', { id: 'browse-heading' }, '3. Files and revisions'),
        field('Revision', revision),
        browser,
        usage,
      ),
    ),
  };
}
