/**
 * `attn export onnx --model M --out DIR`: a model folder (or installed / cached model) written as one ONNX graph
 * with its weights, config.json and tokenizer, in the layout transformers.js loads (see models/export_onnx.ts).
 */
import { modelClassFor } from '../../models/auto/index.js';
import { classByName } from '../../models/auto/registry.js';
import { loadPretrained } from '../../models/modeling_utils.js';
import { readModelConfig, resolveModel } from '../../pipelines/load.js';
import { AutoTokenizer } from '../../tokenizers/index.js';
import { parseFlags, UsageError, usageLine } from '../args.js';

export const help = `Usage: attn export onnx --model M --out DIR

Writes model M (a folder, an installed model or a hub repo id in the cache) to DIR as
  DIR/onnx/model.onnx   the forward pass as one graph, weights inline (inputs input_ids, attention_mask
                        [, token_type_ids], int64; output logits, or last_hidden_state for a base model)
  DIR/config.json       and the tokenizer files, when M has a tokenizer
which transformers.js loads (env.localModelPath = parent of DIR). Encoder models only (BERT, DistilBERT, …).

Options:
  --model M   the model to export (required)
  --out DIR   the folder to write (required; created if missing)`;

export async function run(argv: string[]): Promise<number> {
  let model: string;
  let out: string;
  try {
    const { values, positionals } = parseFlags({
      args: argv,
      allowPositionals: true,
      options: { model: { type: 'string' }, out: { type: 'string' } },
    });
    if (positionals[0] !== 'onnx' || positionals.length !== 1) {
      throw new UsageError(
        `expected the format 'onnx' (attn export onnx --model M --out DIR), got '${positionals.join(' ')}'`,
      );
    }
    if (!values.model) throw new UsageError('--model is required');
    if (!values.out) throw new UsageError('--out is required');
    ({ model, out } = values as { model: string; out: string });
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(usageLine('export', err));
    return 2;
  }
  const dir = await resolveModel(model);
  const config = await readModelConfig(dir);
  const saved = config.architectures?.[0];
  const cls = (saved !== undefined ? classByName(saved) : undefined) ?? modelClassFor(config, 'base');
  const loaded = await loadPretrained(cls, dir, { config, onWarning: (m) => console.error(`attn export: ${m}`) });
  const tokenizer = await AutoTokenizer.fromPretrained(dir).catch((err: Error) => {
    console.error(`attn export: writing no tokenizer files: ${dir} has no usable tokenizer (${err.message})`);
    return undefined;
  });
  const file = await loaded.exportOnnx(out, { tokenizer });
  console.log(file);
  return 0;
}
