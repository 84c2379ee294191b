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
