export * from './dtype.js';
export * from './shape.js';
export { Tensor, type GradNode, type NestedArray, type TensorLike } from './tensor.js';
export * from './creation.js';
export * from './random.js';
export * as ops from './ops.js';
export { getBackend, setBackend, withBackend, setNumThreads, noGrad, isGradEnabled, tidy, keep } from './engine.js';
