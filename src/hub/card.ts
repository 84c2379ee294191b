/**
 * Model cards: README.md with YAML front matter, the metadata the hub indexes (license, pipeline_tag, model-index,
 * widget, ...). Written here for pushToHub and read back for the server's `cardData`, through a YAML library, so
 * nested metadata (`model-index` results, `widget` examples) survives a push unchanged.
 */
import { parse, stringify } from 'yaml';

export interface ModelCardData {
  license?: string;
  pipeline_tag?: string;
  library_name?: string;
  base_model?: string | string[];
  datasets?: string[];
  metrics?: string[];
  language?: string | string[];
  tags?: string[];
  [key: string]: unknown;
}

const FRONT_MATTER = /^---\r?\n(?:([\s\S]*?)\r?\n)?---(?:\r?\n|$)/;

export class ModelCardError extends Error {}

/** `---`, the metadata as YAML (undefined values and empty lists left out), `---`. */
export function cardFrontMatter(data: ModelCardData): string {
  const kept = Object.fromEntries(
    Object.entries(data).filter(([, v]) => v !== undefined && !(Array.isArray(v) && v.length === 0)),
  );
  if (Object.keys(kept).length === 0) return '---\n---\n';
  // As huggingface_hub (PyYAML) writes them: long strings on one line, list items level with their key.
  return `---\n${stringify(kept, { lineWidth: 0, indentSeq: false })}---\n`;
}

/** README.md: front matter, then `body` (default: a title and how to load the model with attn). */
export function modelCard(repoId: string, data: ModelCardData, body?: string): string {
  const text =
    body ??
    `# ${repoId}\n\n` +
      `${data.base_model === undefined ? '' : `Fine-tuned from \`${[data.base_model].flat().join('`, `')}\`.\n\n`}` +
      `Load it with attn by its name: \`fromPretrained('${repoId}')\`.\n`;
  return `${cardFrontMatter(data)}\n${text}`;
}

/**
 * The front matter's metadata, or undefined when there is none. Malformed YAML (or YAML that is not a mapping) is
 * an error naming `source` when one is given (a card about to be pushed); without one it reads as no metadata, as
 * the hub treats it.
 */
export function parseCardData(readme: string, source?: string): ModelCardData | undefined {
  const match = FRONT_MATTER.exec(readme);
  if (match === null) return undefined;
  let value: unknown;
  try {
    value = parse(match[1] ?? '');
  } catch (err) {
    if (source === undefined) return undefined;
    throw new ModelCardError(
      `${source}: the YAML front matter cannot be read (${(err as Error).message.split('\n')[0]})`,
    );
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    if (source === undefined) return undefined;
    throw new ModelCardError(
      `${source}: the YAML front matter is ${Array.isArray(value) ? 'a list' : typeof value}; expected a mapping of metadata`,
    );
  }
  return value as ModelCardData;
}

/** The card's text below the front matter. */
export function cardBody(readme: string): string {
  return readme.replace(FRONT_MATTER, '').replace(/^\r?\n/, '');
}
