/**
 * The Hub page's server side. The browser sends each dropped file here (so it can show upload progress), the files
 * wait in a staging folder, and one commit with attn's hub client sends them all to the hub. Repo creation and
 * browsing are attn's createRepo, modelInfo, listRepoFiles and listRefs. A token typed in the page comes with each
 * request; without one the client reads HF_TOKEN or the saved login, as everywhere in attn.
 */
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import {
  createRepo,
  listRefs,
  listRepoFiles,
  modelInfo,
  type ModelInfo,
  type RepoRefs,
  type TreeEntry,
} from '../hub/api.js';
import { hubToken } from '../hub/env.js';
import { isSafeRepoPath } from '../hub/errors.js';
import { folderFiles, uploadFiles, type CommitInfo } from '../hub/upload.js';
import { StudioRequestError } from './http.js';

/** Upload sessions are named by the page (a random id); anything else could escape the staging folder. */
const SESSION_ID = /^[A-Za-z0-9-]{8,64}$/;

/** Licenses offered when creating a repo: the Hugging Face Hub's ids for the common ones. */
export const LICENSES = [
  'apache-2.0',
  'mit',
  'bsd-3-clause',
  'cc-by-4.0',
  'cc-by-sa-4.0',
  'cc-by-nc-4.0',
  'cc0-1.0',
  'gpl-3.0',
  'llama2',
  'openrail',
  'other',
] as const;

export interface RepoView {
  info: ModelInfo;
  files: TreeEntry[];
  refs: RepoRefs;
}

export interface HubStatus {
  endpoint: string;
  reachable: boolean;
  /** Whether HF_TOKEN (or a saved login) gives a token when the page types none. */
  tokenFromEnvironment: boolean;
  licenses: readonly string[];
  /** Why the hub could not be reached, when it could not. */
  problem?: string;
}

/** Default largest uploaded file: model weights of a few hundred million parameters, not a full disk. */
export const DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024 ** 3;

export class HubDesk {
  private stagingRoot: Promise<string> | undefined;

  constructor(
    readonly endpoint: string,
    readonly maxUploadBytes = DEFAULT_MAX_UPLOAD_BYTES,
  ) {}

  private connection(token: string | undefined) {
    return { endpoint: this.endpoint, token };
  }

  /** Whether anything answers at the endpoint (any HTTP status will do), for a clear message before the first action. */
  async status(): Promise<HubStatus> {
    const status: HubStatus = {
      endpoint: this.endpoint,
      reachable: true,
      tokenFromEnvironment: hubToken() !== undefined,
      licenses: LICENSES,
    };
    try {
      const response = await fetch(this.endpoint, { method: 'HEAD', signal: AbortSignal.timeout(5000) });
      await response.body?.cancel();
    } catch (err) {
      const cause = ((err as Error).cause as Error | undefined)?.message ?? (err as Error).message;
      status.reachable = false;
      status.problem = `cannot reach the hub at ${this.endpoint} (${cause}); start one with 'attn hub serve' or give another with 'attn studio --hub URL'`;
    }
    return status;
  }

  /** Creates `name` ('namespace/name', or 'name' in the token owner's namespace); returns the full repo id. */
  async createRepo(
    name: string,
    license: string,
    isPrivate: boolean,
    token: string | undefined,
  ): Promise<{ repoId: string; url: string }> {
    if (!(LICENSES as readonly string[]).includes(license))
      throw new StudioRequestError(`license '${license}' is not one of ${LICENSES.join(', ')}`);
    const { url } = await createRepo(name, { ...this.connection(token), license, private: isPrivate });
    return { repoId: decodeURIComponent(new URL(url).pathname.replace(/^\/+/, '')), url };
  }

  private async sessionDir(session: string): Promise<string> {
    if (!SESSION_ID.test(session))
      throw new StudioRequestError(`upload session '${session}' must be 8 to 64 letters, digits or '-'`);
    this.stagingRoot ??= mkdtemp(join(tmpdir(), 'attn-studio-uploads-'));
    return join(await this.stagingRoot, session);
  }

  /**
   * Streams one file of an upload session into the staging folder, up to `maxUploadBytes`. A path that clashes with
   * a staged file ('a' then 'a/b', or the reverse) is the page's mistake (409), not the server's.
   */
  async stageFile(session: string, pathInRepo: string, body: IncomingMessage): Promise<void> {
    if (!isSafeRepoPath(pathInRepo))
      throw new StudioRequestError(
        `file path '${pathInRepo}' is not a relative repo path without '.' or '..' segments`,
      );
    const limit = this.maxUploadBytes;
    const tooLarge = () =>
      new StudioRequestError(
        `'${pathInRepo}' is larger than the upload limit of ${limit} bytes (attn studio --max-upload-mb)`,
        413,
      );
    if (Number(body.headers['content-length'] ?? 0) > limit) throw tooLarge();
    const target = join(await this.sessionDir(session), pathInRepo);
    let size = 0;
    try {
      await mkdir(dirname(target), { recursive: true });
      await pipeline(
        body,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            size += chunk.length;
            if (size > limit) throw tooLarge();
            yield chunk;
          }
        },
        createWriteStream(target),
      );
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR') {
        throw new StudioRequestError(
          `'${pathInRepo}' clashes with a file or folder already staged for this commit (a path cannot be both)`,
          409,
        );
      }
      if (err instanceof StudioRequestError) await rm(target, { force: true });
      throw err;
    }
  }

  /** Commits every staged file of `session` to `repoId` in one commit, then forgets them. */
  async commitSession(
    repoId: string,
    session: string,
    message: string,
    token: string | undefined,
    revision = 'main',
  ): Promise<CommitInfo & { files: string[] }> {
    const dir = await this.sessionDir(session);
    const files = await folderFiles(dir).catch(() => []);
    if (files.length === 0)
      throw new StudioRequestError('no files were uploaded for this commit; drop some files first');
    const result = await uploadFiles(repoId, Object.fromEntries(files.map((f) => [f.pathInRepo, f.localPath])), {
      ...this.connection(token),
      commitMessage: message,
      revision,
    });
    await rm(dir, { recursive: true, force: true });
    return { ...result, files: files.map((f) => f.pathInRepo) };
  }

  /** The repo at `revision`: its info, every file, and its branches and tags. */
  async browse(repoId: string, revision: string | undefined, token: string | undefined): Promise<RepoView> {
    const options = { ...this.connection(token), revision };
    const [info, files, refs] = await Promise.all([
      modelInfo(repoId, options),
      listRepoFiles(repoId, options),
      listRefs(repoId, this.connection(token)),
    ]);
    return { info, files: files.filter((f) => f.type === 'file'), refs };
  }

  async dispose(): Promise<void> {
    if (this.stagingRoot !== undefined) await rm(await this.stagingRoot, { recursive: true, force: true });
  }
}
