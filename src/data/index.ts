export * from './dataset.js';
export * from './load.js';
export * from './collators.js';
export { Rng } from './rng.js';
export type { Quoting } from './delimited.js';
