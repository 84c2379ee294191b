import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { describe, expect, it, vi } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import { loadChatModel } from '../../src/chat/server.js';
import { run, startFromArgs, UsageError } from '../../src/cli/commands/serve.js';

describe('attn serve command', () => {
  it('starts the models and embedders named on the command line, with the key from $ATTN_API_KEY', async () => {
    const server = await startFromArgs(
      ['--model', 'echo:1ms', '--embedder', 'lexical', '--port', '0', '--max-concurrent', '2'],
      { ATTN_API_KEY: 'sk-cli' },
    );
    try {
      expect(server.baseURL).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1$/);
      const client = new ChatClient({ baseURL: server.baseURL, apiKey: 'sk-cli', model: 'echo' });
      expect((await client.chat({ messages: [{ role: 'user', content: 'from the cli' }] })).text).toBe('from the cli');
      expect(await client.listModels()).toEqual(['echo', 'attn-lexical-4096']);
      expect((await client.embed(['a text'], { model: 'attn-lexical-4096' }))[0]!.length).toBe(4096);
    } finally {
      await server.close();
    }
  });

  it('rejects bad command lines with a usage error and exit code 2', async () => {
    await expect(startFromArgs(['--model', 'echo', 'stray-argument'])).rejects.toThrow(UsageError);
    await expect(startFromArgs(['--model', 'echo', '--port', 'abc'])).rejects.toThrow(
      "--port must be a whole number >= 0, got 'abc'",
    );
    await expect(startFromArgs(['--model', 'echo', '--max-concurrent', '0'])).rejects.toThrow('at least 1');
    const errors = vi.spyOn(console, 'error').mockImplementation(() => {});
    try {
      expect(await run(['--model', 'echo', '--bogus'])).toBe(2);
      expect(String(errors.mock.calls[0]?.[0])).toBe("attn serve: unknown option '--bogus'; see 'attn serve --help'");
    } finally {
      errors.mockRestore();
    }
  });

  it('names a model folder that does not exist', async () => {
    await expect(loadChatModel(join(tmpdir(), 'no-such-model'))).rejects.toThrow(/no-such-model/);
  });
});
