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
    expect(token).toMatch(/^attn_[A-Za-z0-9_-]{43}$/);
    expect(readFileSync(join(data, 'tokens.json'), 'utf8')).not.toContain(token);
    expect(new TokenStore(data).lookup(token!)).toEqual({ user: 'carol', role: 'write' });
  });

  it('answers bad usage with exit code 2 and the help', async () => {
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((line: string) => void errors.push(line));
    expect(await run(['token', 'add', '--user', 'carol'])).toBe(2);
    expect(errors.join('\n')).toMatch(/missing --data DIR[\s\S]*Usage:/);
    expect(await run(['serve', '--data', 'x', '--bogus'])).toBe(2);
    expect(await run(['frobnicate'])).toBe(2);
  });
});
