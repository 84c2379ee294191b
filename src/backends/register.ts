import { registerBackend } from '../tensor/engine.js';
import { OnnxBackend } from './onnx/index.js';
import { referenceBackend } from './reference/index.js';

/**
 * Registers attn's two backends with the tensor engine. Imported for its effect by the package entry (src/index.ts),
 * the CLI, the test setup, and scripts, benchmarks and examples that run ops without the package entry.
 */

registerBackend('reference', () => referenceBackend);

/** onnxruntime-node, or the reference backend (with a warning) when its native library cannot load. */
registerBackend('onnx', () => {
  try {
    return new OnnxBackend(Number(process.env.ATTN_NUM_THREADS ?? 0));
  } catch (err) {
    const why = err instanceof Error ? err.message.split('\n')[0] : String(err);
    console.warn(`attn: onnxruntime-node could not load (${why}); using the reference backend`);
    return referenceBackend;
  }
});
