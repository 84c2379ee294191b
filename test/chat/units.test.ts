import { describe, expect, it } from 'vitest';
import { ChatClient } from '../../src/chat/client.js';
import { Conversation, estimateTokens } from '../../src/chat/conversation.js';
import { EchoChatModel } from '../../src/chat/echo-model.js';
import { ConcurrencyLimiter, QueueFullError } from '../../src/chat/limiter.js';
import { startChatServer } from '../../src/chat/server.js';
import { StopStringFilter } from '../../src/chat/stop-filter.js';
import { startFailingProxy } from './failing-proxy.js';

describe('StopStringFilter', () => {
  it('holds back a possible stop string until the next delta decides it', () => {
    const filter = new StopStringFilter(['END', 'xyz']);
    expect(filter.push('hello E')).toBe('hello ');
    expect(filter.push('N')).toBe('');
    expect(filter.push('D and more')).toBe('');
    expect(filter.stopped).toBe(true);
    expect(filter.flush()).toBe('');
  });

  it('releases held text when it turns out not to be a stop string', () => {
    const filter = new StopStringFilter(['END']);
    expect(filter.push('hello EN')).toBe('hello ');
    expect(filter.push('TRY')).toBe('ENTRY');
    expect(filter.push(' E')).toBe(' ');
    expect(filter.flush()).toBe('E');
    expect(filter.stopped).toBe(false);
  });

  it('cuts at the earliest of several stop strings', () => {
    const filter = new StopStringFilter(['c d', 'b']);
    expect(filter.push('a b c d')).toBe('a ');
  });

  it('passes everything through without stop strings', () => {
    const filter = new StopStringFilter([]);
    expect(filter.push('abc')).toBe('abc');
    expect(filter.flush()).toBe('');
  });
});

describe('ConcurrencyLimiter', () => {
  it('grants in arrival order, drops aborted waiters and refuses past the queue limit', async () => {
    const limiter = new ConcurrencyLimiter(1, 2);
    const never = new AbortController().signal;
    const releaseFirst = await limiter.acquire(never);
    const leaving = new AbortController();
    const order: string[] = [];
    const second = limiter.acquire(leaving.signal).then((release) => (order.push('second'), release));
    const third = limiter.acquire(never).then((release) => (order.push('third'), release));
    await expect(limiter.acquire(never)).rejects.toBeInstanceOf(QueueFullError);
    leaving.abort(new Error('gone'));
    await expect(second).rejects.toThrow('gone');
    expect(limiter.queued).toBe(1);
    releaseFirst();
    releaseFirst(); // a second release is ignored
    (await third)();
    expect(order).toEqual(['third']);
    expect(limiter.active).toBe(0);
  });
});

describe('Conversation', () => {
  it('pins the system message and drops the oldest whole turns beyond the budget', () => {
    // Each message costs 4 + its words: count one token per word for exact arithmetic.
    const countWords = (text: string) => text.split(/\s+/).filter(Boolean).length;
    const conversation = new Conversation({ system: 'be brief', maxTokens: 30, countTokens: countWords });
    conversation
      .add({ role: 'user', content: 'first question here' })
      .add({ role: 'assistant', content: 'first answer' })
      .add({ role: 'user', content: 'second question' })
      .add({
        role: 'assistant',
        content: '',
        tool_calls: [{ id: 't1', type: 'function', function: { name: 'f', arguments: '{}' } }],
      })
      .add({ role: 'tool', content: 'result', tool_call_id: 't1' })
      .add({ role: 'user', content: 'third' });
    // system 6; turns cost: first 7+6=13, second 6+(4+1)+5=16, third 5. 6+5+16 = 27 fits, +13 does not.
    const sent = conversation.messages();
    expect(sent.map((m) => m.content)).toEqual(['be brief', 'second question', '', 'result', 'third']);
    expect(sent[0]?.role).toBe('system');
    expect(conversation.all.length).toBe(6);
  });

  it('keeps the latest turn even when it alone is over budget', () => {
    const conversation = new Conversation({ maxTokens: 10 });
    conversation.add({ role: 'user', content: 'x'.repeat(400) });
    expect(conversation.messages().length).toBe(1);
    expect(estimateTokens('x'.repeat(400))).toBe(100);
  });

  it('refuses a system message over budget and a second system message', () => {
    expect(() => new Conversation({ system: 'x'.repeat(100), maxTokens: 10 })).toThrow('system message alone');
    expect(() => new Conversation({ maxTokens: 10 }).add({ role: 'system', content: 'x' })).toThrow('pinned');
  });

  it('sends through a client and records the answer, or takes the message back on failure', async () => {
    const server = await startChatServer({ models: [new EchoChatModel()] });
    const proxy = await startFailingProxy(server.baseURL);
    try {
      const client = new ChatClient({ baseURL: proxy.baseURL, model: 'echo', maxRetries: 0 });
      const conversation = new Conversation({ system: 'echo me', maxTokens: 1000 });
      expect((await conversation.send(client, 'hello there')).text).toBe('hello there');
      expect(conversation.all.map((m) => m.role)).toEqual(['user', 'assistant']);
      proxy.failNext(500);
      await expect(conversation.send(client, 'lost')).rejects.toThrow('500');
      expect(conversation.all.length).toBe(2);
    } finally {
      await proxy.close();
      await server.close();
    }
  });
});
