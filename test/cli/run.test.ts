import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { cachedModels, installedModels } from '../../src/pipelines/available.js';
import { runWith } from '../../src/cli/commands/run.js';
import { pipeline, type ClassificationLabel } from '../../src/pipelines/index.js';
import { tinyCausalLM, tinyClassifier, tinySeq2Seq } from '../pipelines/tiny-models.js';

/** Runs `attn run` in-process with its own streams; `feed` writes standard input while it runs. */
async function attnRun(argv: string[], feed?: (stdin: PassThrough, stdout: PassThrough) => Promise<void>) {
  const [stdin, stdout, stderr] = [new PassThrough(), new PassThrough(), new PassThrough()];
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  const running = runWith(argv, { stdin, stdout, stderr });
  if (feed) await feed(stdin, stdout);
  else stdin.end();
  const code = await running;
  return { code, out, err, lines: out.split('\n').filter((l) => l !== '') };
}

describe('attn run', () => {
  let classifier: string;
  beforeAll(async () => {
    classifier = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 21);
  });

  it('classifies each text argument as one input, plain or as JSON shaped like Hugging Face', async () => {
    const classify = await pipeline('sentiment-analysis', classifier);
    const texts = ['i love this movie', 'awful', 'the plot was dull'];
    const expectedAll = (await classify(texts)) as ClassificationLabel[];
    const [expected] = expectedAll;
    const plain = await attnRun(['sentiment-analysis', ...texts, '--model', classifier, '--batch-size', '2']);
    expect(plain).toMatchObject({ code: 0, err: '' });
    expect(plain.lines).toEqual(expectedAll.map((l) => `${l.label} ${l.score.toFixed(3)}`));
    const json = await attnRun([
      'sentiment-analysis',
      'i love this movie',
      '--model',
      classifier,
      '--json',
      '--top-k',
      '2',
    ]);
    const parsed = JSON.parse(json.lines[0]!);
    expect(parsed.input).toBe('i love this movie');
    expect(parsed.result.map((l: ClassificationLabel) => l.label)).toContain(expected!.label);
    expect(parsed.result[0].score).toBeCloseTo(expected!.score, 5);
  });

  it('streams standard input one result per line, in order, batch by batch, before the input ends', async () => {
    const texts = ['good film', 'bad', 'i hate this boring story', 'fun', 'great', 'the movie was awful'];
    const expected = (await (await pipeline('text-classification', classifier))(texts)) as ClassificationLabel[];
    const run = await attnRun(
      ['text-classification', '--model', classifier, '--json', '--batch-size', '2'],
      async (stdin, stdout) => {
        stdin.write(`${texts[0]}\n${texts[1]}\n\n${texts[2]}\n`);
        // The first batch is answered while standard input is still open: results stream, they are not collected.
        await new Promise((resolve) => stdout.once('data', resolve));
        stdin.end(texts.slice(3).join('\n') + '\n');
      },
    );
    expect(run.code).toBe(0);
    expect(run.err).toBe('attn run: line 3 is empty; skipped\n');
    expect(run.lines.map((l) => JSON.parse(l).input)).toEqual(texts);
    run.lines.forEach((line, i) => expect(JSON.parse(line).result[0].label).toBe(expected[i]!.label));
  });

  it('translates and generates from the command line, streaming generated text', async () => {
    const seq2seq = await tinySeq2Seq();
    const translated = await attnRun(['translation_de_to_en', 'der hund', '--model', seq2seq, '--max-length', '6']);
    const [expected] = await (await pipeline('translation', seq2seq))('der hund', { maxLength: 6 });
    expect(translated.lines).toEqual([expected!.translation_text]);
    const generator = await tinyCausalLM();
    const generated = await attnRun(['text-generation', 'the cat', '--model', generator, '--max-new-tokens', '5']);
    const [story] = await (await pipeline('text-generation', generator))('the cat', { maxNewTokens: 5 });
    expect(generated.code).toBe(0);
    expect(generated.out).toBe(`${story!.generated_text}\n`);
  });

  it('answers a bad command line with one line: the reason, a suggestion, the help command; exit code 2', async () => {
    const cases: Array<[string[], string]> = [
      [[], 'missing the task'],
      [['sentiment', 'x'], "unknown task 'sentiment'"],
      [['sentiment-analyis', 'x'], "unknown task 'sentiment-analyis' (did you mean 'sentiment-analysis'?)"],
      [['fill-mask', 'x', '--modle', 'm'], "unknown option '--modle' (did you mean '--model'?)"],
      [['zero-shot-classification', 'x', '--model', classifier], 'zero-shot-classification needs --labels'],
      [['zero-shot-classification', 'x', '--labels', ' , '], 'needs at least one candidate label; got none'],
      [['translation', 'x', '--top-k', '2'], '--top-k does not apply to translation'],
      [
        ['text-generation', 'x', '--max-new-tokens', 'many'],
        "--max-new-tokens must be a whole number >= 0, got 'many'",
      ],
      [['fill-mask', 'x', '--bogus'], "unknown option '--bogus'; see"],
      [['text-classification', 'fine', ' '], 'text 2 is empty'],
    ];
    for (const [argv, message] of cases) {
      const run = await attnRun(argv);
      expect(run.code, argv.join(' ')).toBe(2);
      expect(run.err).toContain(message);
      expect(run.err).toMatch(/^attn run: [^\n]*; see 'attn run --help'\n$/);
      expect(run.out).toBe('');
    }
  });

  it('refuses binary standard input with a message naming the line, exit code 1', async () => {
    const run = await attnRun(['text-classification', '--model', classifier], async (stdin) => {
      stdin.end(Buffer.from([0x67, 0x6f, 0x6f, 0x64, 0x0a, 0x00, 0xff, 0xfe, 0x12, 0x0a]));
    });
    expect(run.code).toBe(1);
    expect(run.err).toBe('attn run: standard input line 2 is not UTF-8 text (binary data?); give one text per line\n');
  });

  it('reports models it cannot use and bad text with a message, exit code 1, never a stack trace', async () => {
    const missing = await attnRun(['sentiment-analysis', 'x', '--model', 'no such model']);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/^attn run: model 'no such model' not found: .*Run 'attn models'/);
    const wrongKind = await attnRun(['fill-mask', 'a [MASK]', '--model', classifier]);
    expect(wrongKind.code).toBe(1);
    expect(wrongKind.err).toContain('fill-mask needs a masked language model (…ForMaskedLM), but');
    const noDefault = await attnRun(['fill-mask', 'a [MASK]']);
    expect(noDefault.err).toContain(
      'attn ships no default model for fill-mask; pass a model folder or hub repo id (--model M on the command line)',
    );
    for (const run of [missing, wrongKind, noDefault]) expect(run.err).not.toMatch(/\n\s+at /);
    const long = await attnRun(['sentiment-analysis', 'good '.repeat(20_000), '--model', classifier]);
    expect(long.code).toBe(0);
    expect(long.err).toMatch(
      /^attn run: warning: attn text-classification: input 0 \(100000 characters\) is \d+ tokens long; the model takes 48/,
    );
    expect(long.lines).toHaveLength(1);
  });
});

