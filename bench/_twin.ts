/**
 * Runs a PyTorch twin from ../shared/reference at `--threads 1` and `--threads 2` (OpenBLAS left at its default,
 * every core, which the twins' docs name torch's fastest setting on 2 cores) and keeps the faster run: benches
 * compare best with best. The twins flush denormals, as attn's sessions do. Null when /usr/bin/python3 has no torch.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { sharedPath } from '../src/util/paths.js';

export interface TwinResult {
  best: Record<string, number> & { threads: number };
  /** Every run's figure of merit, by thread count. */
  runs: Record<string, number | string>;
}

export function runTwin(script: string, args: string[], merit: string): TwinResult | null {
  const twin = sharedPath('reference', script);
  if (
    !existsSync('/usr/bin/python3') ||
    !existsSync(twin) ||
    spawnSync('/usr/bin/python3', ['-c', 'import torch']).status !== 0
  )
    return null;
  let best: TwinResult['best'] | undefined;
  const runs: TwinResult['runs'] = {};
  for (const threads of [1, 2]) {
    const run = spawnSync('/usr/bin/python3', [twin, ...args, '--threads', String(threads)], { encoding: 'utf8' });
    const line = run.stdout.trim().split('\n').pop();
    if (run.status !== 0 || !line) {
      runs[`threads_${threads}`] = (run.stderr || `exit ${run.status}`).trim().split('\n').pop() ?? 'failed';
      continue;
    }
    const result = JSON.parse(line) as Record<string, number>;
    runs[`threads_${threads}`] = result[merit]!;
    console.error(JSON.stringify({ twin: script, threads, [merit]: result[merit] }));
    if (!best || result[merit]! > best[merit]!) best = { ...result, threads };
  }
  return best ? { best, runs } : null;
}
