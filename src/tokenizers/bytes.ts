/**
 * GPT-2's reversible byte ↔ printable-character table: bytes that are printable Latin-1 map to themselves, the rest
 * to code points from U+0100 on, so every byte sequence becomes a string of visible characters (space → "Ġ").
 */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
})();

export const CHAR_TO_BYTE: ReadonlyMap<string, number> = new Map(BYTE_TO_CHAR.map((c, b) => [c, b]));

/** The 256 byte characters in byte order: the initial alphabet of every byte-level BPE vocabulary. */
export function byteAlphabet(): string[] {
  return [...BYTE_TO_CHAR];
}

/**
 * GPT-2's pre-tokenization pattern, which the ByteLevel pre-tokenizer (use_regex) splits on before mapping bytes.
 * The trainer splits with it directly and maps each distinct piece once, which is several times faster than
 * mapping every occurrence; a test checks it stays equal to @huggingface/tokenizers' ByteLevel pre-tokenizer.
 */
export const GPT2_SPLIT_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** A string's UTF-8 bytes as byte characters ("Ġ" for a space). */
export function toByteLevel(text: string): string {
  let out = '';
  for (const b of Buffer.from(text, 'utf8')) out += BYTE_TO_CHAR[b];
  return out;
}
