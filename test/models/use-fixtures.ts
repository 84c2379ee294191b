import { resolve } from 'node:path';
import { projectRoot } from '../../src/util/paths.js';

/** The converted Universal Sentence Encoder Lite committed with attn (scripts/import-use.ts writes it). */
export const USE_LITE_DIR = resolve(projectRoot, 'models/use-lite');
