/**
 * Where the hub is and who we are, read the way huggingface_hub reads it so that Python users and attn
 * share one configuration and one cache.
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';

export function hubEndpoint(explicit?: string): string {
  return (explicit ?? process.env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
}

/** `HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function hubHome(): string {
  return process.env.HF_HOME ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'huggingface');
}

/** `HF_HUB_CACHE`, else `HF_HOME/hub`. */
export function hubCacheDir(explicit?: string): string {
  return explicit ?? process.env.HF_HUB_CACHE ?? process.env.HUGGINGFACE_HUB_CACHE ?? join(hubHome(), 'hub');
}

/** The token from the argument, `HF_TOKEN`, or the file `huggingface-cli login` writes; undefined when none. */
export function hubToken(explicit?: string): string | undefined {
  const fromEnv = explicit ?? process.env.HF_TOKEN ?? process.env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv !== undefined && fromEnv.trim() !== '') return fromEnv.trim();
  try {
    const saved = readFileSync(process.env.HF_TOKEN_PATH ?? join(hubHome(), 'token'), 'utf8').trim();
    return saved === '' ? undefined : saved;
  } catch {
    return undefined;
  }
}

function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}

/** `HF_HUB_OFFLINE=1` (or `TRANSFORMERS_OFFLINE=1`): serve from the cache only, never touch the network. */
export function isOfflineMode(): boolean {
  return isTrue(process.env.HF_HUB_OFFLINE) || isTrue(process.env.TRANSFORMERS_OFFLINE);
}
