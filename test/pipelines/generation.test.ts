// summarization, translation and text-generation on tiny random models, each checked against `generate` run
// directly on the same model (the decoding itself is checked against transformers in test/generation).
import { beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { AutoModelForCausalLM, AutoModelForSeq2SeqLM } from '../../src/models/auto/index.js';
import { pipeline, type TextGenerationResult } from '../../src/pipelines/index.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { tinyCausalLM, tinySeq2Seq } from './tiny-models.js';

async function directSeq2Seq(dir: string, text: string, options: Record<string, unknown>): Promise<string> {
  const [model, tokenizer] = await Promise.all([
    AutoModelForSeq2SeqLM.fromPretrained(dir),
    AutoTokenizer.fromPretrained(dir),
  ]);
  const out = generate(model as any, tokenizer.encode([text]).inputIds, options);
  return tokenizer.decode(out.sequences[0]!, { skipSpecialTokens: true }).trim();
}

describe('summarization and translation with an encoder–decoder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await tinySeq2Seq({
      task_specific_params: {
        summarization: { prefix: 'summarize : ', num_beams: 2, max_length: 12 },
        translation_en_to_de: { prefix: 'translate english to german : ' },
      },
    });
  });

  it('summarizes with the checkpoint task prefix and beam settings, overridable per call', async () => {
    const summarize = await pipeline('summarization', dir);
    const text = 'the movie was very good and the story was fun';
    const [result] = await summarize(text);
    expect(result).toEqual({
      summary_text: await directSeq2Seq(dir, 'summarize : ' + text, { numBeams: 2, maxLength: 12 }),
      method: 'abstractive',
    });
    const [greedy] = await summarize(text, { numBeams: 1, maxLength: 6, minLength: 4 });
    expect(greedy!.summary_text).toBe(
      await directSeq2Seq(dir, 'summarize : ' + text, { numBeams: 1, maxLength: 6, minLength: 4 }),
    );
    await expect(summarize(text, { numBeams: 0 })).rejects.toThrow(/summarization: .*numBeams/);
    await expect(summarize(text, { maxLenght: 5 } as never)).rejects.toThrow("unknown option 'maxLenght'");
  });

  it('translates a padded batch exactly as each sentence alone, with the pair the model declares', async () => {
    const translate = await pipeline('translation_en_to_de', dir, { batchSize: 3 });
    const texts = ['the cat sat on the mat', 'good', 'i love this film but the story was not very good'];
    const batch = await translate(texts, { maxLength: 10 });
    for (let i = 0; i < texts.length; i++) {
      expect(batch[i]!.translation_text).toBe(
        await directSeq2Seq(dir, 'translate english to german : ' + texts[i], { maxLength: 10 }),
      );
    }
    const generic = await pipeline('translation', dir, { srcLang: 'en', tgtLang: 'de' });
    expect(await generic(texts[0]!, { maxLength: 10 })).toEqual([batch[0]]);
    const wrongPair = await pipeline('translation_de_to_en', dir);
    await expect(wrongPair('x')).rejects.toThrow('this model translates en→de; asked for de→en');
  });
});

describe('text-generation with a decoder-only model', () => {
  let dir: string;
  let direct: (prompt: string, options: Record<string, unknown>) => Promise<string>;
  beforeAll(async () => {
    dir = await tinyCausalLM({
      chatTemplate:
        '{% for m in messages %}<{{ m.role }}>{{ m.content }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}',
    });
    const [model, tokenizer] = await Promise.all([
      AutoModelForCausalLM.fromPretrained(dir),
      AutoTokenizer.fromPretrained(dir),
    ]);
    direct = async (prompt, options) => {
      const ids = tokenizer.encode([prompt]).inputIds;
      const out = generate(model as any, ids, { padTokenId: tokenizer.eosTokenId, ...options });
      return tokenizer.decode(out.sequences[0]!.slice(ids[0]!.length), { skipSpecialTokens: true });
    };
  });

  it('continues a prompt greedily; a left-padded batch gives each prompt its own continuation', async () => {
    const generator = await pipeline('text-generation', dir);
    const prompts = ['the cat sat', 'once upon a time there was a little girl who'];
    const batch = await generator(prompts, { maxNewTokens: 8 });
    for (let i = 0; i < prompts.length; i++) {
      expect(batch[i]).toEqual([{ generated_text: prompts[i] + (await direct(prompts[i]!, { maxNewTokens: 8 })) }]);
    }
    const [only] = await generator(prompts[0]!, { maxNewTokens: 8, returnFullText: false });
    expect(only!.generated_text).toBe(await direct(prompts[0]!, { maxNewTokens: 8 }));
  });

  it('streams text as it comes, samples reproducibly with a seed, and refuses bad options', async () => {
    const generator = await pipeline('text-generation', dir);
    let streamed = '';
    const [result] = await generator('the dog', {
      maxNewTokens: 6,
      returnFullText: false,
      onText: (t) => (streamed += t),
    });
    expect(streamed).toBe(result!.generated_text);
    const sample = (seed: number) => generator('the dog', { maxNewTokens: 10, doSample: true, temperature: 1.5, seed });
    expect(await sample(3)).toEqual(await sample(3));
    const five = (await generator('the dog', {
      maxNewTokens: 10,
      doSample: true,
      numReturnSequences: 3,
      seed: 1,
    })) as TextGenerationResult[];
    expect(five).toHaveLength(3);
    await expect(generator(['a', 'b'], { onText: () => {} })).rejects.toThrow(
      'onText streams one prompt at a time; got 2 prompts',
    );
    await expect(generator('the dog', { maxNewTokens: 100 })).rejects.toThrow(
      "maxNewTokens 100 leaves no room for a prompt in the model's context window of 64 tokens",
    );
  });

  it('answers a conversation through the chat template with the assistant message appended', async () => {
    const generator = await pipeline('text-generation', dir);
    const messages = [{ role: 'user', content: 'tell me a story' }];
    const [reply] = await generator(messages, { maxNewTokens: 5 });
    const expected = (await direct('<user>tell me a story\n<assistant>', { maxNewTokens: 5 })).trim();
    expect(reply!.generated_text).toEqual([...messages, { role: 'assistant', content: expected }]);
    const [textOnly] = await generator(messages, { maxNewTokens: 5, returnFullText: false });
    expect(textOnly!.generated_text).toBe(expected);
    await expect(generator([{ role: 'user' }] as never)).rejects.toThrow(
      'message 0 is {"role":"user"}; expected { role: string, content: string }',
    );
    const plain = await pipeline('text-generation', await tinyCausalLM());
    await expect(plain(messages)).rejects.toThrow('has no chat template, so it takes text prompts, not messages');
  });
});
