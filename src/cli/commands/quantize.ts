/**
 * `attn quantize --model M --dtype int8|q4|fp16 --out DIR`: a model folder (or installed / cached model) written with
 * quantized weights (see models/quantization.ts) or float16 ones, its tokenizer beside it; `fromPretrained`, `pipeline` and every
 * attn command load DIR as they load any model.
 */
import { stat } from 'node:fs/promises';
import { modelClassFor } from '../../models/auto/index.js';
import { classByName } from '../../models/auto/registry.js';
import { loadPretrained, openCheckpoint, type PreTrainedModel } from '../../models/modeling_utils.js';
import { layersLeftFloat, quantize, QuantizationError, readQuantizationConfig } from '../../models/quantization.js';
import { readModelConfig, resolveModel } from '../../pipelines/load.js';
import { copyNgramHead } from '../../models/ngram/modeling_ngram.js';
import { AutoTokenizer } from '../../tokenizers/index.js';
import { parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn quantize --model M --dtype int8|q4|fp16 --out DIR

Writes model M (a folder, an installed model or a hub repo id in the cache) to DIR with lighter weights:
  int8   every Linear layer (and GPT-2's Conv1D) as int8 codes with one scale per output channel, run by
         onnxruntime's DynamicQuantizeMatMul; embeddings as int8 rows. For encoders and encoder-decoders.
  q4     Linear / Conv1D layers as 4-bit codes in blocks of 32 (onnxruntime's MatMulNBits), layers of another
         width and embeddings as int8. For causal LMs.
Weights of other layers stay float; the command names them.
  fp16   every float weight as IEEE half (F16), rounded to nearest even: half the size of float32, a plain
         safetensors checkpoint that transformers loads too (an int8/q4 model is dequantized first).
config.json records quantized layers in quantization_config; the tokenizer files are copied.

Options:
  --model M         the model to quantize (required)
  --dtype int8|q4|fp16  the weight type (required)
  --out DIR         the folder to write (required; created if missing)`;

const LIGHT_DTYPES = ['int8', 'q4', 'fp16'] as const;
type LightDtype = (typeof LIGHT_DTYPES)[number];

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
  let dtype: LightDtype;
  let out: string;
  try {
    const { values } = parseFlags({
      args: argv,
      options: { model: { type: 'string' }, dtype: { type: 'string' }, out: { type: 'string' } },
    });
    if (!values.model) throw new UsageError('--model is required');
    if (!LIGHT_DTYPES.includes(values.dtype as LightDtype)) {
      throw new UsageError(
        values.dtype === undefined
          ? `--dtype is required (${LIGHT_DTYPES.join(', ')})`
          : `--dtype is '${values.dtype}'; expected one of ${LIGHT_DTYPES.join(', ')}`,
      );
    }
    if (!values.out) throw new UsageError('--out is required');
    ({ model, dtype, out } = values as { model: string; dtype: LightDtype; out: string });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('quantize', err));
    return 2;
  }
  const dir = await resolveModel(model);
  const config = await readModelConfig(dir);
  const saved = config.architectures?.[0];
  const cls = (saved !== undefined ? classByName(saved) : undefined) ?? modelClassFor(config, 'base');
  let loaded: PreTrainedModel;
  // An int8 / q4 model is dequantized on load (the float weights its codes stand for) and quantized from those, so
  // int8 → q4 works; int8 → int8 rounds twice, which the note says.
  try {
    const alreadyQuantized = readQuantizationConfig(config)?.dtype;
    if (alreadyQuantized !== undefined && dtype !== 'fp16')
      console.error(
        `attn quantize: ${dir} is ${alreadyQuantized} already: dequantized first, then quantized to ${dtype}`,
      );
    loaded = await loadPretrained(cls, dir, {
      config,
      onWarning: (m) => console.error(`attn quantize: ${m}`),
      // Rounded on load: a quantized model is dequantized first, an F16 one stays bit for bit.
      dtype: dtype === 'fp16' ? 'float16' : alreadyQuantized !== undefined ? 'float32' : undefined,
    });
    if (dtype !== 'fp16') quantize(loaded, { dtype });
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
  // The folder's n-gram head (already int8) goes along: it is trained against this transformer's logits.
  await copyNgramHead(dir, out);
  const before = await weightBytes(dir);
  const after = await weightBytes(out);
  console.log(
    `${out}: weights ${after} bytes, ${((100 * after) / before).toFixed(1)}% of the ${before} bytes of ${dir}`,
  );
  const leftFloat = dtype === 'fp16' ? [] : layersLeftFloat(loaded);
  if (leftFloat.length > 0) {
    const named = leftFloat.map((l) => `${l.name} (${l.kind}, ${l.values} values)`).join(', ');
    console.log(`${out}: left float (attn quantizes Linear, Conv1D and Embedding layers): ${named}`);
  }
  return 0;
}
