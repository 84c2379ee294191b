// The studio server's API without a browser: each page's data, checked against independent references, against
// a real hub on 127.0.0.1 and a real Trainer run.
import { readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/cli/args.js';
import { help, startFromArgs } from '../../src/cli/commands/studio.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { pipeline } from '../../src/pipelines/index.js';
import { positionTable } from '../../src/studio/positions.js';
import { startStudioServer, type RunningStudio } from '../../src/studio/server.js';
import { watchRun, type RunEvent } from '../../src/studio/training.js';
import { tinyCausalLM, tinyClassifier, tinyEncoder, tinySeq2Seq } from '../pipelines/tiny-models.js';
import { localHub, restoreHubEnvironment, scratch, tinyTrainingRun, tinyWordLM } from './helpers.js';

restoreHubEnvironment(afterEach);

let studio: RunningStudio;
beforeAll(async () => {
  studio = await startStudioServer({ hubEndpoint: 'http://127.0.0.1:9' });
});
afterAll(() => studio.close());

async function api<T>(path: string, init: RequestInit = {}, base = studio.url): Promise<{ status: number; body: T }> {
  const response = await fetch(base + path, init);
  return { status: response.status, body: (await response.json()) as T };
}

const post = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', ...headers },
  body: JSON.stringify(body),
});

/** The events of a server-sent event stream until `enough` says stop. */
async function readEvents(
  url: string,
  enough: (events: Array<{ event: string; data: unknown }>) => boolean,
): Promise<Array<{ event: string; data: unknown }>> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const events: Array<{ event: string; data: unknown }> = [];
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        events.push({ event, data: JSON.parse(/^data: (.*)$/m.exec(block)![1]!) });
        if (enough(events)) return events;
      }
    }
  } finally {
    controller.abort();
  }
  return events;
}

interface Maps {
  tokens: string[];
  layers: number;
  heads: number;
  weights: number[][][][];
}

describe('attention maps', () => {
  it('returns every head of every layer as (T, T) rows of weights summing to 1, labelled with the tokens', async () => {
    const dir = await tinyEncoder();
    const { status, body } = await api<Maps>('/api/attention', post({ model: dir, text: 'the cat sat on the mat' }));
    expect(status).toBe(200);
    // The tiny BERT tokenizer: [CLS] + one piece per word + [SEP].
    expect(body.tokens).toEqual(['[CLS]', 'the', 'cat', 'sat', 'on', 'the', 'mat', '[SEP]']);
    expect([body.layers, body.heads]).toEqual([1, 2]);
    for (const row of body.weights.flat(2)) {
      expect(row).toHaveLength(8);
      expect(row.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 3);
    }
  });

  it('gives a decoder-only model causal maps: nothing above the diagonal', async () => {
    const { body } = await api<Maps>(
      '/api/attention',
      post({ model: await tinyCausalLM(), text: 'the cat sat on the mat' }),
    );
    const head = body.weights[0]![0]!;
    head.forEach((row, q) => row.forEach((w, k) => (k > q ? expect(w).toBe(0) : expect(w).toBeGreaterThan(0))));
  });

  it('explains why an encoder-decoder model has no self-attention maps, and names a missing model', async () => {
    const seq2seq = await api<{ error: string }>(
      '/api/attention',
      post({ model: await tinySeq2Seq(), text: 'the cat' }),
    );
    expect(seq2seq.status).toBe(422);
    expect(seq2seq.body.error).toMatch(/marian.*gives no self-attention weights.*encoder or decoder-only/);
    const missing = await api<{ error: string }>('/api/attention', post({ model: '/no/such/model', text: 'the cat' }));
    expect(missing.status).toBe(422);
    expect(missing.body.error).toMatch(/model '\/no\/such\/model' not found/);
  });
});

