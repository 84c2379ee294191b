// The named special tokens of transformers' tokenizer_config.json / special_tokens_map.json.

export const SPECIAL_TOKEN_KEYS = [
  'bos_token',
  'eos_token',
  'unk_token',
  'sep_token',
  'pad_token',
  'cls_token',
  'mask_token',
] as const;

export type SpecialTokenKey = (typeof SPECIAL_TOKEN_KEYS)[number];

/** A special token is written either as its string or as a serialized AddedToken (`{"content": ..., ...}`). */
export function specialTokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'object' && value !== null && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return undefined;
}
