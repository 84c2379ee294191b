/**
 * Options named either way: attn's own are camelCase (`maxNewTokens`), Hugging Face's Python and transformers.js
 * users write snake_case (`max_new_tokens`). Both are accepted; this turns the second into the first.
 */

const snakeToCamel = (key: string) => key.replace(/_([a-z0-9])/g, (_, letter: string) => letter.toUpperCase());

/**
 * A copy of `options` with snake_case keys renamed to camelCase; the same option given both ways with different
 * values is an error naming both, never a silent pick.
 */
export function camelCaseOptions<T extends object>(options: T, where: string): T {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(options)) {
    const camel = key.includes('_') ? snakeToCamel(key) : key;
    if (camel in out && out[camel] !== value) {
      throw new RangeError(`${where}: '${key}' and '${camel}' are the same option with different values; give one`);
    }
    out[camel] = value;
  }
  return out as T;
}

/** A plain `{ … }` object (not an array, a tensor or a class instance): what an options argument looks like. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
