/**
 * Runs a PyTorch twin from ../shared/reference at `--threads 1` and `--threads 2` (OpenBLAS left at its default,
 * every core, which the twins' docs name torch's fastest setting on 2 cores) and keeps the faster run: benches
 * compare best with best. The twins flush denormals, as attn's sessions do. Null when /usr/bin/python3 has no torch.
 *
 * Some machines set OPENBLAS_CORETYPE (and OPENBLAS_L2_SIZE) to keep old OpenBLAS builds off kernels they get
 * wrong; they also pin the twin to slower kernels (here 4,900 → 6,500 tokens/s on the default train step once
 * unset). The twin runs without both, as it would be tuned; the kernel OpenBLAS then picks is reported.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { sharedPath } from '../src/util/paths.js';

export interface TwinResult {
  best: Record<string, number> & { threads: number };
  /** Every run's figure of merit, by thread count. */
  runs: Record<string, number | string>;
}

/** Asks the OpenBLAS that torch loads which core type it chose (empty where the library is not found). */
const OPENBLAS_CORE = [
  'import ctypes, glob',
  "libs = glob.glob('/usr/lib/*/libopenblas*.so*') + glob.glob('/usr/lib/*/openblas*/libopenblas*.so*')",
  'lib = ctypes.CDLL(libs[0]) if libs else None',
  'f = getattr(lib, "openblas_get_corename", None) if lib else None',
  'f and setattr(f, "restype", ctypes.c_char_p)',
  'print(f().decode() if f else "")',
].join('\n');

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
  const env = { ...process.env };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  const kernel = spawnSync('/usr/bin/python3', ['-c', OPENBLAS_CORE], { encoding: 'utf8', env }).stdout.trim();
  if (kernel) console.error(JSON.stringify({ twin: script, openblas_core: kernel }));
  for (const threads of [1, 2]) {
    const run = spawnSync('/usr/bin/python3', [twin, ...args, '--threads', String(threads)], { encoding: 'utf8', env });
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
