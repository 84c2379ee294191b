export * as F from './functional.js';
export * from './module.js';
export * from './layers.js';
