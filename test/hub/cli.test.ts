import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/commands/hub.js';
import { TokenStore } from '../../src/hub/server/auth.js';
import { tempDir } from './helpers.js';

describe('attn hub command', () => {
  afterEach(() => vi.restoreAllMocks());

  it('token add prints a new token once and keeps only its hash', async () => {
    const data = tempDir('data');
    const printed: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    vi.spyOn(console, 'error').mockImplementation(() => undefined);
    expect(await run(['token', 'add', '--data', data, '--user', 'carol', '--write'])).toBe(0);
    const [token] = printed;
    // Shaped like the Hugging Face Hub's tokens, which official clients check before sending a request.
    expect(token).toMatch(/^hf_[A-Za-z0-9]{40}$/);
    expect(readFileSync(join(data, 'tokens.json'), 'utf8')).not.toContain(token);
    expect(new TokenStore(data).lookup(token!)).toEqual({ user: 'carol', role: 'write' });
  });

  it('token list shows ids without the tokens, and token revoke stops a token at once', async () => {
    const data = tempDir('data');
    const store = new TokenStore(data);
    const first = await store.add('carol', 'write', 'laptop');
    const second = await store.add('dave', 'read');
    expect(store.lookup(first)).toEqual({ user: 'carol', role: 'write' });
    const printed: string[] = [];
    const errors: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((line: string) => void printed.push(line));
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    expect(await run(['token', 'list', '--data', data])).toBe(0);
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^[0-9a-f]{12}\tcarol\twrite\tlaptop\t\d{4}-/);
    expect(printed[1]).toMatch(/^[0-9a-f]{12}\tdave\tread\t-\t/);
    expect(printed.join('\n')).not.toContain(first.slice(3, 20));
    const id = printed[0]!.split('\t')[0]!;
    expect(await run(['token', 'revoke', id, '--data', data])).toBe(0);
    expect(errors.join('\n')).toContain(`revoked the write token ${id} of 'carol'`);
    // The same store object (as a running server holds it) no longer accepts it; the other token still works.
    expect(store.lookup(first)).toBeUndefined();
    expect(store.lookup(second)).toEqual({ user: 'dave', role: 'read' });
    expect(await run(['token', 'revoke', id, '--data', data])).toBe(2);
    expect(errors.join('\n')).toContain(`no token with id '${id}'`);
  });

  it('answers bad usage with exit code 2 and the help', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    expect(await run(['token', 'add', '--user', 'carol'])).toBe(2);
    expect(errors.join('\n')).toMatch(/missing --data DIR/);
    expect(await run(['serve', '--data', 'x', '--bogus'])).toBe(2);
    expect(await run(['frobnicate'])).toBe(2);
  });
});
