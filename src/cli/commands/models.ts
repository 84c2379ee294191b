/**
 * `attn models`: the models this machine has — installed with attn (models/ in the package) and downloaded into
 * the Hugging Face cache — with their architecture and the tasks each can run.
 */
import { hubCacheDir } from '../../hub/env.js';
import { cachedModels, installedModels, type ModelEntry } from '../../pipelines/available.js';
import { installedModelsDir } from '../../pipelines/index.js';
import { parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn models [--json]

Lists the models installed with attn (${installedModelsDir}) and those in the Hugging Face cache
($HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub), with their type and the tasks they can run.
Any of them can be passed to 'attn run <task> --model <name>'.

Options:
  --json   one JSON object per model: {"name", "source", "path", "modelType", "tasks", "defaultFor", "bytes"}`;

function megabytes(bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`;
}

function table(title: string, entries: ModelEntry[]): string {
  if (entries.length === 0) return `${title}: none`;
  const width = Math.max(...entries.map((e) => e.name.length));
  const rows = entries.map((e) => {
    const what = e.problem ? `unusable: ${e.problem}` : `${(e.modelType ?? '?').padEnd(10)} ${e.tasks.join(', ')}`;
    const defaults = e.defaultFor.length > 0 ? `  [default: ${e.defaultFor.join(', ')}]` : '';
    return `  ${e.name.padEnd(width)}  ${megabytes(e.bytes).padStart(9)}  ${what}${defaults}`;
  });
  return `${title}:\n${rows.join('\n')}`;
}

export async function run(argv: string[]): Promise<number> {
  let json: boolean | undefined;
  try {
    ({ json } = parseFlags({ args: argv, options: { json: { type: 'boolean' } } }).values);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('models', err));
    return 2;
  }
  const installed = installedModels();
  const cached = cachedModels();
  if (json) {
    for (const entry of [...installed, ...cached]) console.log(JSON.stringify(entry));
    return 0;
  }
  console.log(table(`Installed (${installedModelsDir})`, installed));
  console.log(table(`Cached (${hubCacheDir()})`, cached));
  return 0;
}
