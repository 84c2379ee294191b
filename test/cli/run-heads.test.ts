// `attn run question-answering --question Q` and `attn run ner`: each text a context / a sentence, output equal to
// the pipelines' own answers (plain lines and Hugging Face-shaped JSON).
import { PassThrough } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { runWith } from '../../src/cli/commands/run.js';
import { pipeline, type Answer, type GroupedEntity } from '../../src/pipelines/index.js';
import { tinyQuestionAnswering, tinyTokenClassifier } from '../pipelines/tiny-heads.js';

async function attnRun(argv: string[]) {
  const [stdin, stdout, stderr] = [new PassThrough(), new PassThrough(), new PassThrough()];
  let out = '';
  let err = '';
  stdout.on('data', (chunk) => (out += chunk));
  stderr.on('data', (chunk) => (err += chunk));
  stdin.end();
  const code = await runWith(argv, { stdin, stdout, stderr });
  return { code, err, lines: out.split('\n').filter((l) => l !== '') };
}

describe('attn run with QA and NER checkpoints', () => {
  let qaDir: string;
  let nerDir: string;
  beforeAll(async () => {
    [qaDir, nerDir] = [await tinyQuestionAnswering(), await tinyTokenClassifier()];
  });

  it('answers --question from each text given', async () => {
    const contexts = ['the cat sat on the mat .', 'i love this film , it was great fun .'];
    const question = 'what sat on the mat ?';
    const qa = await pipeline('question-answering', qaDir);
    const expected = (await qa(contexts, { question })) as Answer[];
    const plain = await attnRun(['question-answering', ...contexts, '--model', qaDir, '--question', question]);
    expect(plain).toMatchObject({ code: 0, err: '' });
    expect(plain.lines).toEqual(expected.map((a) => `${a.answer} ${a.score.toFixed(3)}`));
    const json = await attnRun([
      'question-answering',
      contexts[0]!,
      '--model',
      qaDir,
      '--question',
      question,
      '--json',
    ]);
    expect(JSON.parse(json.lines[0]!)).toEqual({ input: contexts[0], result: expected[0] });
    expect((await attnRun(['question-answering', contexts[0]!, '--model', qaDir])).err).toMatch(/needs --question/);
  });

  it('labels entities with --aggregation-strategy', async () => {
    const text = 'the cat sat on the mat';
    const ner = await pipeline('ner', nerDir);
    const expected = (await ner(text, { aggregationStrategy: 'simple' })) as GroupedEntity[];
    const json = await attnRun(['ner', text, '--model', nerDir, '--aggregation-strategy', 'simple', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.lines[0]!).result).toEqual(expected);
  });
});
