/**
 * Model cards: README.md with YAML front matter, the metadata the hub indexes (license, pipeline_tag, ...).
 * Written here for pushToHub; read back (top-level scalars and lists only) for the server's `cardData`.
 */

export interface ModelCardData {
  license?: string;
  pipeline_tag?: string;
  library_name?: string;
  base_model?: string | string[];
  datasets?: string[];
  metrics?: string[];
  language?: string | string[];
  tags?: string[];
  [key: string]: string | string[] | undefined;
}

const PLAIN_SCALAR = /^[A-Za-z0-9][A-Za-z0-9._/+-]*$/;

/** Plain when YAML reads it back as the same string; otherwise a JSON string, which YAML reads as double-quoted. */
function yamlScalar(value: string): string {
  return PLAIN_SCALAR.test(value) && !/^(true|false|yes|no|on|off|null|~|[0-9.+-]+)$/i.test(value) ? value : JSON.stringify(value);
}

export function cardFrontMatter(data: ModelCardData): string {
  const lines: string[] = [];
  for (const [key, value] of Object.entries(data)) {
    if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(key)) throw new Error(`model card: invalid metadata key '${key}'`);
    if (Array.isArray(value)) lines.push(`${key}:`, ...value.map((item) => `- ${yamlScalar(item)}`));
    else lines.push(`${key}: ${yamlScalar(value)}`);
  }
  return `---\n${lines.join('\n')}\n---\n`;
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

function unquote(value: string): string {
  const trimmed = value.trim();
  if (trimmed.startsWith('"')) {
    try {
      return JSON.parse(trimmed) as string;
    } catch {
      return trimmed;
    }
  }
  return trimmed.startsWith("'") && trimmed.endsWith("'") ? trimmed.slice(1, -1).replaceAll("''", "'") : trimmed;
}

/** The front matter's top-level `key: value` and `key:` + `- item` entries; keys holding maps are left out. */
export function parseCardData(readme: string): ModelCardData | undefined {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?/.exec(readme);
  if (match === null) return undefined;
  const data: ModelCardData = {};
  const nested = new Set<string>();
  let blockKey: string | undefined;
  for (const line of match[1]!.split(/\r?\n/)) {
    const entry = /^([A-Za-z_][A-Za-z0-9_-]*):\s*(.*)$/.exec(line);
    const item = /^\s*- (.*)$/.exec(line);
    if (entry !== null) {
      blockKey = entry[2] === '' ? entry[1] : undefined;
      data[entry[1]!] = entry[2] === '' ? [] : unquote(entry[2]!);
    } else if (blockKey !== undefined && item !== null && !/^[A-Za-z_][\w-]*:(\s|$)/.test(item[1]!)) {
      (data[blockKey] as string[]).push(unquote(item[1]!));
    } else if (blockKey !== undefined && line.trim() !== '') {
      nested.add(blockKey);
    }
  }
  for (const key of nested) delete data[key];
  return data;
}
