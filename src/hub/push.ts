/**
 * pushToHub: a saved model folder to a hub repo in one commit, with a model card. `model.pushToHub(name, ...)`
 * is this after `savePretrained` into a temporary folder.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createRepo, modelInfo } from './api.js';
import { cardBody, modelCard, parseCardData, type ModelCardData } from './card.js';
import type { HubConnectionOptions } from './http.js';
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
  const architecture = (JSON.parse(await readFile(configPath, 'utf8')) as { architectures?: string[] }).architectures?.[0];
  return architecture === undefined ? undefined : PIPELINE_TAGS.find(([pattern]) => pattern.test(architecture))?.[1];
}

/**
 * The card for `folder`: the metadata already on the hub (a license set at creation stays), then the
 * folder's README's metadata and text if it has one, then `options`,
 * with `library_name: attn` and a pipeline tag read from config.json when not given.
 */
async function cardFor(folder: string, repoId: string, options: PushToHubOptions, onHub: ModelCardData | undefined): Promise<string> {
  const readmePath = join(folder, 'README.md');
  const existing = existsSync(readmePath) ? await readFile(readmePath, 'utf8') : undefined;
  const data: ModelCardData = {
    license: options.license,
    pipeline_tag: await pipelineTagOf(folder),
    library_name: 'attn',
    ...onHub,
    ...(existing === undefined ? {} : parseCardData(existing, readmePath)),
    ...options.cardData,
  };
  if (options.license !== undefined) data.license = options.license;
  return modelCard(repoId, data, options.cardBody ?? (existing === undefined ? undefined : cardBody(existing)));
}

export async function pushToHub(folder: string, repoId: string, options: PushToHubOptions = {}): Promise<PushResult> {
  const files = await folderFiles(folder);
  if (files.length === 0) throw new Error(`pushToHub: ${folder} holds no files to push`);
  const { url: repoUrl } = await createRepo(repoId, { ...options, existOk: true });
  const onHub = (await modelInfo(repoId, { ...options, revision: options.revision ?? 'main' })).cardData;
  const operations: CommitOperation[] = files
    .filter((file) => file.pathInRepo !== 'README.md')
    .map((file) => ({ kind: 'add', ...file }));
  operations.push({ kind: 'add', pathInRepo: 'README.md', content: await cardFor(folder, repoId, options, onHub) });
  const result = await commit(repoId, operations, { ...options, commitMessage: options.commitMessage ?? 'Upload model with attn' });
  return { ...result, repoUrl };
}
