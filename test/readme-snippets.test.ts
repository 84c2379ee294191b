// The README's TypeScript snippets are type-checked against the library (imports of 'attn' point at src/index.ts),
// so an API change that breaks them fails here.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/util/paths.js';

function snippets(markdown: string): string[] {
  return [...markdown.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
}

describe('README TypeScript snippets', () => {
  it('type-check against the library', () => {
    const blocks = snippets(readFileSync(join(projectRoot, 'README.md'), 'utf8'));
    expect(blocks.length).toBeGreaterThan(5);
    const dir = join(projectRoot, '.tmpbuild', 'readme-snippets');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const files = blocks.map((code, i) => {
      const file = join(dir, `snippet-${i}.ts`);
      // Each snippet is its own module; ones that only continue an earlier snippet reuse its imports.
      const source = code.replace(/from 'attn'/g, "from '../../src/index.js'");
      const prelude = source.includes("from '../../src/index.js'") ? '' : "import { pipeline } from '../../src/index.js';\n";
      writeFileSync(file, `${prelude}${source}\nexport {};\n`);
      return file;
    });
    const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--skipLibCheck', '--lib', 'ES2023', '--types', 'node', ...files];
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, ...args], { cwd: projectRoot, encoding: 'utf8' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  });
});
