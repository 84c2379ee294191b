import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/util/paths.js';

/** The `attn` command from the sources, as a user runs it: a child process with its own exit code. */
function attn(args: string[], input?: string | Buffer) {
  const result = spawnSync(
    process.execPath,
    ['--import', join(projectRoot, 'test/hub/register-ts.mjs'), join(projectRoot, 'src/cli/main.ts'), ...args],
    { input, encoding: 'utf8', timeout: 60_000 },
  );
  return { code: result.status, signal: result.signal, out: result.stdout, err: result.stderr };
}

describe('attn (the command a newcomer meets)', () => {
  it('answers an unknown command with one line: a suggestion and the help command', () => {
    const run = attn(['trian', 'x.json']);
    expect(run.code).toBe(2);
    expect(run.err).toBe("attn: unknown command 'trian' (did you mean 'train'?); see 'attn --help'\n");
  });

  it('refuses a command line long enough to crash onnxruntime, pointing to standard input', () => {
    const run = attn(['run', 'sentiment-analysis', 'good '.repeat(10_000)]);
    expect(run.signal).toBeNull();
    expect(run.code).toBe(2);
    expect(run.err).toMatch(
      /^attn: the command line is 50021 characters long; attn takes at most 16384 .*standard input/,
    );
  });
});
