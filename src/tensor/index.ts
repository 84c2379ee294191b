export * from './dtype.js';
export * from './shape.js';
export * from './tensor.js';
