// Peak resident memory of one pipeline, measured alone in a child process (this file, forked): loaded, then called
// a few times. A process's peak never goes down, so each variant needs its own process.
import '../src/backends/register.js';
import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { pipeline, type PipelineFactoryOptions } from '../src/pipelines/index.js';

export interface PipelineRun {
  task: string;
  dir: string;
  options: PipelineFactoryOptions;
  input: string | string[];
  calls: number;
}

const CHILD_FLAG = '--peak-rss-of';

/**
 * This process's peak RSS in MB. On Linux from VmHWM, the high-water mark of the memory of this program: a forked
 * child's `maxRSS` starts at its parent's RSS at the fork (the copied memory counts until exec), so a large parent
 * would hide the child's own peak.
 */
function ownPeakRssMb(): number {
  const status = existsSync('/proc/self/status') ? readFileSync('/proc/self/status', 'utf8') : '';
  const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status);
  return Math.round((hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024);
}

/** The peak RSS (MB) of a child process running `run`. */
export function peakRssMb(run: PipelineRun): Promise<number> {
  return new Promise((resolve, reject) => {
    const proc = fork(fileURLToPath(import.meta.url), [CHILD_FLAG, JSON.stringify(run)], { stdio: 'inherit' });
    proc.on('message', (m: { maxRssMb: number }) => resolve(m.maxRssMb));
    proc.on('error', reject);
    proc.on('exit', (code) => code !== 0 && reject(new Error(`peak RSS of ${run.dir}: child exited with ${code}`)));
  });
}

const at = process.argv.indexOf(CHILD_FLAG);
if (at >= 0) {
  const run = JSON.parse(process.argv[at + 1]!) as PipelineRun;
  const call = await pipeline(run.task, run.dir, run.options);
  for (let i = 0; i < run.calls; i++) await call(run.input);
  process.send!({ maxRssMb: ownPeakRssMb() });
}
