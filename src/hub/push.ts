/**
 * pushToHub: a saved model folder to a hub repo in one commit, with a model card. `model.pushToHub(name, ...)`
 * and `tokenizer.pushToHub(name, ...)` are this after `savePretrained` into a temporary folder.
 */
import { existsSync } from 'node:fs';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_MODEL_FILES } from './resolve.js';
import { createRepo } from './api.js';
import { cardBody, modelCard, parseCardData, type ModelCardData } from './card.js';
import { resolveUrl } from './download.js';
import { errorFromResponse, hubConnection, hubFetch, requestHeaders, type HubConnectionOptions } from './http.js';
import { commit, folderFiles, type CommitInfo, type CommitOperation } from './upload.js';

export interface PushToHubOptions extends HubConnectionOptions {
  /** SPDX-style license id written into the card ('apache-2.0', 'mit', ...). */
  license?: string;
  commitMessage?: string;
  commitDescription?: string;
  /** Card metadata beyond the license (pipeline_tag, base_model, datasets, metrics, ...). */
  cardData?: ModelCardData;
  /** Markdown below the front matter; default: the README.md in the folder, else a short generated text. */
  cardBody?: string;
  /** Create the repo private (only when it does not exist yet). */
  private?: boolean;
  /** Branch to commit to; default 'main'. */
  revision?: string;
}

export interface PushResult extends CommitInfo {
  repoUrl: string;
}

/** Task names the hub uses, from the head class a config's `architectures` names. */
const PIPELINE_TAGS: [RegExp, string][] = [
  [/ForSequenceClassification$/, 'text-classification'],
  [/ForTokenClassification$/, 'token-classification'],
  [/ForQuestionAnswering$/, 'question-answering'],
  [/ForMaskedLM$/, 'fill-mask'],
  [/ForCausalLM$|LMHeadModel$/, 'text-generation'],
  [/ForConditionalGeneration$|MTModel$/, 'text2text-generation'],
  [/Model$/, 'feature-extraction'],
];

async function pipelineTagOf(folder: string): Promise<string | undefined> {
  const configPath = join(folder, 'config.json');
  if (!existsSync(configPath)) return undefined;
  const architecture = (JSON.parse(await readFile(configPath, 'utf8')) as { architectures?: string[] })
    .architectures?.[0];
  return architecture === undefined ? undefined : PIPELINE_TAGS.find(([pattern]) => pattern.test(architecture))?.[1];
}

/** The README.md the repo has at the revision pushed to, or undefined when it has none yet. */
async function readmeOnHub(repoId: string, options: PushToHubOptions): Promise<string | undefined> {
  const connection = hubConnection(options);
  const revision = options.revision ?? 'main';
  const url = resolveUrl(connection.endpoint, repoId, revision, 'README.md');
  const response = await hubFetch(connection, url, { headers: requestHeaders(connection, url) });
  if (response.status === 404) return undefined;
  if (!response.ok)
    throw await errorFromResponse(response, {
      repoId,
      endpoint: connection.endpoint,
      revision,
      path: 'README.md',
      action: 'download',
    });
  return response.text();
}

/**
 * The card for `folder`: the card already on the hub (its metadata, nested entries included, and its text), then
 * the folder's README's metadata and text if it has one, then `options`, with `library_name: attn` and a
 * pipeline tag read from config.json when not given. A push of new weights thus keeps a hand-written card.
 */
async function cardFor(
  folder: string,
  repoId: string,
  options: PushToHubOptions,
  onHub: string | undefined,
): Promise<string> {
  const readmePath = join(folder, 'README.md');
  const existing = existsSync(readmePath) ? await readFile(readmePath, 'utf8') : undefined;
  const data: ModelCardData = {
    license: options.license,
    pipeline_tag: await pipelineTagOf(folder),
    library_name: 'attn',
    ...(onHub === undefined ? {} : parseCardData(onHub)),
    ...(existing === undefined ? {} : parseCardData(existing, readmePath)),
    ...options.cardData,
  };
  if (options.license !== undefined) data.license = options.license;
  const body = existing ?? onHub;
  return modelCard(repoId, data, options.cardBody ?? (body === undefined ? undefined : cardBody(body)));
}

/** The files beside a model's config and weights that its tokenizer and pipelines read (vocabularies, chat template). */
export const TOKENIZER_FILES: readonly string[] = DEFAULT_MODEL_FILES.filter(
  (file) =>
    file !== 'config.json' &&
    file !== 'generation_config.json' &&
    !file.startsWith('model.safetensors') &&
    file !== 'ngram_head.safetensors', // weights, named by config.json: attn quantize copies it with its entry
);

/** Copies the tokenizer files `from` holds into `to` (as they are: a hub snapshot's links become plain files). */
export async function copyTokenizerFiles(from: string, to: string): Promise<void> {
  for (const file of TOKENIZER_FILES)
    if (existsSync(join(from, file))) await copyFile(join(from, file), join(to, file));
}

/** Writes what `save` writes into a temporary folder and pushes that folder; the folder is removed afterwards. */
export async function pushSaved(
  repoId: string,
  save: (dir: string) => Promise<void>,
  options: PushToHubOptions = {},
): Promise<PushResult> {
  const dir = await mkdtemp(join(tmpdir(), 'attn-push-'));
  try {
    await save(dir);
    return await pushToHub(dir, repoId, options);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function pushToHub(folder: string, repoId: string, options: PushToHubOptions = {}): Promise<PushResult> {
  const files = await folderFiles(folder);
  if (files.length === 0) throw new Error(`pushToHub: ${folder} holds no files to push`);
  const { url: repoUrl } = await createRepo(repoId, { ...options, existOk: true });
  const onHub = await readmeOnHub(repoId, options);
  const operations: CommitOperation[] = files
    .filter((file) => file.pathInRepo !== 'README.md')
    .map((file) => ({ kind: 'add', ...file }));
  operations.push({ kind: 'add', pathInRepo: 'README.md', content: await cardFor(folder, repoId, options, onHub) });
  const result = await commit(repoId, operations, {
    ...options,
    commitMessage: options.commitMessage ?? 'Upload model with attn',
  });
  return { ...result, repoUrl };
}
