export * from './classification.js';
export * from './bleu.js';
export * from './rouge.js';
export * from './perplexity.js';
export { porterStem } from './porter.js';
