/**
 * Splitting documents into overlapping chunks for retrieval. A chunk is always a contiguous slice of the
 * document (so it can be cited by line numbers), never crosses a markdown heading, and breaks at paragraph,
 * then sentence, then word boundaries.
 */

/** The shortest chunk `chunkToFit` splits down to. */
const MIN_CHUNK_CHARS = 50;

export interface ChunkOptions {
  /** Longest chunk, in characters. Default 1000. */
  maxChars?: number;
  /** Characters of the previous chunk that the next one repeats, so an answer spanning a cut is still found. Default 200. */
  overlapChars?: number;
  /** Treat `#` lines as section headings (outside fenced code). */
  markdown?: boolean;
}

export interface Chunk {
  text: string;
  /** The markdown headings above the chunk, outermost first, joined with " > ". */
  heading?: string;
  /** 1-based, inclusive. */
  startLine: number;
  endLine: number;
}

interface Range {
  start: number;
  end: number;
}

/** Sentences: text up to terminal punctuation (and any closing quotes/brackets) plus trailing space. */
const SENTENCE = /[\s\S]+?(?:[.!?]+["')\]]*(?:\s+|$)|$)/y;

function splitWords(text: string, range: Range, maxChars: number): Range[] {
  const out: Range[] = [];
  let start = range.start;
  while (range.end - start > maxChars) {
    let cut = text.lastIndexOf(' ', start + maxChars);
    if (cut <= start) cut = start + maxChars; // one word longer than a chunk: cut inside it
    out.push({ start, end: cut });
    start = cut;
  }
  if (start < range.end) out.push({ start, end: range.end });
  return out;
}

function splitSentences(text: string, range: Range, maxChars: number): Range[] {
  const out: Range[] = [];
  const paragraph = text.slice(range.start, range.end);
  SENTENCE.lastIndex = 0;
  let at = 0;
  let match: RegExpExecArray | null;
  while (at < paragraph.length && (match = SENTENCE.exec(paragraph)) !== null) {
    out.push(...splitWords(text, { start: range.start + at, end: range.start + at + match[0].length }, maxChars));
    at += match[0].length;
  }
  return out;
}

/** Paragraphs of a section (blank-line separated), each split further when longer than a chunk. */
function units(text: string, section: Range, maxChars: number): Range[] {
  const out: Range[] = [];
  const blank = /\n[ \t]*\n\s*/g;
  blank.lastIndex = section.start;
  let start = section.start;
  for (;;) {
    const match = blank.exec(text);
    const end = match && match.index < section.end ? match.index + match[0].length : section.end;
    if (end > start) {
      const paragraph = { start, end };
      out.push(...(end - start > maxChars ? splitSentences(text, paragraph, maxChars) : [paragraph]));
    }
    if (end >= section.end) return out;
    start = end;
  }
}

interface Section extends Range {
  heading?: string;
}

function markdownSections(text: string): Section[] {
  const sections: Section[] = [];
  const path: string[] = [];
  let inFence = false;
  let sectionStart = 0;
  let heading: string | undefined;
  let offset = 0;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = inFence ? null : /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (match) {
      if (offset > sectionStart) sections.push({ start: sectionStart, end: offset, heading });
      path.length = match[1]!.length - 1;
      path[match[1]!.length - 1] = match[2]!;
      heading = path.filter(Boolean).join(' > ');
      sectionStart = offset;
    }
    offset += line.length + 1;
  }
  if (text.length > sectionStart) sections.push({ start: sectionStart, end: text.length, heading });
  return sections;
}

export function chunkDocument(text: string, options: ChunkOptions = {}): Chunk[] {
  const maxChars = options.maxChars ?? 1000;
  const overlapChars = options.overlapChars ?? 200;
  if (!(maxChars >= MIN_CHUNK_CHARS))
    throw new Error(`chunkDocument: maxChars must be at least ${MIN_CHUNK_CHARS}, got ${maxChars}`);
  if (!(overlapChars >= 0 && overlapChars < maxChars)) {
    throw new Error(`chunkDocument: overlapChars must be from 0 to below maxChars (${maxChars}), got ${overlapChars}`);
  }
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };

  const sections: Section[] = options.markdown ? markdownSections(text) : [{ start: 0, end: text.length }];
  const chunks: Chunk[] = [];
  for (const section of sections) {
    const parts = units(text, section, maxChars);
    let first = 0;
    while (first < parts.length) {
      let last = first;
      while (last + 1 < parts.length && parts[last + 1]!.end - parts[first]!.start <= maxChars) last++;
      const end = parts[last]!.end;
      let bodyStart = parts[first]!.start;
      let bodyEnd = end;
      while (bodyStart < bodyEnd && /\s/.test(text[bodyStart]!)) bodyStart++;
      while (bodyEnd > bodyStart && /\s/.test(text[bodyEnd - 1]!)) bodyEnd--;
      if (bodyEnd > bodyStart) {
        const chunk: Chunk = {
          text: text.slice(bodyStart, bodyEnd),
          startLine: lineOf(bodyStart),
          endLine: lineOf(bodyEnd - 1),
        };
        if (section.heading) chunk.heading = section.heading;
        chunks.push(chunk);
      }
      if (last + 1 >= parts.length) break;
      // The next chunk starts at the earliest unit that still ends within `overlapChars` of this chunk's end.
      let next = last + 1;
      while (next - 1 > first && end - parts[next - 1]!.start <= overlapChars) next--;
      first = next;
    }
  }
  return chunks;
}

/**
 * `chunkDocument`, then every chunk whose `size` (an embedder's token count: text past its window would never be
 * embedded) is over `limit` is chunked again, smaller in proportion to how far over it is, until it fits or reaches
 * 50 characters. Sizes are thus checked in the embedder's own tokens, while chunk boundaries stay at paragraphs,
 * sentences and words.
 */
export function chunkToFit(
  text: string,
  options: ChunkOptions,
  size: (chunk: Chunk) => number,
  limit: number,
): Chunk[] {
  const out: Chunk[] = [];
  const refine = (chunk: Chunk, maxChars: number, overlapChars: number): void => {
    const measured = maxChars <= MIN_CHUNK_CHARS ? 0 : size(chunk);
    if (measured <= limit) {
      out.push(chunk);
      return;
    }
    // A tenth below the proportional size, and always at least a tenth smaller: token counts do not scale exactly.
    const smaller = Math.max(
      MIN_CHUNK_CHARS,
      Math.floor(Math.min(chunk.text.length * (limit / measured), maxChars) * 0.9),
    );
    const overlap = Math.min(Math.floor((overlapChars * smaller) / maxChars), smaller - 1);
    for (const part of chunkDocument(chunk.text, { maxChars: smaller, overlapChars: overlap })) {
      const startLine = chunk.startLine + part.startLine - 1;
      const endLine = chunk.startLine + part.endLine - 1;
      refine(
        { ...part, startLine, endLine, ...(chunk.heading === undefined ? {} : { heading: chunk.heading }) },
        smaller,
        overlap,
      );
    }
  };
  for (const chunk of chunkDocument(text, options))
    refine(chunk, options.maxChars ?? 1000, options.overlapChars ?? 200);
  return out;
}
