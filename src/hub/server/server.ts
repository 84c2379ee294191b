/**
 * `attn hub serve`: a hub speaking the Hugging Face Hub's HTTP API, as far as attn's client (and
 * huggingface_hub's download and upload paths) use it. node:http only; storage in ./storage.ts.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { discardBody } from '../../util/discard-body.js';
import { decodeUrlComponent, MALFORMED_URL_MESSAGE, parseRequestUrl } from '../../util/request-url.js';
import { cardFrontMatter, parseCardData } from '../card.js';
import { HubError, isSafeRepoPath, isValidRepoId } from '../errors.js';
import { TokenStore, canRead, canWrite, type Caller } from './auth.js';
import {
  HubStorage,
  assertBranchName,
  fileEntry,
  gitBlobOid,
  lfsPointer,
  type CommitChanges,
  type CommitRecord,
  type FileEntry,
  type RepoRecord,
} from './storage.js';

export interface HubServerOptions {
  dataDir: string;
  port?: number;
  host?: string;
  /** Largest accepted file (LFS object or inline file) and commit request, in bytes. Default 5 GiB. */
  maxUploadBytes?: number;
  /**
   * The URL clients reach this server at (behind a reverse proxy). Without it, signed URLs are built from the
   * request's Host header, which is then only accepted when it names this machine's loopback or listen address.
   */
  publicUrl?: string;
  /**
   * A connection that sends or takes no byte for this long is closed. Default 60 s. There is no limit on a
   * request's total time: a large upload over a slow link may take hours as long as bytes keep coming.
   */
  idleTimeoutMs?: number;
  /** Refuse anonymous requests, even to public repos. */
  requireToken?: boolean;
  /** One line per request on stdout: method, path (no query: it may hold signatures), status. */
  log?: boolean;
}

export interface RunningHubServer {
  url: string;
  server: Server;
  close(): Promise<void>;
}

const JSON_BODY_LIMIT = 1 << 20;
const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/** Files above this size, or binary ones, go through LFS (the hub's own rule). */
const LFS_THRESHOLD = 10 * 1024 * 1024;
const LFS_EXTENSIONS = [
  'safetensors',
  'bin',
  'onnx',
  'pt',
  'pth',
  'ckpt',
  'h5',
  'msgpack',
  'gguf',
  'model',
  'npy',
  'npz',
  'zip',
  'gz',
  'tar',
  'zst',
  'parquet',
  'arrow',
];
const BINARY_EXTENSIONS = new RegExp(`\\.(${LFS_EXTENSIONS.join('|')})$`, 'i');
const SIGNED_URL_SECONDS = 3600;
/** The first commit's .gitattributes: what git clients need to see these files as LFS. */
const GITATTRIBUTES = LFS_EXTENSIONS.map((ext) => `*.${ext} filter=lfs diff=lfs merge=lfs -text\n`).join('');
/**
 * The longest commit line: a file the preupload answer sends inline (at most LFS_THRESHOLD bytes), in base64, with
 * room for its JSON. Larger lines are refused as they arrive, so one line cannot fill the memory.
 */
const MAX_COMMIT_LINE = Math.ceil((LFS_THRESHOLD * 4) / 3) + 64 * 1024;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];
const WILDCARD_HOSTS = ['0.0.0.0', '::', '[::]'];

type Handler = () => Promise<void>;

interface HubRequest {
  req: IncomingMessage;
  res: ServerResponse;
  caller: Caller | undefined;
  /** Path segments, percent-decoded one by one (a decoded '/' never splits a segment). */
  segments: string[];
  query: URLSearchParams;
  baseUrl: string;
}

function statusOf(error: HubError): number {
  if (error.status !== undefined) return error.status;
  const byCode: Partial<Record<HubError['code'], number>> = {
    RepoNotFound: 404,
    RevisionNotFound: 404,
    EntryNotFound: 404,
    Unauthorized: 401,
    Forbidden: 403,
    Conflict: 409,
    TooLarge: 413,
    BadRequest: 400,
  };
  return byCode[error.code] ?? 500;
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, error: HubError): void {
  const headers: Record<string, string> = {
    'X-Error-Code': error.code,
    'X-Error-Message': error.message.replace(/[^\x20-\x7e]/g, '?'),
  };
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, statusOf(error), { error: error.message }, headers);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit)
    throw new HubError('TooLarge', `request body of ${declared} bytes exceeds the limit of ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HubError('TooLarge', `request body exceeds the limit of ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

type JsonObject = Record<string, unknown>;

function isJsonObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON object body; an empty body is `{}` when `emptyIsObject` (optional bodies). */
async function readJsonObject(req: IncomingMessage, emptyIsObject = false): Promise<JsonObject> {
  const body = await readBody(req, JSON_BODY_LIMIT);
  if (emptyIsObject && body.length === 0) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new HubError('BadRequest', 'request body is not valid JSON');
  }
  if (!isJsonObject(parsed))
    throw new HubError('BadRequest', `request body must be a JSON object, got ${JSON.stringify(parsed)?.slice(0, 40)}`);
  return parsed;
}

