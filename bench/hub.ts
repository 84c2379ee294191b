/**
 * `npm run bench -- hub [--mb 64] [--repeats 3]`: download throughput from a local attn hub server (one LFS
 * file, through resolve → signed redirect → stream → sha256 check → cache) and cache-hit latency, online
 * (one HEAD request) and offline (no network). Prints one JSON line last.
 */
import '../src/backends/register.js';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { hubDownload } from '../src/hub/download.js';
import { TokenStore } from '../src/hub/server/auth.js';
import { startHubServer } from '../src/hub/server/server.js';
import { uploadFiles } from '../src/hub/upload.js';
import { createRepo } from '../src/hub/api.js';

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

const { values } = parseArgs({
  options: { mb: { type: 'string', default: '64' }, repeats: { type: 'string', default: '3' } },
});
const megabytes = Number(values.mb);
const repeats = Number(values.repeats);
const work = mkdtempSync(join(tmpdir(), 'attn-bench-hub-'));
try {
  const dataDir = join(work, 'data');
  const token = await new TokenStore(dataDir).add('bench', 'write');
  const hub = await startHubServer({ dataDir });
  const connection = { endpoint: hub.url, token };
  const weights = join(work, 'model.safetensors');
  writeFileSync(weights, randomBytes(megabytes * 1024 * 1024));
  await createRepo('bench/model', connection);
  await uploadFiles('bench/model', { 'model.safetensors': weights }, { ...connection, commitMessage: 'bench' });

  const downloadSeconds: number[] = [];
  for (let run = 0; run < repeats; run++) {
    const cacheDir = join(work, `cache-${run}`);
    const started = performance.now();
    await hubDownload('bench/model', 'model.safetensors', { ...connection, cacheDir });
    downloadSeconds.push((performance.now() - started) / 1000);
    console.error(`download ${run + 1}/${repeats}: ${(megabytes / downloadSeconds[run]!).toFixed(1)} MB/s`);
  }
  const cacheDir = join(work, 'cache-0');
  const hitMs = async (offline: boolean): Promise<number> => {
    const times: number[] = [];
    for (let call = 0; call < 50; call++) {
      const started = performance.now();
      await hubDownload('bench/model', 'model.safetensors', { ...connection, cacheDir, localFilesOnly: offline });
      times.push(performance.now() - started);
    }
    return median(times);
  };
  const result = {
    bench: 'hub',
    file_mb: megabytes,
    download_mb_per_s: Number((megabytes / median(downloadSeconds)).toFixed(1)),
    cache_hit_ms: Number((await hitMs(false)).toFixed(3)),
    offline_cache_hit_ms: Number((await hitMs(true)).toFixed(3)),
  };
  await hub.close();
  console.log(JSON.stringify(result));
} finally {
  rmSync(work, { recursive: true, force: true });
}
