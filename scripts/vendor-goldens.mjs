// Vendors the Hugging Face goldens from ../shared/golden into test/fixtures/golden, so a bare clone runs the parity
// tests too, and checks the vendored copy against its manifest.
//
//   node scripts/vendor-goldens.mjs          copy every permissively licensed file listed in
//                                            ../shared/golden/SHA256SUMS, check each copy against that sum, write
//                                            the manifest
//   node scripts/vendor-goldens.mjs --check  check test/fixtures/golden against its manifest (no ../shared needed);
//                                            where ../shared/golden/SHA256SUMS exists, also against the upstream sums
//
// ATTN_SHARED overrides where ../shared is, as in src/util/paths.ts. Plain .mjs so it runs without a build.
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const upstream = join(process.env.ATTN_SHARED ?? resolve(root, '..', 'shared'), 'golden');
const fixtures = join(root, 'test', 'fixtures', 'golden');
const MANIFEST = 'SHA256SUMS';
/** Copied verbatim beside the data: how every value was produced. */
const UPSTREAM_README = 'UPSTREAM-README.md';
/** Files of the fixture folder that the manifest does not list (README.md is written by hand). */
const UNLISTED = new Set(['README.md', MANIFEST, UPSTREAM_README]);
/** The Llama-2 tokenizer is under the Llama 2 Community License, not a permissive one: it stays in ../shared. */
const NOT_VENDORED = /^tokenizers\/llama2(-legacy-false)?\//;

const sha256 = (path) => createHash('sha256').update(readFileSync(path)).digest('hex');

/** `sha256  path` lines (sha256sum's format) as a map from path to sum. */
function readSums(file) {
  const sums = new Map();
  readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .forEach((line, i) => {
      const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
      if (!match) throw new Error(`${file}:${i + 1}: expected "<sha256>  <path>", got ${JSON.stringify(line)}`);
      sums.set(match[2], match[1]);
    });
  return sums;
}

function filesUnder(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) =>
      relative(dir, join(entry.parentPath ?? entry.path, entry.name))
        .split('\\')
        .join('/'),
    );
}

function vendor() {
  const upstreamSums = join(upstream, MANIFEST);
  if (!existsSync(upstreamSums)) throw new Error(`${upstreamSums} does not exist: vendoring needs ../shared/golden`);
  const wanted = [...readSums(upstreamSums)]
    .filter(([path]) => !NOT_VENDORED.test(path))
    .sort(([a], [b]) => (a < b ? -1 : 1));
  const staging = `${fixtures}.tmp-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  for (const [path, sum] of wanted) {
    const target = join(staging, path);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(upstream, path), target);
    chmodSync(target, 0o644); // ../shared is read-only; the copies are ordinary project files
    const got = sha256(target);
    if (got !== sum) throw new Error(`${join(upstream, path)}: sha256 ${got}, but ${upstreamSums} says ${sum}`);
  }
  copyFileSync(join(upstream, 'README.md'), join(staging, UPSTREAM_README));
  chmodSync(join(staging, UPSTREAM_README), 0o644);
  const readme = join(fixtures, 'README.md');
  if (existsSync(readme)) copyFileSync(readme, join(staging, 'README.md'));
  writeFileSync(join(staging, MANIFEST), wanted.map(([path, sum]) => `${sum}  ${path}\n`).join(''));
  // Swap the whole folder at once: an interrupted run leaves the previous copy intact.
  rmSync(fixtures, { recursive: true, force: true });
  renameSync(staging, fixtures);
  console.log(`vendored ${wanted.length} files from ${upstream} into ${relative(root, fixtures)}`);
}

/** Problems with the vendored copy, one line each; empty when it matches its manifest (and upstream, if present). */
export function checkFixtures() {
  const manifestFile = join(fixtures, MANIFEST);
  if (!existsSync(manifestFile)) return [`${manifestFile} does not exist: run node scripts/vendor-goldens.mjs`];
  const manifest = readSums(manifestFile);
  const problems = [];
  for (const [path, sum] of manifest) {
    const file = join(fixtures, path);
    if (!existsSync(file)) problems.push(`${file}: listed in ${MANIFEST} but missing`);
    else if (sha256(file) !== sum) problems.push(`${file}: sha256 ${sha256(file)}, ${MANIFEST} says ${sum}`);
  }
  for (const path of filesUnder(fixtures)) {
    if (!manifest.has(path) && !UNLISTED.has(path)) problems.push(`${join(fixtures, path)}: not listed in ${MANIFEST}`);
  }
  const upstreamSums = join(upstream, MANIFEST);
  if (existsSync(upstreamSums)) {
    for (const [path, sum] of readSums(upstreamSums)) {
      if (NOT_VENDORED.test(path)) continue;
      const vendored = manifest.get(path) ?? 'nothing';
      if (vendored !== sum) problems.push(`${path}: ${upstreamSums} says ${sum}, ${MANIFEST} says ${vendored}`);
    }
  }
  return problems;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  if (!process.argv.includes('--check')) vendor();
  const problems = checkFixtures();
  for (const problem of problems) console.error(problem);
  if (problems.length > 0) process.exit(1);
  console.log(`${relative(root, fixtures)}: every file matches ${MANIFEST}`);
}