describe('attn models', () => {
  it('lists installed folders and cached snapshots with their type, tasks and size', async () => {
    const root = mkdtempSync(join(tmpdir(), 'attn-models-list-'));
    const installed = join(root, 'models');
    mkdirSync(installed);
    symlinkSync(await tinyClassifier(['contradiction', 'neutral', 'entailment'], 22), join(installed, 'nli'));
    mkdirSync(join(installed, 'broken'));
    writeFileSync(join(installed, 'broken', 'config.json'), '{"model_type": "wavenet"}');
    mkdirSync(join(installed, 'not-a-model'));
    const list = installedModels(installed);
    expect(list.map((m) => m.name)).toEqual(['broken', 'nli']);
    expect(list[1]).toMatchObject({
      source: 'installed',
      modelType: 'bert',
      tasks: ['text-classification', 'zero-shot-classification'],
    });
    expect(list[1]!.bytes).toBeGreaterThan(1000);
    expect(list[0]!.problem).toContain("unknown model_type 'wavenet'");

    const cache = join(root, 'hub');
    const commit = 'a'.repeat(40);
    const snapshot = join(cache, 'models--org--tiny-gpt', 'snapshots', commit);
    mkdirSync(join(cache, 'models--org--tiny-gpt', 'refs'), { recursive: true });
    writeFileSync(join(cache, 'models--org--tiny-gpt', 'refs', 'main'), commit);
    mkdirSync(join(cache, 'models--org--tiny-gpt', 'snapshots'), { recursive: true });
    symlinkSync(await tinyCausalLM(), snapshot);
    expect(cachedModels(cache)).toMatchObject([
      { name: 'org/tiny-gpt', source: 'cache', modelType: 'gpt2', tasks: ['text-generation'] },
    ]);
  });
});