describe('positional encodings', () => {
  it('reads a learned table from the weights (GPT-2 wpe)', async () => {
    const dir = await tinyCausalLM();
    const { body } = await api<{ kind: string; values: number[][]; totalDimensions: number }>(
      `/api/positions?model=${encodeURIComponent(dir)}&count=5`,
    );
    const saved = (await loadSafetensors(join(dir, 'model.safetensors'))).tensors;
    const wpe = saved.get('transformer.wpe.weight') ?? saved.get('wpe.weight');
    expect(body.kind).toBe('learned');
    expect(body.values).toHaveLength(5);
    expect(body.values[3]![7]).toBeCloseTo(wpe!.data[3 * 16 + 7]!, 4);
  });

  it('computes sinusoids and rotary angles from the config, as the formulas say', async () => {
    const marian = await positionTable(
      configFromJSON({ model_type: 'marian', d_model: 8, max_position_embeddings: 32 }, 'config.json'),
      () => Promise.reject(new Error('not needed')),
      6,
    );
    // Half layout: sin(p / 10000^(2i/d)) in column i, cos in column d/2 + i.
    expect(marian.kind).toBe('sinusoidal');
    expect(marian.values[5]![1]).toBeCloseTo(Math.sin(5 / 10000 ** (2 / 8)), 4);
    expect(marian.values[5]![5]).toBeCloseTo(Math.cos(5 / 10000 ** (2 / 8)), 4);
    const llama = await positionTable(
      configFromJSON({ model_type: 'llama', hidden_size: 32, num_attention_heads: 2, rope_theta: 500 }, 'config.json'),
      () => Promise.reject(new Error('not needed')),
      10,
    );
    // Head dim 16: 8 frequencies θᵢ = 500^(-2i/16).
    expect(llama.kind).toBe('rotary');
    expect(llama.values[0]).toHaveLength(8);
    expect(llama.values[9]![3]).toBeCloseTo(Math.cos(9 * 500 ** (-6 / 16)), 4);
    const t5 = await positionTable(
      configFromJSON({ model_type: 't5' }, 'config.json'),
      () => Promise.reject(new Error('not needed')),
      4,
    );
    expect(t5.kind).toBe('relative');
  });
});

describe('playground', () => {
  it('runs a pipeline and streams text generation piece by piece', async () => {
    const classifier = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 11);
    const { body } = await api<{ result: unknown }>(
      '/api/run',
      post({ task: 'sentiment-analysis', model: classifier, text: 'i love this film' }),
    );
    expect(body.result).toEqual(await (await pipeline('sentiment-analysis', classifier))('i love this film'));

    const generator = await tinyWordLM();
    const url = `${studio.url}/api/generate?${new URLSearchParams({ model: generator, text: 'the cat', maxNewTokens: '6' })}`;
    const events = await readEvents(url, (seen) => seen.at(-1)?.event === 'done' || seen.at(-1)?.event === 'failure');
    const pieces = events.filter((e) => e.event === 'text').map((e) => (e.data as { text: string }).text);
    const done = events.at(-1)!.data as { generated_text: string };
    expect(events.at(-1)!.event).toBe('done');
    expect(pieces.length).toBeGreaterThan(1);
    // The pieces are the continuation; the final text also has the space joining it to the prompt.
    expect(done.generated_text.startsWith('the cat')).toBe(true);
    expect(done.generated_text.endsWith(pieces.join(''))).toBe(true);
    const direct = await (await pipeline('text-generation', generator))('the cat', { maxNewTokens: 6 });
    expect(done.generated_text).toBe(direct[0]!.generated_text);
  });

  it('answers bad requests with messages naming the field or the task', async () => {
    expect((await api<{ error: string }>('/api/run', post({ task: 'sentiment-analysis', text: '' }))).body.error).toBe(
      "'text' is missing",
    );
    const unknown = await api<{ error: string }>('/api/run', post({ task: 'poetry', text: 'x' }));
    expect([unknown.status, unknown.body.error]).toEqual([400, expect.stringMatching(/unknown task 'poetry'/)]);
  });
});

describe('training', () => {
  it('follows a real Trainer run: an event at every log, the history growing to the end', async () => {
    const dir = join(scratch('run'), 'out');
    const events: RunEvent[] = [];
    const stop = watchRun(dir, (event) => events.push(event));
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(events[0]).toEqual({ kind: 'waiting', message: expect.stringMatching(/does not exist/) });
      await tinyTrainingRun(dir, 3e-3, 12, 450);
      await new Promise((resolve) => setTimeout(resolve, 1000));
    } finally {
      stop();
    }
    const states = events.flatMap((e) => (e.kind === 'state' ? [e.run] : []));
    expect(states.length).toBeGreaterThan(1);
    const last = states.at(-1)!;
    expect(last.globalStep).toBe(12);
    expect(last.logHistory.filter((e) => 'loss' in e).map((e) => e['step'])).toEqual([2, 4, 6, 8, 10, 12]);
    expect(last.logHistory.some((e) => 'eval_accuracy' in e && 'eval_loss' in e)).toBe(true);

    // The same over HTTP: the first event of the stream is the finished run's state.
    const [first] = await readEvents(
      `${studio.url}/api/training/watch?dir=${encodeURIComponent(dir)}`,
      (seen) => seen.length === 1,
    );
    expect(first!.event).toBe('state');
    expect((first!.data as { logHistory: unknown[] }).logHistory).toEqual(last.logHistory);
  });
});