/** An optional string field: absent is undefined, anything but a string is the caller's mistake. */
function optionalString(object: JsonObject, field: string, where: string): string | undefined {
  const value = object[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new HubError('BadRequest', `${where}: field '${field}' must be a string`);
  return value;
}

/** NDJSON objects one by one as the body streams in, so that inline files are stored as they arrive. */
async function* ndjsonLines(req: IncomingMessage, limit: number): AsyncGenerator<unknown> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let total = 0;
  const parse = (line: Buffer): unknown => {
    try {
      return JSON.parse(line.toString('utf8'));
    } catch {
      throw new HubError('BadRequest', `commit body line is not JSON: ${line.subarray(0, 80).toString('utf8')}`);
    }
  };
  for await (const chunk of req as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > limit) throw new HubError('TooLarge', `commit body exceeds the limit of ${limit} bytes`);
    let start = 0;
    for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
      pending.push(chunk.subarray(start, newline));
      const line = Buffer.concat(pending);
      pending = [];
      pendingBytes = 0;
      start = newline + 1;
      if (line.length > MAX_COMMIT_LINE) throw lineTooLong();
      if (line.length > 0) yield parse(line);
    }
    if (start < chunk.length) {
      pending.push(chunk.subarray(start));
      pendingBytes += chunk.length - start;
      if (pendingBytes > MAX_COMMIT_LINE) throw lineTooLong();
    }
  }
  const last = Buffer.concat(pending);
  if (last.length > 0) yield parse(last);
}

function lineTooLong(): HubError {
  return new HubError(
    'TooLarge',
    `a commit line is over ${MAX_COMMIT_LINE} bytes: files over ${LFS_THRESHOLD} bytes must be uploaded through LFS ` +
      '(the preupload answer says which)',
  );
}

function requirePath(path: unknown, what: string): string {
  if (typeof path !== 'string' || !isSafeRepoPath(path)) {
    throw new HubError(
      'BadRequest',
      `invalid ${what} ${JSON.stringify(path)}: expected a relative path without '.' or '..' segments`,
    );
  }
  return path;
}

export class HubServer {
  readonly storage: HubStorage;
  private readonly tokens: TokenStore;
  private readonly maxUploadBytes: number;
  private secret = Buffer.alloc(0);

  constructor(private readonly options: HubServerOptions) {
    this.storage = new HubStorage(options.dataDir);
    this.tokens = new TokenStore(options.dataDir);
    this.maxUploadBytes = options.maxUploadBytes ?? 5 * 1024 ** 3;
  }

