// The official JavaScript client (@huggingface/hub) against `attn hub serve`, with a token from `attn hub token add`:
// create a repo, upload a 12 MiB file (LFS), download it back byte-exact.
import { randomBytes } from 'node:crypto';
import { createRepo, downloadFile, fileExists, listFiles, uploadFile, whoAmI } from '@huggingface/hub';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/hub.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { tempDir } from './helpers.js';

describe('@huggingface/hub against attn hub serve', () => {
  let hub: RunningHubServer;
  let token: string;

  beforeAll(async () => {
    const data = tempDir('data');
    const printed: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    const error = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run(['token', 'add', '--data', data, '--user', 'alice', '--write'])).toBe(0);
    log.mockRestore();
    error.mockRestore();
    token = printed[0]!;
    hub = await startHubServer({ dataDir: data });
  });
  afterAll(() => hub.close());

  it('creates a repo, uploads a 12 MiB LFS file and downloads it back byte for byte', async () => {
    const credentials = { accessToken: token, hubUrl: hub.url };
    const repo = { type: 'model' as const, name: 'alice/big-file' };
    expect((await whoAmI(credentials)).name).toBe('alice');
    await createRepo({ repo, ...credentials });

    const bytes = randomBytes(12 * 1024 * 1024);
    await uploadFile({
      repo,
      ...credentials,
      file: { path: 'weights.bin', content: new Blob([bytes]) },
      commitTitle: 'weights',
    });
    const listed = [];
    for await (const entry of listFiles({ repo, ...credentials })) listed.push(entry);
    const weights = listed.find((entry) => entry.path === 'weights.bin');
    expect(weights?.size).toBe(bytes.length);
    // Stored as LFS: the tree names the sha256 of the content, as the hub does.
    expect(weights?.lfs?.oid).toMatch(/^[0-9a-f]{64}$/);

    const back = await downloadFile({ repo, path: 'weights.bin', ...credentials });
    expect(back).not.toBeNull();
    expect(Buffer.from(await back!.arrayBuffer()).equals(bytes)).toBe(true);

    // fileExists asks /raw/ with HEAD; /raw/ of an LFS file is its pointer, as on the hub.
    expect(await fileExists({ repo, path: 'weights.bin', ...credentials })).toBe(true);
    expect(await fileExists({ repo, path: 'no-such-file.bin', ...credentials })).toBe(false);
    const pointer = await fetch(`${hub.url}/${repo.name}/raw/main/weights.bin`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(await pointer.text()).toBe(
      `version https://git-lfs.github.com/spec/v1\noid sha256:${weights!.lfs!.oid}\nsize ${bytes.length}\n`,
    );
  });
});
