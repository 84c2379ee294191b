// Tests import library modules directly, not the package entry that registers the backends: register them here.
import '../src/backends/register.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Compiled graphs are cached on disk between processes; tests keep theirs in a fresh folder of their own, so they
// neither write into the user's ~/.cache nor skip compiling because an earlier run left a graph behind.
process.env.ATTN_CACHE_DIR ??= mkdtempSync(join(tmpdir(), 'attn-test-cache-'));