  async open(): Promise<void> {
    await mkdir(this.options.dataDir, { recursive: true });
    await this.storage.open();
    const secretPath = join(this.options.dataDir, 'secret');
    try {
      writeFileSync(secretPath, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    this.secret = Buffer.from(readFileSync(secretPath, 'utf8').trim(), 'hex');
  }

  // ---- authorisation -------------------------------------------------------------------------------

  private authenticate(req: IncomingMessage): Caller | undefined {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    const caller = token === undefined ? undefined : this.tokens.lookup(token);
    if (caller === undefined) throw new HubError('Unauthorized', 'invalid or unknown token');
    return caller;
  }

  /** The repo if the caller may see it; missing and invisible repos answer alike, so private names do not leak. */
  private readableRepo(caller: Caller | undefined, repoId: string): RepoRecord {
    const repo = isValidRepoId(repoId) ? this.storage.repo(repoId) : undefined;
    if (repo === undefined || !canRead(caller, repo))
      throw new HubError('RepoNotFound', `repository '${repoId}' not found`);
    return repo;
  }

  private requireWriter(caller: Caller | undefined): Caller {
    if (caller === undefined)
      throw new HubError('Unauthorized', 'writing needs a token: send Authorization: Bearer <token>');
    if (caller.role !== 'write') throw new HubError('Forbidden', `the token of '${caller.user}' is read-only`);
    return caller;
  }

  private writableRepo(caller: Caller | undefined, repoId: string): RepoRecord {
    const writer = this.requireWriter(caller);
    const repo = this.readableRepo(writer, repoId);
    if (!canWrite(writer, repo.namespace))
      throw new HubError('Forbidden', `'${writer.user}' may not write to '${repoId}'`);
    return repo;
  }

  private revision(repoId: string, revision: string): CommitRecord {
    const commit = this.storage.resolveRevision(repoId, revision);
    if (commit === undefined) throw new HubError('RevisionNotFound', `revision '${revision}' not found in '${repoId}'`);
    return commit;
  }

  // ---- signed object URLs (what the hub's CDN and LFS storage URLs are: no token needed) -----------

  private signature(purpose: string, scope: string, size: number, expires: number): string {
    return createHmac('sha256', this.secret).update(`${purpose}\n${scope}\n${size}\n${expires}`).digest('hex');
  }

  private signedUrl(
    baseUrl: string,
    purpose: 'objects' | 'upload' | 'verify',
    oid: string,
    size: number,
    repoId = '',
  ): string {
    const expires = Math.floor(Date.now() / 1000) + SIGNED_URL_SECONDS;
    const query = new URLSearchParams({ size: String(size), expires: String(expires), repo: repoId });
    query.set('signature', this.signature(purpose, `${repoId}:${oid}`, size, expires));
    return `${baseUrl}/lfs/${purpose}/${oid}?${query}`;
  }

  private checkSignature(request: HubRequest, purpose: string, oid: string): { size: number; repoId: string } {
    const { query } = request;
    const size = Number(query.get('size'));
    const expires = Number(query.get('expires'));
    const repoId = query.get('repo') ?? '';
    const given = Buffer.from(query.get('signature') ?? '', 'hex');
    const expected = Buffer.from(this.signature(purpose, `${repoId}:${oid}`, size, expires), 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      throw new HubError('Forbidden', 'invalid URL signature');
    if (expires < Date.now() / 1000)
      throw new HubError('Forbidden', 'the signed URL has expired: resolve the file again');
    return { size, repoId };
  }

  // ---- reading -------------------------------------------------------------------------------------

  /**
   * Sends an object, honouring `Range: bytes=a-b` (resumed downloads). An object missing or damaged on disk (disk
   * trouble, a manual clean-up) answers this request with a logged 500; a read failing midway cuts this response.
   */
  private serveObject(
    request: HubRequest,
    sha256: string,
    size: number,
    headers: Record<string, string>,
    what: string,
  ): void {
    const { req, res } = request;
    const objectPath = this.storage.objectPath(sha256);
    const stored = statSync(objectPath, { throwIfNoEntry: false });
    if (stored?.isFile() !== true || stored.size !== size) {
      const found = stored === undefined ? 'missing' : stored.isFile() ? `${stored.size} bytes` : 'not a file';
      throw new HubError(
        'Http',
        `${what}: its object ${sha256} is missing or damaged on the server's disk (${size} bytes expected, ${found})`,
        500,
      );
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range !== null) {
      start = Number(range[1]);
      end = range[2] === '' ? size - 1 : Math.min(Number(range[2]), size - 1);
      if (start >= size || start > end) {
        res.writeHead(416, { 'Content-Range': `bytes */${size}`, ...headers });
        res.end();
        return;
      }
      status = 206;
      headers = { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` };
    }
    res.writeHead(status, {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ...headers,
    });
    if (req.method === 'HEAD' || size === 0) {
      res.end();
      return;
    }
    createReadStream(objectPath, { start, end })
      .on('error', (err) => {
        console.error(`attn hub: ${what}: reading object ${sha256} failed: ${err.message}`);
        res.destroy();
      })
      .pipe(res);
  }

  /**
   * `/resolve/`: a file's content (an LFS file by redirect to its object). `/raw/` (`raw` true), as the Hub: the
   * file as git stores it, so an LFS file is its pointer text; clients such as `@huggingface/hub`'s `fileExists`
   * ask it with HEAD.
   */
  private async resolveFile(
    request: HubRequest,
    repoId: string,
    revision: string,
    path: string,
    raw = false,
  ): Promise<void> {
    this.readableRepo(request.caller, repoId);
    const commit = this.revision(repoId, revision);
    const entry = fileEntry(commit, requirePath(path, 'file path'));
    if (entry === undefined) {
      throw new HubError('EntryNotFound', `file '${path}' not found in '${repoId}' at '${revision}'`);
    }
    const headers = { 'X-Repo-Commit': commit.id, ETag: `"${entry.gitOid}"` };
    if (raw && entry.lfs) {
      const pointer = `version https://git-lfs.github.com/spec/v1\noid sha256:${entry.sha256}\nsize ${entry.size}\n`;
      request.res.writeHead(200, {
        ...headers,
        'Content-Type': 'text/plain; charset=utf-8',
        'Content-Length': String(Buffer.byteLength(pointer)),
      });
      request.res.end(request.req.method === 'HEAD' ? undefined : pointer);
      return;
    }
    if (!entry.lfs) {
      this.serveObject(request, entry.sha256, entry.size, headers, `file '${path}' of '${repoId}'`);
      return;
    }
    request.res.writeHead(302, {
      ...headers,
      Location: this.signedUrl(request.baseUrl, 'objects', entry.sha256, entry.size),
      'X-Linked-Etag': `"${entry.sha256}"`,
      'X-Linked-Size': String(entry.size),
      'Content-Length': '0',
    });
    request.res.end();
  }

  private modelInfo(repo: RepoRecord, commit: CommitRecord, baseUrl: string): Record<string, unknown> {
    const readme = fileEntry(commit, 'README.md');
    const cardData =
      readme === undefined || readme.size > JSON_BODY_LIMIT
        ? undefined
        : parseCardData(readFileSync(this.storage.objectPath(readme.sha256), 'utf8'));
    return {
      _id: repo.id,
      id: repo.id,
      modelId: repo.id,
      author: repo.namespace,
      sha: commit.id,
      private: repo.private,
      createdAt: repo.createdAt,
      lastModified: commit.date,
      url: `${baseUrl}/${repo.id}`,
      library_name: cardData?.library_name,
      pipeline_tag: cardData?.pipeline_tag,
      cardData,
      siblings: Object.entries(commit.files)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([rfilename, entry]) => ({ rfilename, size: entry.size })),
    };
  }

  private tree(commit: CommitRecord, folder: string, recursive: boolean): Record<string, unknown>[] {
    const prefix = folder === '' ? '' : `${folder}/`;
    const entries = new Map<string, Record<string, unknown>>();
    for (const [path, entry] of Object.entries(commit.files).sort(([a], [b]) => a.localeCompare(b))) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length).split('/');
      if (rest.length > 1 && !recursive) {
        const dir = prefix + rest[0];
        entries.set(dir, { type: 'directory', oid: '', size: 0, path: dir });
        continue;
      }
      entries.set(path, {
        type: 'file',
        oid: entry.gitOid,
        size: entry.size,
        path,
        ...(entry.lfs
          ? { lfs: { oid: entry.sha256, size: entry.size, pointerSize: lfsPointer(entry.sha256, entry.size).length } }
          : {}),
      });
    }
    if (folder !== '' && entries.size === 0) throw new HubError('EntryNotFound', `folder '${folder}' not found`);
    return [...entries.values()];
  }

  // ---- writing -------------------------------------------------------------------------------------

  private async storeInline(content: Buffer): Promise<FileEntry> {
    const { sha256, size } = await this.storage.storeObject(Readable.from([content]), {
      maxBytes: this.maxUploadBytes,
    });
    return { sha256, size, lfs: false, gitOid: gitBlobOid(content) };
  }

  private async createRepo(request: HubRequest): Promise<void> {
    const writer = this.requireWriter(request.caller);
    const body = await readJsonObject(request.req);
    const type = optionalString(body, 'type', 'create');
    if (type !== undefined && type !== 'model')
      throw new HubError('BadRequest', `repo type '${type}' is not served here: only model repos`);
    const given = optionalString(body, 'name', 'create');
    if (given === undefined) throw new HubError('BadRequest', "field 'name' is missing");
    // 'alice/x/y' must be refused whole, not cut to 'alice/x'.
    const id = given.includes('/')
      ? given
      : `${optionalString(body, 'organization', 'create') ?? writer.user}/${given}`;
    if (!isValidRepoId(id) || !id.includes('/'))
      throw new HubError('BadRequest', `invalid repo id '${id}': expected 'namespace/name'`);
    const [namespace, name] = id.split('/');
    if (!canWrite(writer, namespace!))
      throw new HubError('Forbidden', `'${writer.user}' may not create repos in '${namespace}'`);
    const license = optionalString(body, 'license', 'create');
    const put = new Map<string, FileEntry>([['.gitattributes', await this.storeInline(Buffer.from(GITATTRIBUTES))]]);
    if (license !== undefined) put.set('README.md', await this.storeInline(Buffer.from(cardFrontMatter({ license }))));
    await this.storage.createRepo(
      { id, namespace: namespace!, name: name!, private: body.private === true, createdAt: new Date().toISOString() },
      { author: writer.user, summary: 'initial commit', description: '', put, deleted: [] },
    );
    sendJson(request.res, 200, { url: `${request.baseUrl}/${id}`, name: id, id });
  }

  private async preupload(request: HubRequest, repoId: string, revision: string): Promise<void> {
    this.writableRepo(request.caller, repoId);
    const head = this.revision(repoId, revision);
    const body = await readJsonObject(request.req);
    if (!Array.isArray(body.files) || !body.files.every(isJsonObject)) {
      throw new HubError('BadRequest', "field 'files' must be a list of { path, sample, size }");
    }
    const files = body.files.map((file) => {
      const path = requirePath(file.path, 'file path');
      const sample = typeof file.sample === 'string' ? Buffer.from(file.sample, 'base64') : Buffer.alloc(0);
      const lfs = Number(file.size) > LFS_THRESHOLD || sample.includes(0) || BINARY_EXTENSIONS.test(path);
      return { path, uploadMode: lfs ? 'lfs' : 'regular', shouldIgnore: false, oid: fileEntry(head, path)?.gitOid };
    });
    sendJson(request.res, 200, { files, commitOid: head.id });
  }

  private async lfsBatch(request: HubRequest, repoId: string): Promise<void> {
    this.writableRepo(request.caller, repoId);
    const body = await readJsonObject(request.req);
    if (body.operation !== 'upload') {
      throw new HubError(
        'BadRequest',
        `LFS operation ${JSON.stringify(body.operation)} is not served: only 'upload' (download with /resolve)`,
      );
    }
    if (!Array.isArray(body.objects) || !body.objects.every(isJsonObject)) {
      throw new HubError('BadRequest', "field 'objects' must be a list of { oid, size }");
    }
    const objects = body.objects.map(({ oid, size }) => {
      if (
        typeof oid !== 'string' ||
        !/^[0-9a-f]{64}$/.test(oid) ||
        !Number.isSafeInteger(size) ||
        (size as number) < 0
      ) {
        return { oid, size, error: { code: 422, message: 'expected a sha256 oid and a size in bytes' } };
      }
      const bytes = size as number;
      if (bytes > this.maxUploadBytes)
        return {
          oid,
          size,
          error: { code: 413, message: `object of ${bytes} bytes exceeds the limit of ${this.maxUploadBytes}` },
        };
      if (this.storage.repoHasObject(repoId, oid, bytes)) return { oid, size };
      return {
        oid,
        size,
        authenticated: true,
        actions: {
          upload: {
            href: this.signedUrl(request.baseUrl, 'upload', oid, bytes, repoId),
            expires_in: SIGNED_URL_SECONDS,
          },
          verify: {
            href: this.signedUrl(request.baseUrl, 'verify', oid, bytes, repoId),
            expires_in: SIGNED_URL_SECONDS,
          },
        },
      };
    });
    sendJson(request.res, 200, { transfer: 'basic', objects }, { 'Content-Type': 'application/vnd.git-lfs+json' });
  }

  private async lfsUpload(request: HubRequest, oid: string): Promise<void> {
    const { size, repoId } = this.checkSignature(request, 'upload', oid);
    const declared = Number(request.req.headers['content-length'] ?? size);
    if (declared !== size)
      throw new HubError(
        declared > size ? 'TooLarge' : 'BadRequest',
        `upload of ${oid}: ${declared} bytes sent, ${size} announced`,
      );
    await this.storage.storeObject(request.req, { maxBytes: size, expectedSha256: oid, expectedSize: size });
    await this.storage.grantObject(repoId, oid);
    sendJson(request.res, 200, {});
  }

  private async lfsVerify(request: HubRequest, oid: string): Promise<void> {
    const { size, repoId } = this.checkSignature(request, 'verify', oid);
    await readBody(request.req, JSON_BODY_LIMIT);
    if (!this.storage.repoHasObject(repoId, oid, size))
      throw new HubError('EntryNotFound', `object ${oid} (${size} bytes) was not uploaded`);
    sendJson(request.res, 200, {});
  }

  private async commit(request: HubRequest, repoId: string, branch: string): Promise<void> {
    const writer = this.requireWriter(request.caller);
    this.writableRepo(writer, repoId);
    this.revision(repoId, branch);
    const declared = Number(request.req.headers['content-length'] ?? 0);
    // Base64 makes inline files a third larger than the limit they are held to.
    const bodyLimit = Math.ceil(this.maxUploadBytes * 1.4) + JSON_BODY_LIMIT;
    if (declared > bodyLimit)
      throw new HubError('TooLarge', `commit of ${declared} bytes exceeds the limit of ${bodyLimit}`);

    const changes: CommitChanges = { author: writer.user, summary: '', description: '', put: new Map(), deleted: [] };
    let sawHeader = false;
    for await (const line of ndjsonLines(request.req, bodyLimit)) {
      const key = isJsonObject(line) && typeof line.key === 'string' ? line.key : undefined;
      const value = isJsonObject(line) ? line.value : undefined;
      if (key === undefined || !isJsonObject(value)) {
        throw new HubError(
          'BadRequest',
          `commit line ${JSON.stringify(line)?.slice(0, 80)}: expected { "key": string, "value": object }`,
        );
      }
      if (key === 'header') {
        sawHeader = true;
        changes.summary = optionalString(value, 'summary', 'commit header') ?? '';
        changes.description = optionalString(value, 'description', 'commit header') ?? '';
        changes.parentCommit = optionalString(value, 'parentCommit', 'commit header');
      } else if (key === 'file') {
        const path = requirePath(value.path, 'file path');
        if (value.encoding !== undefined && value.encoding !== 'base64')
          throw new HubError('BadRequest', `file '${path}': encoding must be base64`);
        const content = optionalString(value, 'content', `file '${path}'`) ?? '';
        // Buffer.from skips what is not base64, so a garbled file would be committed as a shorter (or empty) one.
        if (content.length % 4 !== 0 || !BASE64.test(content))
          throw new HubError('BadRequest', `file '${path}': content is not valid base64`);
        changes.put.set(path, await this.storeInline(Buffer.from(content, 'base64')));
      } else if (key === 'lfsFile') {
        const path = requirePath(value.path, 'file path');
        const oid = optionalString(value, 'oid', `file '${path}'`) ?? '';
        const size = this.storage.repoObjectSize(repoId, oid);
        if (size === undefined || (value.size !== undefined && Number(value.size) !== size)) {
          throw new HubError(
            'BadRequest',
            `file '${path}': LFS object ${oid} was not uploaded to '${repoId}' (upload it through the LFS batch API first)`,
          );
        }
        changes.put.set(path, { sha256: oid, size, lfs: true, gitOid: gitBlobOid(lfsPointer(oid, size)) });
      } else if (key === 'deletedFile') {
        changes.deleted.push(requirePath(value.path, 'deleted path'));
      } else if (key === 'deletedFolder') {
        const folder = requirePath(
          (optionalString(value, 'path', 'deletedFolder') ?? '').replace(/\/$/, ''),
          'deleted folder',
        );
        const head = this.revision(repoId, branch);
        changes.deleted.push(...Object.keys(head.files).filter((path) => path.startsWith(`${folder}/`)));
      } else {
        throw new HubError('BadRequest', `unknown commit line key '${String(key)}'`);
      }
    }
    if (!sawHeader) throw new HubError('BadRequest', "commit body lacks its 'header' line");
    const record = await this.storage.commitChanges(repoId, branch, changes);
    sendJson(request.res, 200, {
      success: true,
      commitOid: record.id,
      commitUrl: `${request.baseUrl}/${repoId}/commit/${record.id}`,
      commitMessage: record.summary,
      hookOutput: '',
      pullRequestUrl: null,
    });
  }

  private async createBranch(request: HubRequest, repoId: string, branch: string): Promise<void> {
    this.writableRepo(request.caller, repoId);
    const startingPoint = optionalString(await readJsonObject(request.req, true), 'startingPoint', 'branch') ?? 'main';
    assertBranchName(branch);
    await this.storage.createBranch(repoId, branch, this.revision(repoId, startingPoint).id);
    sendJson(request.res, 200, {});
  }

  /**
   * Where clients reach this server, for the signed URLs it hands out: --public-url, else the request's Host. A Host
   * naming another machine would put that machine into the URLs (a poisoned cache, a phished upload), so without
   * --public-url only loopback names and the listen address are taken, unless the server listens on every address
   * (then start-up says that the Host header is trusted).
   */
  private baseUrl(req: IncomingMessage): string {
    if (this.options.publicUrl !== undefined) return this.options.publicUrl.replace(/\/+$/, '');
    const listen = this.options.host ?? '127.0.0.1';
    const host = req.headers.host ?? listen;
    const hostname = host.replace(/:\d+$/, '');
    if (
      !WILDCARD_HOSTS.includes(listen) &&
      !LOOPBACK_HOSTS.includes(hostname) &&
      hostname !== listen &&
      hostname !== `[${listen}]`
    ) {
      throw new HubError(
        'BadRequest',
        `requests for host '${host}' are not served: this hub listens on ${listen}; behind a proxy or another name, ` +
          'start it with --public-url URL',
        421,
      );
    }
    return `http://${host}`;
  }

  // ---- routing -------------------------------------------------------------------------------------

  private route(request: HubRequest): Handler | undefined {
    const { segments: s, req } = request;
    const method = req.method ?? 'GET';
    const read = method === 'GET' || method === 'HEAD';
    const caller = request.caller;
    const json =
      (build: () => unknown): Handler =>
      async () =>
        sendJson(request.res, 200, build());

    if (s[0] === 'api') {
      if (s[1] === 'whoami-v2' && read) {
        return json(() => {
          if (caller === undefined) throw new HubError('Unauthorized', 'whoami needs a token');
          return { type: 'user', name: caller.user, auth: { accessToken: { role: caller.role } } };
        });
      }
      if (s[1] === 'repos' && s[2] === 'create' && s.length === 3 && method === 'POST')
        return () => this.createRepo(request);
      if (s[1] === 'models' && s.length === 2 && read) {
        return async () => {
          const repos = (await this.storage.listRepos()).filter((repo) => canRead(caller, repo));
          const author = request.query.get('author');
          sendJson(
            request.res,
            200,
            repos
              .filter((repo) => author === null || repo.namespace === author)
              .map((repo) => ({ id: repo.id, private: repo.private })),
          );
        };
      }
      if (s[1] !== 'models' || s.length < 4) return undefined;
      const repoId = `${s[2]}/${s[3]}`;
      const [action, revision, ...rest] = s.slice(4);
      if (action === undefined && read)
        return json(() =>
          this.modelInfo(this.readableRepo(caller, repoId), this.revision(repoId, 'main'), request.baseUrl),
        );
      if (action === 'revision' && revision !== undefined && rest.length === 0 && read) {
        return json(() =>
          this.modelInfo(this.readableRepo(caller, repoId), this.revision(repoId, revision), request.baseUrl),
        );
      }
      if (action === 'tree' && revision !== undefined && read) {
        return json(() => {
          this.readableRepo(caller, repoId);
          const folder = rest.length === 0 ? '' : requirePath(rest.join('/'), 'folder');
          return this.tree(this.revision(repoId, revision), folder, request.query.get('recursive') === 'true');
        });
      }
      if (action === 'refs' && revision === undefined && read) {
        return json(() => {
          this.readableRepo(caller, repoId);
          const branches = this.storage
            .branches(repoId)
            .map(({ name, commit }) => ({ name, ref: `refs/heads/${name}`, targetCommit: commit }));
          return { branches, tags: [], converts: [] };
        });
      }
      if (action === 'commits' && revision !== undefined && rest.length === 0 && read) {
        return json(() => {
          this.readableRepo(caller, repoId);
          const history = [];
          for (
            let commit: CommitRecord | undefined = this.revision(repoId, revision);
            commit !== undefined;
            commit = commit.parent === null ? undefined : this.storage.commit(repoId, commit.parent)
          ) {
            history.push({
              id: commit.id,
              title: commit.summary,
              message: commit.description,
              authors: [{ user: commit.author }],
              date: commit.date,
            });
          }
          return history;
        });
      }
      if (method !== 'POST' || revision === undefined) return undefined;
      const target = [revision, ...rest].join('/');
      if (action === 'preupload') return () => this.preupload(request, repoId, target);
      if (action === 'commit') return () => this.commit(request, repoId, target);
      if (action === 'branch') return () => this.createBranch(request, repoId, target);
      return undefined;
    }
    if (s[0] === 'lfs' && s.length === 3) {
      const oid = s[2]!;
      if (s[1] === 'objects' && read) {
        return async () => {
          const { size } = this.checkSignature(request, 'objects', oid);
          this.serveObject(request, oid, size, { ETag: `"${oid}"` }, `LFS object ${oid}`);
        };
      }
      if (s[1] === 'upload' && method === 'PUT') return () => this.lfsUpload(request, oid);
      if (s[1] === 'verify' && method === 'POST') return () => this.lfsVerify(request, oid);
      return undefined;
    }
    if (
      s.length === 6 &&
      s[1]?.endsWith('.git') &&
      s.slice(2).join('/') === 'info/lfs/objects/batch' &&
      method === 'POST'
    ) {
      return () => this.lfsBatch(request, `${s[0]}/${s[1].slice(0, -'.git'.length)}`);
    }
    if (s.length >= 5 && (s[2] === 'resolve' || s[2] === 'raw') && read)
      return () => this.resolveFile(request, `${s[0]}/${s[1]}`, s[3]!, s.slice(4).join('/'), s[2] === 'raw');
    return undefined;
  }

  readonly handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = Date.now();
    if (this.options.log === true) {
      res.on('finish', () =>
        console.log(`${req.method} ${req.url?.split('?')[0]} ${res.statusCode} ${Date.now() - started}ms`),
      );
    }
    try {
      const url = parseRequestUrl(req.url);
      const segments = url?.pathname.split('/').slice(1).map(decodeUrlComponent);
      if (url === undefined || segments === undefined || !segments.every((s): s is string => s !== undefined)) {
        throw new HubError('BadRequest', MALFORMED_URL_MESSAGE);
      }
      if (segments.some((segment) => segment === '..' || segment === '.' || segment.includes('\0'))) {
        throw new HubError('BadRequest', "'.' and '..' are not allowed in paths");
      }
      const caller = this.authenticate(req);
      const signed = segments[0] === 'lfs';
      if (this.options.requireToken === true && caller === undefined && !signed) {
        throw new HubError('Unauthorized', 'this hub needs a token for every request');
      }
      const baseUrl = this.baseUrl(req);
      const handler = this.route({ req, res, caller, segments, query: url.searchParams, baseUrl });
      if (handler === undefined) throw new HubError('EntryNotFound', `no route for ${req.method} ${url.pathname}`);
      await handler();
    } catch (err) {
      const error =
        err instanceof HubError ? err : new HubError('Http', `internal error: ${(err as Error).message}`, 500);
      // A client gone mid-request (disconnect, idle timeout) is not a server fault: one line, no stack.
      const clientGone = (err as Error).message === 'aborted' || (err as NodeJS.ErrnoException).code === 'ECONNRESET';
      if (error.status === 500) {
        const detail = clientGone ? `client gone (${(err as Error).message})` : (err as Error).stack;
        console.error(`attn hub: ${req.method} ${req.url?.split('?')[0]}: ${detail}`);
      }
      if (!req.complete) discardBody(req, res);
      sendError(res, error);
    }
  };
}

export async function startHubServer(options: HubServerOptions): Promise<RunningHubServer> {
  const hub = new HubServer(options);
  await hub.open();
  // No limit on a request's total time (Node's default cuts every request at 300 s, slow LFS uploads included);
  // the idle timeout below closes connections that stop sending or reading instead.
  const server = createServer({ requestTimeout: 0 }, (req, res) => void hub.handle(req, res));
  server.setTimeout(options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  if (options.publicUrl === undefined && WILDCARD_HOSTS.includes(options.host ?? '127.0.0.1')) {
    console.warn(
      `attn hub: listening on every address without --public-url: signed download and upload URLs are built from ` +
        `each request's Host header. Pass --public-url URL (the address clients use) so no request can choose it.`,
    );
  }
  return {
    url: `http://${host}:${port}`,
    server,
    close: () =>
      new Promise((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
