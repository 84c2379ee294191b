/**
 * `attn quantize --model M --dtype int8|q4 --out DIR`: a model folder (or installed / cached model) written with
 * quantized weights (see models/quantization.ts), its tokenizer beside it; `fromPretrained`, `pipeline` and every
 * attn command load DIR as they load any model.
 */
import { stat } from 'node:fs/promises';
import { modelClassFor } from '../../models/auto/index.js';
import { classByName } from '../../models/auto/registry.js';
import { loadPretrained, openCheckpoint } from '../../models/modeling_utils.js';
import { quantize, QuantizationError } from '../../models/quantization.js';
import { readModelConfig, resolveModel } from '../../pipelines/load.js';
import { AutoTokenizer } from '../../tokenizers/index.js';
import { parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn quantize --model M --dtype int8|q4 --out DIR

Writes model M (a folder, an installed model or a hub repo id in the cache) to DIR with quantized weights:
  int8   every Linear layer as int8 codes with one scale per output channel, run by onnxruntime's
         DynamicQuantizeMatMul; embeddings as int8 rows. For encoders and encoder-decoders.
  q4     Linear layers as 4-bit codes in blocks of 32 (onnxruntime's MatMulNBits), layers of another
         width and embeddings as int8. For causal LMs.
config.json records the layers in quantization_config; the tokenizer files are copied.

Options:
  --model M         the model to quantize (required)
  --dtype int8|q4   the weight type (required)
  --out DIR         the folder to write (required; created if missing)`;

async function weightBytes(dir: string): Promise<number> {
  const reader = await openCheckpoint(dir);
  try {
    let total = 0;
    for (const file of new Set([...reader.entries.values()].map((e) => e.file))) total += (await stat(file)).size;
    return total;
  } finally {
    await reader.close();
  }
}

export async function run(argv: string[]): Promise<number> {
  let model: string;
  let dtype: 'int8' | 'q4';
  let out: string;
  try {
    const { values } = parseFlags({
      args: argv,
      options: { model: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' } },
    });
    if (!values.model) throw new UsageError('--model is required');
    if (values.dtype !== 'int8' && values.dtype !== 'q4') {
      throw new UsageError(
        values.dtype === undefined
          ? '--dtype is required (int8 or q4)'
          : `--dtype is '${values.dtype}'; expected int8 or q4`,
      );
    }
    if (!values.out) throw new UsageError('--out is required');
    ({ model, dtype, out } = values as { model: string; dtype: 'int8' | 'q4'; out: string });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('quantize', err));
    return 2;
  }
  const dir = await resolveModel(model);
  const config = await readModelConfig(dir);
  const saved = config.architectures?.[0];
  const cls = (saved !== undefined ? classByName(saved) : undefined) ?? modelClassFor(config, 'base');
  const loaded = await loadPretrained(cls, dir, { config, onWarning: (m) => console.error(`attn quantize: ${m}`) });
  try {
    quantize(loaded, { dtype });
  } catch (err) {
    if (!(err instanceof QuantizationError)) throw err;
    console.error(`attn quantize: ${dir}: ${err.message}`);
    return 1;
  }
  await loaded.savePretrained(out);
  const tokenizer = await AutoTokenizer.fromPretrained(dir).catch((err: Error) => {
    console.error(`attn quantize: writing no tokenizer files: ${dir} has no usable tokenizer (${err.message})`);
    return undefined;
  });
  await tokenizer?.savePretrained(out);
  const before = await weightBytes(dir);
  const after = await weightBytes(out);
  console.log(
    `${out}: weights ${after} bytes, ${((100 * after) / before).toFixed(1)}% of the ${before} bytes of ${dir}`,
  );
  return 0;
}
