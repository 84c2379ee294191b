// attn studio in a real browser: Debian's Chromium, headless, driven by playwright-core against the studio and an
// `attn hub serve` on 127.0.0.1. Each page's main flow, by mouse and keyboard; screenshots go to docs/screenshots/.
import { existsSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningHubServer } from '../../src/hub/server/server.js';
import { installedModelsDir, pipeline } from '../../src/pipelines/index.js';
import { startStudioServer, type RunningStudio } from '../../src/studio/server.js';
import { projectRoot } from '../../src/util/paths.js';
import { tinyClassifier, tinyEncoder } from '../pipelines/tiny-models.js';
import { ensureStudioBuilt, localHub, restoreHubEnvironment, scratch, tinyTrainingRun, tinyWordLM } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
// The README shows docs/screenshots/; a test run only refreshes them when asked (ATTN_SCREENSHOTS=1), so a plain
// `npm test` leaves the working tree clean. Otherwise they go to a scratch folder.
const SCREENSHOTS =
  process.env.ATTN_SCREENSHOTS === '1'
    ? join(projectRoot, 'docs', 'screenshots')
    : join(tmpdir(), 'attn-studio-screenshots');

const suite = existsSync(CHROMIUM) ? describe : describe.skip;
if (!existsSync(CHROMIUM))
  console.warn(
    `[attn tests] skipping the studio browser tests: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`,
  );

