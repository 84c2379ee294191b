// The vendored goldens (test/fixtures/golden) are the files transformers wrote: every sum in their manifest holds,
// no file is unlisted, and where ../shared/golden is present its sums agree. The check is the vendoring script's own.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { projectRoot } from '../src/util/paths.js';

it('test/fixtures/golden matches its SHA256SUMS (and ../shared/golden where present)', () => {
  const script = join(projectRoot, 'scripts', 'vendor-goldens.mjs');
  let output: string;
  try {
    output = execFileSync(process.execPath, [script, '--check'], { cwd: projectRoot, encoding: 'utf8', stdio: 'pipe' });
  } catch (err) {
    output = String((err as { stderr?: string }).stderr ?? err);
  }
  expect(output).toMatch(/every file matches SHA256SUMS/);
});