describe('hub', () => {
  it('creates a repo, stages and commits files, browses them, and a pipeline then runs the model by its name', async () => {
    const { hub, token } = await localHub();
    const desk = await startStudioServer({ hubEndpoint: hub.url });
    try {
      const auth = { 'X-Hub-Token': token };
      expect((await api<{ reachable: boolean }>('/api/hub', {}, desk.url)).body.reachable).toBe(true);
      const created = await api<{ repoId: string }>(
        '/api/hub/repos',
        post({ name: 'alice/tiny-sentiment', license: 'mit' }, auth),
        desk.url,
      );
      expect(created).toEqual({ status: 201, body: expect.objectContaining({ repoId: 'alice/tiny-sentiment' }) });

      const model = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 21);
      const session = 'session-0001';
      for (const file of readdirSync(model)) {
        const staged = await fetch(`${desk.url}/api/hub/upload?session=${session}&path=${file}`, {
          method: 'PUT',
          body: readFileSync(join(model, file)),
        });
        expect(staged.status).toBe(200);
      }
      const committed = await api<{ commitOid: string; files: string[] }>(
        '/api/hub/commit',
        post({ repo: 'alice/tiny-sentiment', session, message: 'tiny model' }, auth),
        desk.url,
      );
      expect(committed.body.files.sort()).toEqual(readdirSync(model).sort());

      const view = await api<{
        info: { sha: string; cardData?: { license?: string } };
        files: Array<{ path: string; lfs?: unknown }>;
        refs: { branches: Array<{ name: string }> };
      }>('/api/hub/repo?repo=alice/tiny-sentiment', { headers: auth }, desk.url);
      expect(view.body.info.sha).toBe(committed.body.commitOid);
      expect(view.body.info.cardData?.license).toBe('mit');
      expect(view.body.files.find((f) => f.path === 'model.safetensors')?.lfs).toBeDefined();
      expect(view.body.refs.branches.map((b) => b.name)).toEqual(['main']);

      const { body } = await api<{ result: unknown }>(
        '/api/run',
        post({ task: 'sentiment-analysis', model: 'alice/tiny-sentiment', text: 'a great film' }),
        desk.url,
      );
      expect(body.result).toEqual(await (await pipeline('sentiment-analysis', model))('a great film'));
    } finally {
      await desk.close();
      await hub.close();
    }
  });

  it('says clearly when the hub cannot be reached, and refuses unsafe upload paths', async () => {
    const status = await api<{ reachable: boolean; problem: string }>('/api/hub');
    expect(status.body).toMatchObject({
      reachable: false,
      problem: expect.stringMatching(/cannot reach the hub at http:\/\/127\.0\.0\.1:9.*attn hub serve/),
    });
    const create = await api<{ error: string; code: string }>(
      '/api/hub/repos',
      post({ name: 'alice/x', license: 'mit' }),
    );
    expect([create.status, create.body.code]).toEqual([502, 'Unreachable']);
    const escape = await api<{ error: string }>('/api/hub/upload?session=session-0002&path=../evil', {
      method: 'PUT',
      body: 'x',
    });
    expect([escape.status, escape.body.error]).toEqual([
      400,
      expect.stringMatching(/'\.\.\/evil' is not a relative repo path/),
    ]);
    const license = await api<{ error: string }>('/api/hub/repos', post({ name: 'alice/x', license: 'wtfpl' }));
    expect(license.body.error).toMatch(/license 'wtfpl' is not one of apache-2.0/);
  });
});

describe('requests from elsewhere', () => {
  it('refuses other sites (Origin) and other host names (DNS rebinding), which could use the hub token', async () => {
    const foreign = await api<{ error: string }>(
      '/api/hub/repos',
      post({ name: 'alice/x', license: 'mit' }, { Origin: 'http://evil.example' }),
    );
    expect([foreign.status, foreign.body.error]).toEqual([
      403,
      'requests from http://evil.example are not served: the studio answers only its own pages',
    ]);
    const own = await api<{ runs: string[] }>('/api/training/runs', { headers: { Origin: studio.url } });
    expect(own.status).toBe(200);
    const { port } = new URL(studio.url);
    const rebound = await new Promise<number>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path: '/api/models', headers: { Host: `evil.example:${port}` } }, (res) =>
        resolve(res.statusCode!),
      )
        .on('error', reject)
        .end();
    });
    expect(rebound).toBe(403);
  });
});

describe('attn studio command', () => {
  it('parses its flags, refuses a bad hub URL, and serves the app', async () => {
    expect(help).toMatch(/--port P.*\n.*--hub URL/s);
    await expect(startFromArgs(['--hub', 'not a url'])).rejects.toThrow(UsageError);
    await expect(startFromArgs(['--port', 'x'])).rejects.toThrow(/--port must be a whole number/);
    const served = await startFromArgs(['--port', '0', '--run', '/tmp/some-run']);
    try {
      expect((await api<{ runs: string[] }>('/api/training/runs', {}, served.url)).body.runs).toEqual([
        '/tmp/some-run',
      ]);
    } finally {
      await served.close();
    }
  });
});