suite(`attn studio in Chromium (${CHROMIUM})`, () => {
  restoreHubEnvironment(afterAll);
  let hub: RunningHubServer;
  let token: string;
  let studio: RunningStudio;
  let browser: BrowserContext;
  let page: Page;
  const failures: string[] = [];

  beforeAll(async () => {
    await ensureStudioBuilt();
    ({ hub, token } = await localHub());
    studio = await startStudioServer({ hubEndpoint: hub.url });
    // A persistent context on a fresh folder: the brief's fresh --user-data-dir.
    browser = await chromium.launchPersistentContext(scratch('chromium-profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: FLAGS,
      viewport: { width: 1280, height: 860 },
      permissions: ['clipboard-read', 'clipboard-write'],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
    page.on('pageerror', (err) => failures.push(err.message));
    mkdirSync(SCREENSHOTS, { recursive: true });
  });

  afterAll(async () => {
    await browser?.close();
    await studio?.close();
    await hub?.close();
    expect(failures, 'uncaught errors in the page').toEqual([]);
  });

  const open = async (hash: string): Promise<void> => {
    await page.goto(`${studio.url}/${hash}`);
    await page.locator('h1').waitFor();
  };
  const shoot = (name: string) => page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  // The notice after an action: wait until it leaves the 'working' state.
  const settledNotice = async (): Promise<string> => {
    const notice = page.locator('.notice.success, .notice.error').first();
    await notice.waitFor({ timeout: 90_000 });
    return (await notice.textContent()) ?? '';
  };

  it('Hub: creates a repo with a license, uploads dropped files with progress, commits, browses, copies the name', async () => {
    await open('#/hub');
    await expect.poll(() => page.locator('.connection').textContent()).toContain(hub.url);
    await page.getByLabel('Access token', { exact: true }).fill(token);
    await page.getByLabel('Repository name', { exact: true }).fill('alice/tiny-sentiment');
    await page.getByLabel('License', { exact: true }).selectOption('mit');
    await page.getByRole('button', { name: 'Create repository' }).click();
    expect(await settledNotice()).toContain('Created alice/tiny-sentiment (mit)');
    await expect.poll(() => page.getByLabel('Repository', { exact: true }).inputValue()).toBe('alice/tiny-sentiment');

    // Drop the model's files on the drop zone, as a user dragging them from a file manager.
    const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 41);
    const files = readdirSync(model).map((name) => ({
      name,
      base64: readFileSync(join(model, name)).toString('base64'),
    }));
    await page.locator('.drop').evaluate((zone, dropped) => {
      const transfer = new DataTransfer();
      for (const f of dropped)
        transfer.items.add(new File([Uint8Array.from(atob(f.base64), (c) => c.charCodeAt(0))], f.name));
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
    }, files);
    await expect.poll(() => page.locator('.upload-status', { hasText: 'uploaded' }).count()).toBe(files.length);
    expect(
      await page.locator('.uploads progress').evaluateAll((bars) => bars.map((b) => (b as HTMLProgressElement).value)),
    ).toEqual(files.map(() => 1));

    await page.getByLabel('Commit message', { exact: true }).fill('Add a tiny sentiment model');
    await page.getByRole('button', { name: 'Commit' }).click();
    expect(await settledNotice()).toMatch(
      new RegExp(`Committed ${files.length} file\\(s\\) to alice/tiny-sentiment: commit [0-9a-f]{10}`),
    );
    // The uploaded files, beside what the hub added itself (.gitattributes, the card with the license).
    const listed = () => page.locator('.files tbody tr td:first-child').allTextContents();
    await expect.poll(listed).toEqual(expect.arrayContaining(files.map((f) => f.name)));
    await expect.poll(() => page.locator('.files tr', { hasText: 'model.safetensors' }).textContent()).toContain('LFS');
    expect(await page.getByLabel('Revision', { exact: true }).inputValue()).toBe('main');
    await shoot('hub');

    await page.getByRole('button', { name: 'Copy name' }).click();
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('alice/tiny-sentiment');
  });

  it('Playground: runs the uploaded model by its hub name (keyboard only), then streams text generation', async () => {
    await page.getByRole('link', { name: 'Try it in the Playground' }).click();
    await page.locator('h1', { hasText: 'Playground' }).waitFor();
    expect(await page.getByLabel('Model', { exact: true }).inputValue()).toBe('alice/tiny-sentiment');
    await page.getByLabel('Text', { exact: true }).fill('a great film');
    await page.getByLabel('Text', { exact: true }).press('Control+Enter');
    expect(await settledNotice()).toBe('Done.');
    const shown = await page
      .locator('.scores li')
      .evaluateAll((items) =>
        items.map((li) => [li.querySelector('.score-label')!.textContent, Number(li.querySelector('meter')!.value)]),
      );
    const expected = (await (
      await pipeline('sentiment-analysis', 'alice/tiny-sentiment')
    )('a great film')) as Array<{ label: string; score: number }>;
    expect(shown).toEqual(expected.map((e) => [e.label, e.score]));

    const generator = await tinyWordLM();
    await page.getByLabel('Task', { exact: true }).selectOption('text-generation');
    await page.getByLabel('Model', { exact: true }).fill(generator);
    await page.getByLabel('Text', { exact: true }).fill('the cat');
    // Count the pieces as they arrive: streaming adds text to the result one piece at a time.
    await page.evaluate(() => {
      const result = document.querySelector('.result')!;
      (window as unknown as { pieces: number }).pieces = 0;
      new MutationObserver((changes) => ((window as unknown as { pieces: number }).pieces += changes.length)).observe(
        result,
        { childList: true, subtree: true },
      );
    });
    await page.getByRole('button', { name: 'Run' }).click();
    expect(await settledNotice()).toBe('Done.');
    const [direct] = await (await pipeline('text-generation', generator))('the cat', { maxNewTokens: 40 });
    expect(await page.locator('.generated').textContent()).toBe(direct!.generated_text);
    expect(await page.evaluate(() => (window as unknown as { pieces: number }).pieces)).toBeGreaterThan(10);
    await shoot('playground');

    // A model that does not exist: the message names it and says where it was looked for.
    await page.getByLabel('Model', { exact: true }).fill('/no/such/model');
    await page.getByRole('button', { name: 'Run' }).click();
    expect(await settledNotice()).toMatch(/model '\/no\/such\/model' not found/);
  });

  it('Attention: one head with token labels and hover values, all heads as small multiples, the positional encodings', async () => {
    // The USE Lite model shipped in models/ when present (real tokens, real attention); else a tiny BERT.
    const model = existsSync(join(installedModelsDir, 'use-lite', 'config.json')) ? 'use-lite' : await tinyEncoder();
    const sentence = 'The cat sat on the mat because it was tired.';
    const maps = (await (
      await fetch(`${studio.url}/api/attention`, { method: 'POST', body: JSON.stringify({ model, text: sentence }) })
    ).json()) as { tokens: string[]; heads: number; weights: number[][][][] };
    await open('#/attention');
    await page.getByLabel('Model', { exact: true }).fill(model);
    await page.getByLabel('Sentence', { exact: true }).fill(sentence);
    await page.getByRole('button', { name: 'Show attention' }).click();
    expect(await settledNotice()).toContain(`${maps.tokens.length} tokens`);
    expect(await page.locator('.multiples figure').count()).toBe(maps.heads);

    await page.getByRole('button', { name: 'Head 2' }).click();
    expect(await page.getByLabel('Head', { exact: true }).inputValue()).toBe('1');
    const canvas = page.locator('.maps canvas');
    // Hover the cell of query 3, key 1: the map has 90 px of labels, then square cells.
    const box = (await canvas.boundingBox())!;
    const cell = (box.width - 90) / maps.tokens.length;
    await page.mouse.move(box.x + 90 + 1.5 * cell, box.y + 90 + 3.5 * cell);
    const tip = page.locator('.maps .tip');
    await expect
      .poll(() => tip.textContent())
      .toMatch(new RegExp(`^query 3 .* → key 1 .*: ${maps.weights[0]![1]![3]![1]!.toFixed(4)}$`));
    // The keyboard reads the same cells: the first arrow shows (0, 0), then right and down move.
    await canvas.focus();
    for (const key of ['ArrowRight', 'ArrowRight', 'ArrowDown']) await page.keyboard.press(key);
    await expect
      .poll(() => tip.textContent())
      .toMatch(new RegExp(`^query 1 .* → key 1 .*: ${maps.weights[0]![1]![1]![1]!.toFixed(4)}$`));
    await page.mouse.move(box.x + 90 + 2.5 * cell, box.y + 90 + 4.5 * cell);
    await page.locator('.positions figure').waitFor({ timeout: 60_000 });
    expect(await page.locator('.positions figcaption').textContent()).toMatch(/^(Sinusoidal|Learned)/);
    await shoot('attention');

    await page.getByLabel('Head', { exact: true }).selectOption('all');
    expect(await page.locator('.multiples canvas').count()).toBe(maps.heads);
    await shoot('attention-heads');
  });

  it('Training: follows a run live as the Trainer logs, overlaid with a finished one', async () => {
    const [slow, fast] = [join(scratch('runs'), 'lr-3e-3'), join(scratch('runs'), 'lr-1e-2')];
    await tinyTrainingRun(fast, 1e-2);
    await open('#/training');
    for (const dir of [slow, fast]) {
      await page.getByLabel('Run folder', { exact: true }).fill(dir);
      await page.getByLabel('Run folder', { exact: true }).press('Enter');
    }
    await expect.poll(() => page.locator('.run-status').first().textContent()).toMatch(/does not exist/);
    // The page updates while the run trains: its status passes through intermediate steps.
    const seen = new Set<string>();
    let trained = false;
    // 96 steps, each log held 300 ms as a real model's steps would take: compiled, the tiny run could otherwise end
    // between two polls of the studio's watcher, and the page would see only its last state.
    const training = tinyTrainingRun(slow, 3e-3, 96, 300).then(() => (trained = true));
    const deadline = Date.now() + 90_000;
    while (!seen.has('step 96 of 96') && Date.now() < deadline) {
      const status = (await page.locator('.run-status').first().textContent()) ?? '';
      seen.add(status.replace(/, epoch.*/, ''));
      if (trained) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await training;
    expect([...seen].filter((s) => /^step \d+ of 96$/.test(s)).length).toBeGreaterThan(2);
    const metrics = await page
      .locator('.chart-card')
      .evaluateAll((cards) => cards.map((c) => c.getAttribute('data-metric')));
    expect(metrics.slice(0, 3)).toEqual(['loss', 'learning_rate', 'eval_loss']);
    expect(metrics).toEqual(expect.arrayContaining(['eval_accuracy', 'eval_f1']));
    // Both runs drawn on every chart.
    for (const metric of ['loss', 'eval_accuracy'])
      expect(await page.locator(`.chart-card[data-metric="${metric}"] path.series`).count()).toBe(2);
    await shoot('training');
  });

  it('Hub: says so when the hub cannot be reached', async () => {
    const offline = await startStudioServer({ hubEndpoint: 'http://127.0.0.1:9' });
    try {
      await page.goto(`${offline.url}/#/hub`);
      expect(await settledNotice()).toMatch(/cannot reach the hub at http:\/\/127\.0\.0\.1:9 .*attn hub serve/);
    } finally {
      await offline.close();
    }
  });
});
