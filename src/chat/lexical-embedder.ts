import type { Embedder } from './types.js';
import { porterStem } from '../metrics/porter.js';

// Function words carry no topic, and would otherwise dominate the cosine between short texts.
const STOPWORDS = new Set(
  (
    'a about above after again against all am an and any are as at be because been before being below between both but by ' +
    'can could did do does doing down during each few for from further had has have having he her here hers herself him ' +
    'himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other ' +
    'our ours ourselves out over own same she should so some such than that the their theirs them themselves then there ' +
    'these they this those through to too under until up very was we were what when where which while who whom why will ' +
    'with would you your yours yourself yourselves'
  ).split(' '),
);

/** Content words of a text, lower-cased and stemmed. */
export function contentTerms(text: string): string[] {
  const words = text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  return words.filter((w) => !STOPWORDS.has(w)).map(porterStem);
}

/** FNV-1a, 32 bits. */
function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * A lexical embedder for RAG until a sentence encoder is wired: hashed bag of Porter-stemmed content words and their
 * adjacent pairs, log-scaled term counts, L2-normalised, so cosine similarity ranks texts by shared vocabulary.
 * Stateless (no fitted vocabulary), so vectors stay comparable as the index grows. One hash bit picks a sign,
 * which keeps collisions from adding up in one direction.
 */
export class LexicalEmbedder implements Embedder {
  readonly id: string;

  constructor(readonly dimension = 4096) {
    if (!Number.isInteger(dimension) || dimension < 16)
      throw new Error(`LexicalEmbedder: dimension must be an integer >= 16, got ${dimension}`);
    this.id = `attn-lexical-${dimension}`;
  }

  async embed(texts: string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }

  private embedOne(text: string): Float32Array {
    const counts = new Map<string, number>();
    const terms = contentTerms(text);
    const add = (feature: string, weight: number): void => {
      counts.set(feature, (counts.get(feature) ?? 0) + weight);
    };
    terms.forEach((term, i) => {
      add(term, 1);
      // Pairs are weaker evidence than words but separate "vector index" from "index of vectors" style overlaps.
      if (i > 0) add(`${terms[i - 1]} ${term}`, 0.5);
    });
    const vector = new Float32Array(this.dimension);
    for (const [feature, count] of counts) {
      const h = hash32(feature);
      vector[h % this.dimension]! += (h & 0x80000000 ? -1 : 1) * Math.log1p(count);
    }
    let norm = 0;
    for (const v of vector) norm += v * v;
    if (norm > 0) {
      const scale = 1 / Math.sqrt(norm);
      for (let i = 0; i < vector.length; i++) vector[i]! *= scale;
    }
    return vector;
  }
}
