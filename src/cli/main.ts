#!/usr/bin/env node
/**
 * The `attn` command. Each subcommand lives in `./commands/<name>.ts` and exports
 * `run(argv: string[]): Promise<number>` (the exit code) and `help: string`.
 * Exit codes: 0 success, 1 runtime failure, 2 usage error.
 */
import '../backends/register.js';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { didYouMean } from './args.js';

const COMMANDS: Record<string, string> = {
  run: 'run a pipeline task on text (arguments or standard input)',
  train: 'train a model with the Trainer from a JSON config',
  models: 'list installed and cached models',
  hub: 'hub server and tokens (attn hub serve, attn hub token add)',
  serve: 'serve a model with the OpenAI-compatible API',
  rag: 'index documents and ask questions over them',
  studio: 'open attn studio in the browser',
  export: 'write a model as ONNX for transformers.js (attn export onnx --model M --out DIR)',
  quantize: 'write a model with int8 or 4-bit weights (attn quantize --model M --dtype int8 --out DIR)',
};

interface CommandModule {
  run(argv: string[]): Promise<number>;
  help: string;
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, what]) => `  ${name.padEnd(width)}  ${what}`);
  return `Usage: attn <command> [options]\n\nCommands:\n${lines.join('\n')}\n\nRun 'attn <command> --help' for a command's options.`;
}

/**
 * onnxruntime-node crashes the process (SIGSEGV) once the command line passes about 30,000 characters, so attn
 * refuses long command lines before loading it and points to standard input, which takes text of any length.
 */
const MAX_COMMAND_LINE_CHARS = 16_384;

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const length = argv.reduce((sum, arg) => sum + arg.length, 0);
  if (length > MAX_COMMAND_LINE_CHARS) {
    console.error(
      `attn: the command line is ${length} characters long; attn takes at most ${MAX_COMMAND_LINE_CHARS} ` +
        `(onnxruntime crashes on longer ones). Give long text on standard input, e.g. 'attn run summarization < text.txt'`,
    );
    return 2;
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (!(name in COMMANDS)) {
    console.error(`attn: unknown command '${name}'${didYouMean(name, Object.keys(COMMANDS))}; see 'attn --help'`);
    return 2;
  }
  // .js when built; .ts when the sources run under a TypeScript loader (tests).
  const modulePath = ['js', 'ts']
    .map((ext) => new URL(`./commands/${name}.${ext}`, import.meta.url))
    .find((url) => existsSync(fileURLToPath(url)));
  if (!modulePath) {
    console.error(`attn: command '${name}' is not available in this build`);
    return 1;
  }
  const command = (await import(modulePath.href)) as CommandModule;
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`attn: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
