import { describe, expect, it } from 'vitest';
import { cardBody, cardFrontMatter, modelCard, parseCardData } from '../../src/hub/card.js';

/** Metadata as the hub's own cards carry it (evaluation results, inference widget examples). */
const NESTED = {
  license: 'apache-2.0',
  language: ['en'],
  tags: ['generated_from_trainer'],
  'model-index': [
    {
      name: 'sentiment',
      results: [
        {
          task: { type: 'text-classification', name: 'Text Classification' },
          dataset: { name: 'glue', type: 'glue', config: 'sst2', split: 'validation', args: 'sst2' },
          metrics: [{ type: 'accuracy', value: 0.9105, name: 'Accuracy', verified: false }],
        },
      ],
    },
  ],
  widget: [
    { text: 'I love this movie: "great" acting, 10/10!', example_title: 'Positive' },
    { text: 'Multi-line\ntext: with a colon', example_title: 'Two lines' },
  ],
  co2_eq_emissions: { emissions: 0.5, training_type: 'fine-tuning', geographical_location: null },
};

describe('model cards', () => {
  it('writes YAML front matter that reads back as the same values', () => {
    const data = {
      license: 'apache-2.0',
      pipeline_tag: 'text-classification',
      library_name: 'attn',
      base_model: 'org/base',
      datasets: ['sst2', 'glue: sst-2'],
      metrics: ['accuracy'],
      tags: ['true', '1.0'],
    };
    const card = modelCard('alice/m', data);
    expect(card.startsWith('---\nlicense: apache-2.0\npipeline_tag: text-classification\n')).toBe(true);
    // Values YAML would read as something else (a map, a boolean, a number) are quoted.
    expect(card).toContain('- "glue: sst-2"\n');
    expect(card).toContain('- "true"\n- "1.0"\n');
    expect(card).toContain("fromPretrained('alice/m')");
    expect(parseCardData(card)).toEqual(data);
  });

  it('round-trips nested metadata (model-index, widget) through write and read, twice', () => {
    const card = modelCard('alice/sentiment', NESTED, '# Sentiment\n\nText.\n');
    expect(parseCardData(card)).toEqual(NESTED);
    const again = modelCard('alice/sentiment', parseCardData(card)!, cardBody(card));
    expect(again).toBe(card);
    expect(cardBody(card)).toBe('# Sentiment\n\nText.\n');
  });

  it('reads cards written by huggingface_hub (block style, quoting, comments)', () => {
    const card = [
      '---',
      "license: 'mit'",
      '# a comment',
      'model-index:',
      '- name: x',
      '  results: []',
      'language:',
      '  - en',
      '  - de',
      'widget:',
      '- text: "Paris is the [MASK] of France."',
      '---',
      '# text',
    ].join('\n');
    expect(parseCardData(card)).toEqual({
      license: 'mit',
      'model-index': [{ name: 'x', results: [] }],
      language: ['en', 'de'],
      widget: [{ text: 'Paris is the [MASK] of France.' }],
    });
    expect(cardBody(card)).toBe('# text');
    expect(parseCardData('# no front matter')).toBeUndefined();
    expect(parseCardData('---\n---\n# empty')).toEqual({});
  });

  it('leaves out empty values; malformed YAML is an error naming the card when pushing, no metadata otherwise', () => {
    expect(cardFrontMatter({ license: 'mit', datasets: [], metrics: undefined })).toBe('---\nlicense: mit\n---\n');
    const broken = '---\nlicense: [mit\n---\n';
    expect(parseCardData(broken)).toBeUndefined();
    expect(() => parseCardData(broken, 'model/README.md')).toThrow(
      /^model\/README\.md: the YAML front matter cannot be read/,
    );
    expect(() => parseCardData('---\n- a\n---\n', 'model/README.md')).toThrow(
      'model/README.md: the YAML front matter is a list; expected a mapping of metadata',
    );
  });
});
