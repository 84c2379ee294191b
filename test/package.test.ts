// The package as npm ships it: what the tarball holds (package.json `files`), and `import ... from 'attn'` through
// `exports` (self-reference inside the clone). Installing the tarball into another project needs the registry for
// the dependencies, so that check is done by hand (notes/issue-14.md), not here.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/util/paths.js';

interface PackResult {
  files: { path: string }[];
}

describe('the npm package', () => {
  it('ships dist/src, the studio, the installed models, README and LICENSE, and no tests, notes or benchmarks', () => {
    // --ignore-scripts: list what is there without running `prepare` (a full build) first.
    const stdout = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: projectRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const paths = (JSON.parse(stdout) as PackResult[])[0]!.files.map((f) => f.path);
    const unwanted = /^(test|notes|bench|examples|scripts|src|studio|docs|dist\/(?!src\/|studio\/))\/?|\.map$/;
    expect(paths.filter((p) => unwanted.test(p))).toEqual([]);
    for (const required of ['package.json', 'README.md', 'LICENSE', 'dist/src/index.js', 'dist/src/index.d.ts']) {
      expect(paths, required).toContain(required);
    }
    expect(paths).toContain('dist/src/cli/main.js');
    for (const model of readdirSync(join(projectRoot, 'models'))) {
      if (existsSync(join(projectRoot, 'models', model, 'config.json')))
        expect(paths).toContain(`models/${model}/config.json`);
    }
  });

  it("resolves 'attn' to the built entry point, with its types, inside the clone", () => {
    const script = [
      "import { pipeline, Tensor } from 'attn';",
      "console.log(JSON.stringify({ url: import.meta.resolve('attn'), pipeline: typeof pipeline, tensor: typeof Tensor }));",
    ].join('\n');
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: projectRoot,
      encoding: 'utf8',
    });
    const { url, pipeline, tensor } = JSON.parse(out) as { url: string; pipeline: string; tensor: string };
    expect(url).toMatch(/\/dist\/src\/index\.js$/);
    expect([pipeline, tensor]).toEqual(['function', 'function']);
    expect(existsSync(join(projectRoot, 'dist', 'src', 'index.d.ts'))).toBe(true);
  });
});
