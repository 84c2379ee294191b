export * as F from './functional.js';
export * from './module.js';
export * from './layers.js';
export * from './attention.js';
export * from './kv_cache.js';
export * from './positional.js';
export * from './rotary.js';
export * from './feedforward.js';
export * from './transformer.js';
