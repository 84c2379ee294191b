/** `attn hub ...`: run a hub server, make its tokens, and push to / download from any hub. */
import { didYouMean, integerFlag, parseFlags, UsageError, usageLine } from '../args.js';
import { TokenStore } from '../../hub/server/auth.js';
import { startHubServer } from '../../hub/server/server.js';
import { pushToHub } from '../../hub/push.js';
import { resolveModelDir } from '../../hub/resolve.js';

export const help = `Usage:
  attn hub serve --data DIR [--port 8080] [--host 127.0.0.1] [--max-upload-mb 5120]
                 [--public-url URL] [--require-token] [--idle-timeout-s 60] [--log]
      Serve the repos stored in DIR with the Hugging Face Hub API (HF_ENDPOINT=http://host:port). A connection
      that sends nothing for --idle-timeout-s seconds is closed; a slow upload that keeps sending is never cut.
  attn hub token add --data DIR --user NAME [--write] [--name LABEL]
      Make a token (hf_…) for NAME (read-only unless --write); it is printed once and stored hashed.
  attn hub token list --data DIR
      Show the tokens (id, user, role, label, date; never the tokens themselves).
  attn hub token revoke ID --data DIR
      Remove the token with that id; it stops working at once, also in a running server.
  attn hub push FOLDER REPO_ID [--license ID] [--message TEXT] [--private]
      Commit a saved model folder to a repo (created if missing), with a model card.
  attn hub download REPO_ID [--revision REV]
      Fetch a model's files into the cache (HF_HUB_CACHE) and print the snapshot folder.
Endpoint and token for push/download: HF_ENDPOINT and HF_TOKEN.`;

function required(value: string | undefined, flag: string): string {
  if (value === undefined || value === '') throw new UsageError(`missing ${flag}`);
  return value;
}

async function serve(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      data: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      'max-upload-mb': { type: 'string' },
      'public-url': { type: 'string' },
      'require-token': { type: 'boolean' },
      'idle-timeout-s': { type: 'string' },
      log: { type: 'boolean' },
    },
  });
  const dataDir = required(values.data, '--data DIR');
  const hub = await startHubServer({
    dataDir,
    port: integerFlag(values.port, '--port', 8080),
    host: values.host ?? '127.0.0.1',
    maxUploadBytes: integerFlag(values['max-upload-mb'], '--max-upload-mb', 5120) * 1024 * 1024,
    publicUrl: values['public-url'],
    requireToken: values['require-token'] === true,
    idleTimeoutMs: integerFlag(values['idle-timeout-s'], '--idle-timeout-s', 60) * 1000,
    log: values.log === true,
  });
  console.log(`attn hub: serving ${dataDir} at ${hub.url}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await hub.close();
  return 0;
}

async function token(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    options: {
      data: { type: 'string' },
      user: { type: 'string' },
      write: { type: 'boolean' },
      name: { type: 'string' },
    },
    allowPositionals: true,
  });
  const [action, ...rest] = positionals;
  const expectedArgs: Record<string, number> = { add: 0, list: 0, revoke: 1 };
  if (action === undefined || expectedArgs[action] !== rest.length) {
    throw new UsageError(
      "expected 'attn hub token add --data DIR --user NAME [--write]', 'token list --data DIR' or 'token revoke ID --data DIR'",
    );
  }
  const store = new TokenStore(required(values.data, '--data DIR'));
  if (action === 'list') {
    for (const t of store.list()) console.log([t.id, t.user, t.role, t.name ?? '-', t.createdAt].join('\t'));
    return 0;
  }
  if (action === 'revoke') {
    const revoked = await store.revoke(rest[0]!).catch((err: Error) => {
      throw new UsageError(err.message);
    });
    console.error(`attn hub: revoked the ${revoked.role} token ${revoked.id} of '${revoked.user}'`);
    return 0;
  }
  const role = values.write === true ? 'write' : 'read';
  const user = required(values.user, '--user NAME');
  console.log(await store.add(user, role, values.name));
  console.error(`attn hub: ${role} token for '${user}' made; it is shown only this once`);
  return 0;
}

async function push(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    options: { license: { type: 'string' }, message: { type: 'string' }, private: { type: 'boolean' } },
    allowPositionals: true,
  });
  const [folder, repoId] = positionals;
  if (folder === undefined || repoId === undefined || positionals.length !== 2)
    throw new UsageError('expected FOLDER REPO_ID');
  const result = await pushToHub(folder, repoId, {
    license: values.license,
    commitMessage: values.message,
    private: values.private === true,
  });
  console.log(`${result.repoUrl} @ ${result.commitOid}`);
  return 0;
}

async function download(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv,
    options: { revision: { type: 'string' } },
    allowPositionals: true,
  });
  if (positionals.length !== 1) throw new UsageError('expected REPO_ID');
  console.log(await resolveModelDir(positionals[0]!, { revision: values.revision }));
  return 0;
}

const SUBCOMMANDS: Record<string, (argv: string[]) => Promise<number>> = { serve, token, push, download };

export async function run(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  const subcommand = name === undefined ? undefined : SUBCOMMANDS[name];
  if (subcommand === undefined) {
    const why =
      name === undefined
        ? 'missing subcommand'
        : `unknown subcommand '${name}'${didYouMean(name, Object.keys(SUBCOMMANDS))}`;
    console.error(usageLine('hub', new UsageError(why)));
    return 2;
  }
  try {
    return await subcommand(rest);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('hub', err));
    return 2;
  }
}
