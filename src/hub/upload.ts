/**
 * Commits to a hub repo with the hub's commit API, as huggingface_hub's `create_commit` does:
 * preupload (the hub says which files go through LFS), LFS batch upload of those (skipping objects the hub
 * already has), then one NDJSON commit naming every change, which the hub applies all-or-nothing.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { assertRepoId, assertRepoPath, HubError } from './errors.js';
import {
  errorFromResponse,
  hubConnection,
  hubFetch,
  requestHeaders,
  type HubConnection,
  type HubConnectionOptions,
} from './http.js';

/** A file to add (from bytes or a local path) or a path to delete. */
export type CommitOperation =
  | { kind: 'add'; pathInRepo: string; content: Uint8Array | string }
  | { kind: 'add'; pathInRepo: string; localPath: string }
  | { kind: 'delete'; pathInRepo: string };

type AddOperation = Extract<CommitOperation, { kind: 'add' }>;

export interface CommitOptions extends HubConnectionOptions {
  /** The branch to commit to; default 'main'. */
  revision?: string;
  commitMessage: string;
  commitDescription?: string;
  /** Refuse the commit (Conflict) unless the branch still points at this commit. */
  parentCommit?: string;
}

export interface CommitInfo {
  commitOid: string;
  commitUrl: string;
}

interface PreparedFile {
  operation: AddOperation;
  size: number;
  sha256: string;
  /** The first 512 bytes, base64: the hub looks at them to tell binary files. */
  sample: string;
}

const PREUPLOAD_CHUNK = 256;
const LFS_JSON = 'application/vnd.git-lfs+json';

async function prepare(operation: AddOperation): Promise<PreparedFile> {
  if ('content' in operation) {
    const bytes = typeof operation.content === 'string' ? Buffer.from(operation.content) : operation.content;
    return {
      operation,
      size: bytes.length,
      sha256: createHash('sha256').update(bytes).digest('hex'),
      sample: Buffer.from(bytes.subarray(0, 512)).toString('base64'),
    };
  }
  const hash = createHash('sha256');
  await pipeline(createReadStream(operation.localPath), hash);
  const handle = await open(operation.localPath, 'r');
  try {
    const { size } = await handle.stat();
    const head = Buffer.alloc(Math.min(512, size));
    await handle.read(head, 0, head.length, 0);
    return { operation, size, sha256: hash.digest('hex'), sample: head.toString('base64') };
  } finally {
    await handle.close();
  }
}

async function bytesOf(operation: AddOperation): Promise<Buffer> {
  if ('content' in operation) return Buffer.from(operation.content);
  return readFile(operation.localPath);
}

async function postJson<T>(
  connection: HubConnection,
  url: string,
  body: unknown,
  context: { repoId: string; action: string },
  contentType = 'application/json',
): Promise<T> {
  const response = await hubFetch(connection, url, {
    method: 'POST',
    headers: requestHeaders(connection, url, { 'Content-Type': contentType, Accept: contentType }),
    body: JSON.stringify(body),
  });
  if (!response.ok) throw await errorFromResponse(response, { ...context, endpoint: connection.endpoint });
  return (await response.json()) as T;
}

/** Which files the hub wants through LFS. */
async function lfsPaths(
  connection: HubConnection,
  repoId: string,
  revision: string,
  files: PreparedFile[],
): Promise<Set<string>> {
  const url = `${connection.endpoint}/api/models/${repoId}/preupload/${encodeURIComponent(revision)}`;
  const lfs = new Set<string>();
  for (let start = 0; start < files.length; start += PREUPLOAD_CHUNK) {
    const chunk = files.slice(start, start + PREUPLOAD_CHUNK);
    const answer = await postJson<{ files: { path: string; uploadMode: string }[] }>(
      connection,
      url,
      { files: chunk.map((file) => ({ path: file.operation.pathInRepo, sample: file.sample, size: file.size })) },
      { repoId, action: 'preupload' },
    );
    for (const file of answer.files) if (file.uploadMode === 'lfs') lfs.add(file.path);
  }
  return lfs;
}

interface LfsAction {
  href: string;
  header?: Record<string, string>;
}

interface LfsBatchObject {
  oid: string;
  size: number;
  actions?: { upload?: LfsAction; verify?: LfsAction };
  error?: { code: number; message: string };
}

