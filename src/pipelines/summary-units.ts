/**
 * The pieces an extractive summary is made of, with their character spans in the input so a caller can highlight
 * them: sentences, grouped into blocks. A dialogue ("Amanda: …" / "#Person1#: …" lines) has a block per turn,
 * each with its speaker's readable name; in prose every sentence is its own block.
 */

/** [start, end) character offsets into the input text. */
export interface Span {
  start: number;
  end: number;
}

/** One sentence: the smallest thing a summary keeps or drops. */
export interface TextUnit extends Span {
  text: string;
  /** The block (turn, or in prose the sentence itself) it belongs to. */
  block: number;
}

/** A turn of a dialogue (its words after the speaker tag), or one sentence of prose. */
export interface TextBlock extends Span {
  text: string;
  /** Dialogue only: the speaker, readable ('#Person1#' → 'Person1', 'Amanda' stays 'Amanda'). */
  speaker?: string;
}

export interface SplitText {
  dialogue: boolean;
  blocks: TextBlock[];
  units: TextUnit[];
}

/**
 * "Name: words" at the start of a line: a `#Tag#` (DialogSum's anonymised speakers) or a capitalised name of at most
 * four words. Lines like "Note: …" match too, which is why a text counts as a dialogue only when most lines do.
 */
const SPEAKER_LINE = /^[ \t]*(#[^#\n:]{1,40}#|\p{Lu}[\p{L}\p{N}_.'-]*(?: [\p{L}\p{N}_.'-]+){0,3})[ \t]*:[ \t]+(?=\S)/u;

/**
 * The longest sentence kept whole, in characters. Longer runs (text without end punctuation) are cut at a space
 * before this, so no one piece is too long to tokenize and embed (a megabyte without a period is ~1,000 pieces).
 */
export const MAX_SENTENCE_CHARS = 1000;

/** A period after one of these (or after a single capital letter, an initial) does not end a sentence. */
const ABBREVIATION_BEFORE = /(?:^|\s)(?:[A-Z]|Mr|Mrs|Ms|Dr|Prof|St|vs|etc|e\.g|i\.e)\.$/;

/**
 * Sentences of a text: split after . ! ? (and their full-width forms, 。) followed by white space, and at line
 * breaks. A period after a single capital letter or a common abbreviation, or a mark followed by a lower-case
 * word (`"Why?" she asked`), does not end a sentence. Runs longer than MAX_SENTENCE_CHARS are cut at a space.
 */
export function splitSentences(text: string): string[] {
  return sentenceSpans(text).map(({ start, end }) => text.slice(start, end));
}

/** The spans of `splitSentences`'s sentences within text[from, to), trimmed of white space, none over MAX_SENTENCE_CHARS. */
export function sentenceSpans(text: string, from = 0, to = text.length): Span[] {
  const spans: Span[] = [];
  const push = (start: number, end: number) => {
    for (;;) {
      while (start < end && /\s/.test(text[start]!)) start++;
      while (end > start && /\s/.test(text[end - 1]!)) end--;
      if (end - start <= MAX_SENTENCE_CHARS) break;
      const space = text.lastIndexOf(' ', start + MAX_SENTENCE_CHARS);
      const cut = space > start ? space : start + MAX_SENTENCE_CHARS;
      spans.push({ start, end: cut });
      start = cut;
    }
    if (end > start) spans.push({ start, end });
  };
  for (const line of text.slice(from, to).matchAll(/[^\n]+/g)) {
    const lineStart = from + line.index;
    let start = 0;
    for (const match of line[0].matchAll(/[.!?。！？]+(["'”’)\]]*)\s+(?=(\p{Ll})?)/gu)) {
      const end = match.index + match[0].trimEnd().length;
      if (ABBREVIATION_BEFORE.test(line[0].slice(start, end))) continue;
      if (match[1] !== '' && match[2] !== undefined) continue; // a quoted question inside a sentence
      push(lineStart + start, lineStart + end);
      start = end;
    }
    push(lineStart + start, lineStart + line[0].length);
  }
  return spans;
}

/** '#Person1#' → 'Person1' (the name DialogSum's summaries use, without its markup); other names as written. */
export function speakerName(tag: string): string {
  return tag.replace(/^#(.*)#$/, '$1').trim();
}

/**
 * Splits a text into sentences and blocks. It is a dialogue when at least two lines start with a speaker tag, at
 * least two speakers talk, and tagged lines are the majority; untagged lines then continue the turn before them.
 */
export function splitForSummary(text: string): SplitText {
  const lines = [...text.matchAll(/[^\n]+/g)].filter((line) => line[0].trim() !== '');
  const tagged = lines.map((line) => SPEAKER_LINE.exec(line[0]));
  const speakers = new Set(tagged.flatMap((match) => (match ? [speakerName(match[1]!)] : [])));
  const taggedCount = tagged.filter((match) => match !== null).length;
  const dialogue = taggedCount >= 2 && speakers.size >= 2 && taggedCount * 2 > lines.length;
  if (!dialogue) {
    const units = sentenceSpans(text).map((span, i) => ({ ...span, text: text.slice(span.start, span.end), block: i }));
    return { dialogue, units, blocks: units.map(({ start, end, text: sentence }) => ({ start, end, text: sentence })) };
  }
  const turns: Array<Span & { speaker: string }> = [];
  lines.forEach((line, i) => {
    const match = tagged[i];
    const lineEnd = line.index + line[0].length;
    if (match) turns.push({ speaker: speakerName(match[1]!), start: line.index + match[0].length, end: lineEnd });
    else if (turns.length > 0) turns[turns.length - 1]!.end = lineEnd;
    // Untagged lines before the first turn (a title, a date) are not anyone's words: they are left out.
  });
  const blocks: TextBlock[] = [];
  const units: TextUnit[] = [];
  for (const turn of turns) {
    const spans = sentenceSpans(text, turn.start, turn.end);
    if (spans.length === 0) continue;
    const block = blocks.length;
    const span = { start: spans[0]!.start, end: spans[spans.length - 1]!.end };
    blocks.push({ ...span, text: text.slice(span.start, span.end), speaker: turn.speaker });
    for (const s of spans) units.push({ ...s, text: text.slice(s.start, s.end), block });
  }
  return { dialogue, blocks, units };
}

/** Third-person pronouns: a sentence that uses one before naming anyone leans on an earlier sentence. */
const ANAPHORIC = new Set(['he', 'she', 'him', 'his', 'her', 'hers', 'they', 'them', 'their', 'theirs', 'it', 'its']);
/** Sentence-initial words that point back ("This means…", "These…"). */
const POINTING_BACK = new Set(['this', 'these', 'those', 'such']);

/**
 * Whether a sentence uses a third-person pronoun before any name (a capitalised word after the first), or opens
 * with a word pointing back: as the first sentence of a summary it would refer to nothing ("Her new job…").
 */
export function leansOnEarlierText(sentence: string): boolean {
  const words = sentence.match(/[\p{L}\p{N}']+/gu) ?? [];
  for (const [i, word] of words.entries()) {
    const lower = word.toLowerCase();
    if (ANAPHORIC.has(lower) || (i === 0 && POINTING_BACK.has(lower))) return true;
    if (i > 0 && /^\p{Lu}/u.test(word) && word !== 'I') return false;
  }
  return false;
}
