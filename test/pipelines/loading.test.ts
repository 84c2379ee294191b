// Which model a pipeline gets, and the messages when it cannot get one: unknown tasks, unknown names, folders of
// the wrong kind, defaults that are not installed.
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MODELS,
  defaultModelDir,
  installedModelsDir,
  ModelLoadError,
  parseTask,
  pipeline,
  PipelineInputError,
} from '../../src/pipelines/index.js';
import { tinyCausalLM, tinyClassifier, tinyEncoder } from './tiny-models.js';

describe('pipeline() model resolution and bad input', () => {
  it('knows the tasks, their aliases and translation_xx_to_yy, and lists them for an unknown one', () => {
    expect(parseTask('sentiment-analysis')).toEqual({ task: 'text-classification' });
    expect(parseTask('translation_de_to_en')).toEqual({ task: 'translation', srcLang: 'de', tgtLang: 'en' });
    expect(() => parseTask('sentiment')).toThrow(PipelineInputError);
    expect(() => parseTask('sentiment')).toThrow(
      /unknown task 'sentiment'; attn knows text-classification, zero-shot-classification, .*sentiment-analysis, ner, translation_xx_to_yy/,
    );
  });

  it('refuses a model folder of the wrong kind for the task, saying what it holds and what is needed', async () => {
    const generator = await tinyCausalLM();
    await expect(pipeline('text-classification', generator)).rejects.toThrow(
      new ModelLoadError(
        `text-classification needs a fine-tuned sequence classifier (…ForSequenceClassification), but ${generator} holds a gpt2 model saved as GPT2LMHeadModel`,
      ),
    );
    const encoder = await tinyEncoder();
    // A BERT encoder could get a classification head, but a random one: refused rather than answered with noise.
    await expect(pipeline('sentiment-analysis', encoder)).rejects.toThrow(
      /but .* holds a bert model saved as BertModel: its checkpoint lacks classifier\.weight, classifier\.bias, which would be left random/,
    );
    await expect(pipeline('translation_de_to_en', encoder)).rejects.toThrow(
      'translation_de_to_en needs an encoder–decoder model (BART, T5, Marian',
    );
    await expect(pipeline('fill-mask', await tinyClassifier(['A', 'B']))).rejects.toThrow(
      'fill-mask needs a masked language model',
    );
    const noConfig = mkdtempSync(join(tmpdir(), 'attn-empty-'));
    writeFileSync(join(noConfig, 'notes.txt'), 'not a model');
    await expect(pipeline('feature-extraction', noConfig)).rejects.toThrow(
      `${noConfig} is not a model folder: it has no config.json`,
    );
  });

  it('says where it looked for a model name it cannot find', async () => {
    await expect(pipeline('text-classification', 'no such model')).rejects.toThrow(
      /model 'no such model' not found: it is not a folder \(.*no such model\), not installed in .*models, and not a hub repo id like 'org\/name' \(hub cache: .*\)\. Run 'attn models'/,
    );
    const saved = { offline: process.env.HF_HUB_OFFLINE, cache: process.env.HF_HUB_CACHE };
    process.env.HF_HUB_OFFLINE = '1';
    process.env.HF_HUB_CACHE = mkdtempSync(join(tmpdir(), 'attn-hub-cache-'));
    try {
      await expect(pipeline('text-classification', 'org/sentiment')).rejects.toThrow(
        /model 'org\/sentiment': not a folder, not installed in .*models, and the hub gave no copy: offline mode \(HF_HUB_OFFLINE\) is on, and 'org\/sentiment' .* is not in the cache/,
      );
    } finally {
      for (const [key, value] of [
        ['HF_HUB_OFFLINE', saved.offline],
        ['HF_HUB_CACHE', saved.cache],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it('names the missing default folder, and says when a task or language has no default', () => {
    expect(() => defaultModelDir('fill-mask')).toThrow(
      'attn ships no default model for fill-mask; pass a model folder or hub repo id (--model M on the command line)',
    );
    expect(() => defaultModelDir('text-classification', 'fr')).toThrow(
      "attn's text-classification defaults are for en, ko, not 'fr'",
    );
    const name = DEFAULT_MODELS['text-classification'].ko!;
    if (!existsSync(join(installedModelsDir, name, 'config.json'))) {
      expect(() => defaultModelDir('text-classification', 'ko')).toThrow(
        `the default text-classification model is ${join(installedModelsDir, name)}, which is not installed`,
      );
    } else {
      expect(defaultModelDir('text-classification', 'ko')).toBe(join(installedModelsDir, name));
    }
  });
});