async function uploadLfsObjects(
  connection: HubConnection,
  repoId: string,
  revision: string,
  files: PreparedFile[],
): Promise<void> {
  if (files.length === 0) return;
  const bySha = new Map(files.map((file) => [file.sha256, file]));
  const batch = await postJson<{ objects: LfsBatchObject[] }>(
    connection,
    `${connection.endpoint}/${repoId}.git/info/lfs/objects/batch`,
    {
      operation: 'upload',
      transfers: ['basic'],
      hash_algo: 'sha256',
      ref: { name: revision },
      objects: [...bySha.values()].map(({ sha256, size }) => ({ oid: sha256, size })),
    },
    { repoId, action: 'LFS batch upload' },
    LFS_JSON,
  );
  for (const object of batch.objects) {
    const file = bySha.get(object.oid);
    const name = `'${file?.operation.pathInRepo ?? object.oid}'`;
    if (object.error !== undefined) {
      throw new HubError(
        object.error.code === 413 ? 'TooLarge' : 'BadRequest',
        `the hub refused to store ${name} of '${repoId}': ${object.error.message}`,
        object.error.code,
      );
    }
    // No actions: the hub already holds this object for the repo.
    const upload = object.actions?.upload;
    if (file === undefined || upload === undefined) continue;
    const body =
      'content' in file.operation
        ? Buffer.from(file.operation.content)
        : Readable.toWeb(createReadStream(file.operation.localPath));
    const response = await hubFetch(connection, upload.href, {
      method: 'PUT',
      headers: requestHeaders(connection, upload.href, { ...upload.header, 'Content-Length': String(file.size) }),
      body: body as RequestInit['body'],
      duplex: 'half',
    } as RequestInit);
    if (!response.ok)
      throw await errorFromResponse(response, { repoId, endpoint: connection.endpoint, action: `uploading ${name}` });
    await response.body?.cancel();
    const verify = object.actions?.verify;
    if (verify !== undefined) {
      const verified = await hubFetch(connection, verify.href, {
        method: 'POST',
        headers: requestHeaders(connection, verify.href, { ...verify.header, 'Content-Type': LFS_JSON }),
        body: JSON.stringify({ oid: object.oid, size: object.size }),
      });
      if (!verified.ok)
        throw await errorFromResponse(verified, { repoId, endpoint: connection.endpoint, action: `verifying ${name}` });
      await verified.body?.cancel();
    }
  }
}

/** Applies `operations` to branch `revision` of `repoId` in one commit. */
export async function commit(
  repoId: string,
  operations: CommitOperation[],
  options: CommitOptions,
): Promise<CommitInfo> {
  assertRepoId(repoId);
  for (const operation of operations) assertRepoPath(operation.pathInRepo);
  const connection = hubConnection(options);
  const revision = options.revision ?? 'main';
  const adds = await Promise.all(operations.filter((op): op is AddOperation => op.kind === 'add').map(prepare));
  const lfs = adds.length === 0 ? new Set<string>() : await lfsPaths(connection, repoId, revision, adds);
  await uploadLfsObjects(
    connection,
    repoId,
    revision,
    adds.filter((file) => lfs.has(file.operation.pathInRepo)),
  );

  const lines: unknown[] = [
    {
      key: 'header',
      value: {
        summary: options.commitMessage,
        description: options.commitDescription ?? '',
        parentCommit: options.parentCommit,
      },
    },
  ];
  for (const file of adds) {
    const path = file.operation.pathInRepo;
    lines.push(
      lfs.has(path)
        ? { key: 'lfsFile', value: { path, algo: 'sha256', oid: file.sha256 } }
        : {
            key: 'file',
            value: { path, encoding: 'base64', content: (await bytesOf(file.operation)).toString('base64') },
          },
    );
  }
  for (const operation of operations)
    if (operation.kind === 'delete') lines.push({ key: 'deletedFile', value: { path: operation.pathInRepo } });

  const url = `${connection.endpoint}/api/models/${repoId}/commit/${encodeURIComponent(revision)}`;
  const response = await hubFetch(connection, url, {
    method: 'POST',
    headers: requestHeaders(connection, url, { 'Content-Type': 'application/x-ndjson' }),
    body: lines.map((line) => JSON.stringify(line)).join('\n') + '\n',
  });
  if (!response.ok)
    throw await errorFromResponse(response, { repoId, endpoint: connection.endpoint, revision, action: 'the commit' });
  const result = (await response.json()) as { commitOid: string; commitUrl: string };
  return { commitOid: result.commitOid, commitUrl: result.commitUrl };
}

/** Files of `folder`, recursively, as repo paths ('/'-separated); dot-files and folders (.git, caches) are left out. */
export async function folderFiles(folder: string): Promise<{ pathInRepo: string; localPath: string }[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  const files = [];
  for (const entry of entries) {
    const localPath = join(entry.parentPath, entry.name);
    const pathInRepo = relative(folder, localPath).split(sep).join('/');
    if (pathInRepo.split('/').some((segment) => segment.startsWith('.'))) continue;
    if ((await stat(localPath)).isFile()) files.push({ pathInRepo, localPath });
  }
  return files.sort((a, b) => a.pathInRepo.localeCompare(b.pathInRepo));
}

/** Uploads local files and/or bytes (keyed by their path in the repo) in one commit. */
export async function uploadFiles(
  repoId: string,
  files: Record<string, string | Uint8Array>,
  options: CommitOptions,
): Promise<CommitInfo> {
  const operations: CommitOperation[] = Object.entries(files).map(([pathInRepo, source]) =>
    typeof source === 'string'
      ? { kind: 'add', pathInRepo, localPath: source }
      : { kind: 'add', pathInRepo, content: source },
  );
  return commit(repoId, operations, options);
}
