import { describe, expect, it } from 'vitest';
import { cardFrontMatter, modelCard, parseCardData } from '../../src/hub/card.js';

describe('model cards', () => {
  it('writes YAML front matter that reads back as the same values', () => {
    const data = { license: 'apache-2.0', pipeline_tag: 'text-classification', library_name: 'attn', base_model: 'org/base', datasets: ['sst2', 'glue: sst-2'], metrics: ['accuracy'], tags: ['true', '1.0'] };
    const card = modelCard('alice/m', data);
    expect(card.startsWith('---\nlicense: apache-2.0\npipeline_tag: text-classification\n')).toBe(true);
    // Values YAML would read as something else (a map, a boolean, a number) are quoted.
    expect(card).toContain('- "glue: sst-2"\n');
    expect(card).toContain('- "true"\n- "1.0"\n');
    expect(card).toContain("fromPretrained('alice/m')");
    expect(parseCardData(card)).toEqual(data);
  });

  it('leaves out empty values and refuses keys YAML cannot hold plainly', () => {
    expect(cardFrontMatter({ license: 'mit', datasets: [], metrics: undefined })).toBe('---\nlicense: mit\n---\n');
    expect(() => cardFrontMatter({ 'bad key': 'x' })).toThrow(/invalid metadata key 'bad key'/);
  });

  it('reads top-level entries of cards written elsewhere and skips nested maps', () => {
    const card = "---\nlicense: 'mit'\nmodel-index:\n  - name: x\n    results: []\nlanguage:\n  - en\n  - de\n---\n# text";
    expect(parseCardData(card)).toEqual({ license: 'mit', language: ['en', 'de'] });
    expect(parseCardData('# no front matter')).toBeUndefined();
  });
});
