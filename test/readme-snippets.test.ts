// README.md's TypeScript snippets. Every one is type-checked against the sources (its imports of 'attn' pointed at
// src/index.ts), so an API change that breaks one fails here without a build. Every one not marked
// "```ts type-checked only" is also run exactly as printed, the way the README says: saved as a file in the clone,
// where 'attn' resolves to the built package itself (dist/), and run with tsx. A snippet whose comment names
// HF_ENDPOINT or OPENAI_BASE_URL gets that service, started here on 127.0.0.1, in its environment.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EchoChatModel } from '../src/chat/echo-model.js';
import { startChatServer } from '../src/chat/server.js';
import { projectRoot } from '../src/util/paths.js';
import { killHard, makeTokens, spawnHubServer, tempDir } from './hub/helpers.js';

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

interface Service {
  env: Record<string, string>;
  close: () => Promise<void>;
}

/**
 * What a snippet's comments say it needs: a hub (HF_ENDPOINT, HF_TOKEN: `attn hub serve` on a fresh data folder with
 * a write token for alice, and an empty download cache) or an OpenAI-compatible server (OPENAI_BASE_URL: attn's chat
 * server with a deterministic echo model under the name the snippet asks for).
 */
async function startServices(code: string): Promise<Service> {
  if (code.includes('HF_ENDPOINT=')) {
    const data = tempDir('readme');
    const { alice } = await makeTokens(data);
    const hub = await spawnHubServer(data);
    const env = { HF_ENDPOINT: hub.url, HF_TOKEN: alice, HF_HUB_CACHE: tempDir('readme-cache') };
    return { env, close: () => killHard(hub.child) };
  }
  if (code.includes('OPENAI_BASE_URL')) {
    const model = /model: '([^']+)'/.exec(code)?.[1] ?? 'gpt-4o-mini';
    const server = await startChatServer({ models: [new EchoChatModel({ id: model })], apiKey: 'sk-readme' });
    return { env: { OPENAI_BASE_URL: server.baseURL, OPENAI_API_KEY: 'sk-readme' }, close: () => server.close() };
  }
  return { env: {}, close: async () => {} };
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runTsx(file: string, env: Record<string, string>): Promise<Run> {
  const tsxPackage = JSON.parse(readFileSync(join(projectRoot, 'node_modules', 'tsx', 'package.json'), 'utf8'));
  const cli = join(projectRoot, 'node_modules', 'tsx', tsxPackage.bin as string);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, file], {
      cwd: projectRoot,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    for (const { line, info } of blocks) {
      expect(['', TYPE_CHECKED_ONLY], `README.md:${line}: \`\`\`ts${info}`).toContain(info);
    }
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
    const args = ['--noEmit', '--strict', '--target', 'ES2022', '--module', 'NodeNext', '--moduleResolution'];
    args.push('NodeNext', '--skipLibCheck', '--lib', 'ES2023', '--types', 'node', ...files);
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
      const services = await startServices(code);
      const { code: exitCode, stdout, stderr } = await runTsx(file, services.env).finally(services.close);
      expect(exitCode, `${stdout}\n${stderr}`).toBe(0);
      for (const promised of promisedOutput(code)) expect(stdout).toContain(promised);
    });
  }
});
