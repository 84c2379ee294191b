// Every `attn …` / `npx attn …` command in README.md's shell code blocks is run here, from the sources, and must
// exit 0 — so the README cannot rot. Nothing is skipped silently: a command that needs a default model that is
// not installed is reported as skipped with the folder it needs, and a README without commands fails.
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { defaultModelName, installedModelsDir, parseTask } from '../src/pipelines/index.js';
import { projectRoot } from '../src/util/paths.js';

const README = process.env.ATTN_README ?? join(projectRoot, 'README.md');
const SHELL_LANGUAGES = new Set(['', 'sh', 'bash', 'shell', 'console', 'zsh']);
const ATTN_COMMAND = /(^|[|;&(]\s*)(npx\s+)?attn(\s|$)/;
/** Subcommands that serve until stopped: they pass once they print the address they listen on. */
const SERVERS = [/\battn\s+serve\b/, /\battn\s+hub\s+serve\b/, /\battn\s+studio\b/];
const COMMAND_TIMEOUT_MS = 180_000;

/** The shell commands of a Markdown text's shell code blocks that run attn, continuation lines joined. */
function extractCommands(markdown: string): string[] {
  const commands: string[] = [];
  const fence = /^(```+|~~~+)\s*([\w-]*)[^\n]*\n([\s\S]*?)^\1\s*$/gm;
  for (const [, , language, body] of markdown.matchAll(fence)) {
    if (!SHELL_LANGUAGES.has(language!.toLowerCase())) continue;
    const prompted = language === 'console' || /^\s*\$ /m.test(body!);
    const lines = body!.replace(/\\\n\s*/g, '').split('\n');
    for (const raw of lines) {
      const line = raw.trim();
      if (prompted && !line.startsWith('$ ')) continue; // output shown after a prompt line
      const command = line
        .replace(/^\$ /, '')
        .replace(/\s+#.*$/, '')
        .trim();
      if (command !== '' && !command.startsWith('#') && ATTN_COMMAND.test(command)) commands.push(command);
    }
  }
  return commands;
}

/** Why a command cannot run here (a default model it needs is not installed), or undefined. */
function missingDefault(command: string): string | undefined {
  const words = command.slice(command.search(/\battn\s+run\b/)).split(/\s+/);
  if (words[1] !== 'run' || command.includes('--model')) return undefined;
  let parsed;
  try {
    parsed = parseTask(words[2] ?? '');
  } catch {
    return undefined; // a bad task: the command itself will say so, and fail
  }
  const lang = parsed.srcLang
    ? `${parsed.srcLang}-${parsed.tgtLang}`
    : /--lang[ =](\S+)/.exec(command)?.[1]?.replace(/['"]/g, '');
  const name = defaultModelName(parsed.task, lang);
  if (name === undefined || existsSync(join(installedModelsDir, name, 'config.json'))) return undefined;
  return `needs the default model ${join(installedModelsDir, name)}, which is not installed`;
}

/** A folder with `attn` (the CLI from the sources) and an `npx` that runs it for `npx attn`, to put first on PATH. */
function shims(): string {
  const dir = mkdtempSync(join(tmpdir(), 'attn-readme-bin-'));
  const attn = join(dir, 'attn');
  writeFileSync(
    attn,
    `#!/bin/sh\nexec "${process.execPath}" --import "${join(projectRoot, 'test/hub/register-ts.mjs')}" "${join(projectRoot, 'src/cli/main.ts')}" "$@"\n`,
  );
  writeFileSync(
    join(dir, 'npx'),
    `#!/bin/sh\nif [ "$1" = attn ]; then shift; exec "${attn}" "$@"; fi\nPATH="${process.env.PATH}" exec npx "$@"\n`,
  );
  chmodSync(attn, 0o755);
  chmodSync(join(dir, 'npx'), 0o755);
  return dir;
}

interface Outcome {
  code: number | null;
  output: string;
  listening: boolean;
}

/** Runs a command with bash in the project root; a server is stopped once it prints an http:// address. */
function runCommand(command: string, bin: string): Promise<Outcome> {
  const server = SERVERS.some((pattern) => pattern.test(command));
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', command], {
      cwd: projectRoot,
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}`, HF_HUB_OFFLINE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    let listening = false;
    const stop = () => {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // already gone
      }
    };
    const timer = setTimeout(stop, COMMAND_TIMEOUT_MS);
    const collect = (chunk: Buffer) => {
      output += chunk;
      if (server && !listening && /https?:\/\/\S+/.test(output)) {
        listening = true;
        stop();
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output, listening });
    });
  });
}

describe('README.md commands', () => {
  it('finds attn commands in shell code blocks, prompts and continuations handled, TypeScript blocks left alone', () => {
    const markdown = [
      '```bash',
      'npm install',
      'npx attn run sentiment-analysis "I love this movie"   # first result',
      'echo "Ich liebe dich" | npx attn run translation_de_to_en \\',
      '  --json',
      '```',
      '```console',
      '$ attn models',
      'attn output line that is not a command',
      '```',
      '```ts',
      "const attn = await pipeline('sentiment-analysis');",
      '```',
    ].join('\n');
    expect(extractCommands(markdown)).toEqual([
      'npx attn run sentiment-analysis "I love this movie"',
      'echo "Ich liebe dich" | npx attn run translation_de_to_en --json',
      'attn models',
    ]);
  });

  if (!existsSync(README)) {
    it.skip(`runs every attn command of README.md (skipped: ${README} does not exist yet)`, () => {});
    console.warn(`[attn tests] README commands not checked: ${README} does not exist yet`);
    return;
  }
  const commands = extractCommands(readFileSync(README, 'utf8'));
  it('has attn commands to run, the first result among them', () => {
    expect(
      commands.some((c) => /attn run sentiment-analysis/.test(c)),
      `commands found: ${JSON.stringify(commands)}`,
    ).toBe(true);
  });
  const bin = shims();
  for (const command of commands) {
    const why = missingDefault(command);
    if (why !== undefined) {
      it.skip(`$ ${command} (skipped: ${why})`, () => {});
      console.warn(`[attn tests] README command not run: ${command}: ${why}`);
      continue;
    }
    it(`$ ${command}`, { timeout: COMMAND_TIMEOUT_MS + 10_000 }, async () => {
      const { code, output, listening } = await runCommand(command, bin);
      if (SERVERS.some((pattern) => pattern.test(command))) expect(listening, output).toBe(true);
      else expect(code, output).toBe(0);
    });
  }
});
