// README.md's TypeScript snippets. Every one is type-checked against the sources (its imports of 'attn' pointed at
// src/index.ts), so an API change that breaks one fails here without a build. Every one not marked
// "```ts type-checked only" is also run exactly as printed, the way the README says: saved as a file in the clone,
// where 'attn' resolves to the built package itself (dist/), and run with tsx.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../src/util/paths.js';

const TYPE_CHECKED_ONLY = ' type-checked only';
const RUN_TIMEOUT_MS = 180_000;

interface Snippet {
  code: string;
  /** Where the block opens in README.md, for test names. */
  line: number;
  /** The fence's words after `ts`: '' (run) or ' type-checked only'. */
  info: string;
}

function snippets(markdown: string): Snippet[] {
  return [...markdown.matchAll(/^```ts([^\n]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    code: m[2]!,
    line: markdown.slice(0, m.index).split('\n').length,
    info: m[1]!,
  }));
}

/**
 * What a `console.log(...) // <expected>` line promises: the quoted strings and decimals of the comment, each of which
 * must appear in what the snippet prints (scores are printed with more digits than the comment shows).
 */
function promisedOutput(code: string): string[] {
  const comments = [...code.matchAll(/^console\.log\(.*\); \/\/ (.*)$/gm)].map((m) => m[1]!);
  return comments.flatMap((c) => [...c.matchAll(/'([^']*)'|\d+\.\d+/g)].map((m) => m[1] ?? m[0]));
}

function runTsx(file: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const tsxPackage = JSON.parse(readFileSync(join(projectRoot, 'node_modules', 'tsx', 'package.json'), 'utf8'));
  const cli = join(projectRoot, 'node_modules', 'tsx', tsxPackage.bin as string);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, file], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), RUN_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

const blocks = snippets(readFileSync(join(projectRoot, 'README.md'), 'utf8'));
const dir = join(projectRoot, '.tmpbuild', 'readme-snippets');

describe('README TypeScript snippets', () => {
  it('are each marked to run or as type-checked only', () => {
    expect(blocks.length).toBeGreaterThan(5);
    for (const { line, info } of blocks) expect(['', TYPE_CHECKED_ONLY], `README.md:${line}: \`\`\`ts${info}`).toContain(info);
  });

  it('type-check against the library', () => {
    const checkDir = join(dir, 'typecheck');
    rmSync(checkDir, { recursive: true, force: true });
    mkdirSync(checkDir, { recursive: true });
    const files = blocks.map(({ code, line }) => {
      const file = join(checkDir, `readme-line-${line}.ts`);
      writeFileSync(file, `${code.replace(/from 'attn'/g, "from '../../../src/index.js'")}\nexport {};\n`);
      return file;
    });
    const tsc = join(projectRoot, 'node_modules', 'typescript', 'bin', 'tsc');
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution', 'NodeNext'];
    args.push('--skipLibCheck', '--lib', 'ES2023', '--types', 'node', ...files);
    let output = '';
    try {
      execFileSync(process.execPath, [tsc, ...args], { cwd: projectRoot, encoding: 'utf8' });
    } catch (err) {
      output = String((err as { stdout?: string }).stdout ?? err);
    }
    expect(output).toBe('');
  });

  for (const { code, line, info } of blocks) {
    if (info === TYPE_CHECKED_ONLY) continue;
    it(`README.md:${line} runs as printed with tsx`, { timeout: RUN_TIMEOUT_MS + 10_000 }, async () => {
      const runDir = join(dir, 'run');
      mkdirSync(runDir, { recursive: true });
      const file = join(runDir, `readme-line-${line}.ts`);
      writeFileSync(file, code);
      const { code: exitCode, stdout, stderr } = await runTsx(file);
      expect(exitCode, `${stdout}\n${stderr}`).toBe(0);
      for (const promised of promisedOutput(code)) expect(stdout).toContain(promised);
    });
  }
});
