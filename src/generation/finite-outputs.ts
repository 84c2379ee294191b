import { Tensor } from '../tensor/tensor.js';

/**
 * A model whose outputs hold NaN or ±Infinity (NaN or overflowing weights, a broken conversion). Any answer made
 * from them would be noise presented as a result ("negative, score NaN"), so the pipeline stops instead.
 */
export class NonFiniteOutputError extends Error {
  /** `source`: the model's folder, or its class name when it has none. */
  constructor(
    readonly task: string,
    readonly output: string,
    readonly value: number,
    source: string,
  ) {
    super(
      `${task}: ${source === '' ? 'the model' : source} produced ${value} in its '${output}' output: its weights ` +
        'hold NaN or infinite values, or overflow (check model.safetensors and its dtype)',
    );
    this.name = 'NonFiniteOutputError';
  }
}

/**
 * Throws NonFiniteOutputError when a value of a float tensor among `outputs` (a model's output fields) is NaN or
 * infinite; returns `outputs` otherwise.
 */
export function checkFiniteOutputs<T extends object>(task: string, source: string, outputs: T): T {
  for (const [name, tensor] of Object.entries(outputs)) {
    if (!(tensor instanceof Tensor) || tensor.dtype !== 'float32') continue;
    for (const value of tensor.data) {
      if (!Number.isFinite(value)) throw new NonFiniteOutputError(task, name, value, source);
    }
  }
  return outputs;
}
