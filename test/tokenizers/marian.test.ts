// Marian / opus-mt tokenizer folders (source.spm, target.spm, vocab.json), written here as opus-mt lays them out:
// SentencePiece protobufs encoded by the test, and a vocab.json whose ids differ from the SentencePiece ids. Checked
// against the same vocabulary's own tokenizer (t5-small's Unigram from ../shared, re-packed as source.spm), against
// hand-worked segmentations, through pipeline('translation', …) from a folder and from a hub repo id on 127.0.0.1.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/generation/utils.js';
import { AutoModelForSeq2SeqLM } from '../../src/models/auto/index.js';
import { configFromJSON } from '../../src/models/configuration_utils.js';
import { pipeline } from '../../src/pipelines/index.js';
import { manualSeed } from '../../src/tensor/random.js';
import { AutoTokenizer } from '../../src/tokenizers/auto.js';
import { PreTrainedTokenizer } from '../../src/tokenizers/tokenizer.js';
import { publishToLocalHub } from '../helpers/hub.js';
import { describeWithShared, sharedPath } from '../helpers/shared.js';

// ---- a SentencePiece ModelProto writer (field numbers from sentencepiece_model.proto) ----
const NORMAL = 1;
const UNKNOWN = 2;
const CONTROL = 3;

function varint(n: number): number[] {
  const out: number[] = [];
  for (; n > 127; n = Math.floor(n / 128)) out.push((n % 128) | 128);
  return [...out, n];
}
const tag = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, bytes: Uint8Array | number[]) => [
  ...tag(field, 2),
  ...varint(bytes.length),
  ...bytes,
];
const intField = (field: number, value: number) => [...tag(field, 0), ...varint(value)];
function floatField(field: number, value: number): number[] {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setFloat32(0, value, true);
  return [...tag(field, 5), ...b];
}

type Piece = [piece: string, score: number, type?: number];

function sentencePieceModel(pieces: Piece[], charsmap = ''): Uint8Array {
  const text = (s: string) => [...Buffer.from(s, 'utf8')];
  const parts: number[][] = pieces.map(([piece, score, type = NORMAL]) =>
    bytesField(1, [...bytesField(1, text(piece)), ...floatField(2, score), ...intField(3, type)]),
  );
  const out = parts.flat();
  const unk = pieces.findIndex(([, , type]) => type === UNKNOWN);
  out.push(...bytesField(2, [...intField(3, 1), ...intField(40, unk), ...intField(41, 1), ...intField(42, 2)])); // unigram
  const normalizer = [...bytesField(1, text('nmt_nfkc')), ...intField(3, 1), ...intField(4, 1)];
  const charsmapField = charsmap ? bytesField(2, [...Buffer.from(charsmap, 'base64')]) : [];
  return Uint8Array.from([...out, ...bytesField(3, [...normalizer, ...charsmapField])]);
}

/** An opus-mt style folder: the two models and a vocab.json listing `order` (ids = positions). */
function opusFolder(
  source: Piece[],
  target: Piece[],
  order: string[],
  config: Record<string, unknown> = {},
  charsmap = '',
): string {
  const dir = mkdtempSync(join(tmpdir(), 'attn-opus-'));
  writeFileSync(join(dir, 'source.spm'), sentencePieceModel(source, charsmap));
  writeFileSync(join(dir, 'target.spm'), sentencePieceModel(target, charsmap));
  writeFileSync(join(dir, 'vocab.json'), JSON.stringify(Object.fromEntries(order.map((piece, id) => [piece, id]))));
  writeFileSync(
    join(dir, 'tokenizer_config.json'),
    JSON.stringify({
      source_lang: 'de',
      target_lang: 'en',
      separate_vocabs: false,
      model_max_length: 512,
      eos_token: '</s>',
      unk_token: '<unk>',
      pad_token: '<pad>',
      ...config,
    }),
  );
  return dir;
}

// A German source model and an English target model; vocab.json has both, ids in an order of its own.
const SPECIAL: Piece[] = [
  ['<unk>', 0, UNKNOWN],
  ['<s>', 0, CONTROL],
  ['</s>', 0, CONTROL],
];
const CHARS = [...'abcdefghijklmnopqrstuvwxyzäöü'].map((c): Piece => [c, -8]);
const GERMAN: Piece[] = [
  ...SPECIAL,
  ['▁', -3],
  ['▁hallo', -4],
  ['▁welt', -4],
  ['▁die', -3],
  ['welt', -6],
  ['▁hal', -7],
  ...CHARS,
];
const ENGLISH: Piece[] = [...SPECIAL, ['▁', -3], ['▁hello', -4], ['▁world', -4], ['▁the', -3], ...CHARS];
const VOCAB = [
  '</s>',
  '<unk>',
  '>>en<<',
  ...new Set([...GERMAN, ...ENGLISH].filter(([, , type]) => type === undefined).map(([p]) => p)),
]
  .reverse()
  .concat('<pad>');

describe('Marian (opus-mt) tokenizer folders', () => {
  const load = () => AutoTokenizer.fromDirectory(opusFolder(GERMAN, ENGLISH, VOCAB));
  const id = (piece: string) => VOCAB.indexOf(piece);

  it('segments with source.spm, numbers pieces by vocab.json, and appends </s>, as MarianTokenizer', () => {
    const tokenizer = load();
    expect(tokenizer.encodeIds('hallo welt')).toEqual([id('▁hallo'), id('▁welt'), id('</s>')]);
    // "hello" is a piece of the target language only: the source model spells it out.
    expect(tokenizer.convertIdsToTokens(tokenizer.encodeIds('hello', { addSpecialTokens: false }))).toEqual([
      '▁',
      'h',
      'e',
      'l',
      'l',
      'o',
    ]);
    expect(tokenizer.encodeIds('>>en<< die welt')).toEqual([id('>>en<<'), id('▁die'), id('▁welt'), id('</s>')]);
    expect(tokenizer.padTokenId).toBe(VOCAB.indexOf('<pad>'));
  });

  it('decodes vocab.json ids back to text (▁ as spaces, special tokens skipped)', () => {
    const tokenizer = load();
    expect(tokenizer.decode([id('▁hello'), id('▁world'), id('</s>')], { skipSpecialTokens: true })).toBe('hello world');
  });

  it('a folder that is neither layout, or a half opus-mt one, is an error naming the folder and what it expects', () => {
    const half = opusFolder(GERMAN, ENGLISH, VOCAB);
    writeFileSync(join(half, 'target.spm'), '');
    const noTarget = mkdtempSync(join(tmpdir(), 'attn-opus-bad-'));
    writeFileSync(join(noTarget, 'source.spm'), sentencePieceModel(GERMAN));
    writeFileSync(join(noTarget, 'vocab.json'), JSON.stringify({ a: 0 }));
    expect(() => AutoTokenizer.fromDirectory(noTarget)).toThrow(
      new RegExp(`${noTarget}.*needs source.spm, target.spm, vocab.json; missing target.spm`),
    );
    const empty = mkdtempSync(join(tmpdir(), 'attn-empty-'));
    expect(() => AutoTokenizer.fromDirectory(empty)).toThrow(
      new RegExp(`${empty}.*source.spm \\+ target.spm \\+ vocab.json \\(Marian / opus-mt\\)`),
    );
    const gappy = opusFolder(GERMAN, ENGLISH, VOCAB);
    writeFileSync(join(gappy, 'vocab.json'), JSON.stringify({ '</s>': 0, '<unk>': 2, '<pad>': 3 }));
    expect(() => AutoTokenizer.fromDirectory(gappy)).toThrow(/vocab.json.*without gaps; 1 is unused/);
  });
});

describeWithShared('Marian layout over a real Unigram vocabulary', ['tokenizers/t5-small/tokenizer.json'], () => {
  it("tokenizes as the vocabulary's own tokenizer does, with vocab.json's ids", () => {
    const t5Json = JSON.parse(readFileSync(sharedPath('tokenizers', 't5-small', 'tokenizer.json'), 'utf8'));
    const t5 = new PreTrainedTokenizer(t5Json, {});
    const pieces: Piece[] = t5Json.model.vocab.map(([piece, score]: [string, number], i: number) => [
      piece,
      score,
      i === t5Json.model.unk_id ? UNKNOWN : piece === '</s>' || piece === '<pad>' ? CONTROL : NORMAL,
    ]);
    // vocab.json numbers the pieces backwards: no id agrees with the SentencePiece id.
    const order = pieces.map(([p]) => p).reverse();
    const dir = opusFolder(pieces, pieces, order, {}, t5Json.normalizer.precompiled_charsmap);
    const marian = AutoTokenizer.fromDirectory(dir);
    for (const text of [
      'Das Haus ist wunderbar.',
      'Studies have shown that owning a dog is good for you',
      '  spaces   and ﬁ ligatures, Ünïcödé ',
    ]) {
      const expected = t5
        .convertIdsToTokens(t5.encodeIds(text, { addSpecialTokens: false }))
        .map((p) => order.indexOf(p));
      expect(marian.encodeIds(text)).toEqual([...expected, order.indexOf('</s>')]);
    }
  });
});

describe('translation with an opus-mt folder', () => {
  async function opusModel(): Promise<string> {
    const dir = opusFolder(GERMAN, ENGLISH, VOCAB);
    const pad = VOCAB.indexOf('<pad>');
    const config = {
      model_type: 'marian',
      vocab_size: VOCAB.length,
      decoder_vocab_size: VOCAB.length,
      d_model: 16,
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_attention_heads: 2,
      decoder_attention_heads: 2,
      encoder_ffn_dim: 24,
      decoder_ffn_dim: 24,
      max_position_embeddings: 64,
      pad_token_id: pad,
      eos_token_id: 0,
      decoder_start_token_id: pad,
      forced_eos_token_id: 0,
    };
    manualSeed(16);
    await AutoModelForSeq2SeqLM.fromConfig(configFromJSON(config, join(dir, 'config.json'))).savePretrained(dir);
    return dir;
  }

  it('translates a folder laid out as Helsinki-NLP/opus-mt-de-en, from disk and by hub repo id', async () => {
    const dir = await opusModel();
    const model = await AutoModelForSeq2SeqLM.fromPretrained(dir);
    const tokenizer = AutoTokenizer.fromDirectory(dir);
    const ids = generate(model, [tokenizer.encodeIds('hallo welt')], { maxNewTokens: 6 }).sequences[0]!;
    const expected = [{ translation_text: tokenizer.decode(ids, { skipSpecialTokens: true }) }];
    const translator = await pipeline('translation', dir);
    expect(await translator('hallo welt', { maxNewTokens: 6 })).toEqual(expected);

    const hub = await publishToLocalHub(dir, 'Helsinki-NLP/opus-mt-de-en');
    try {
      const fromHub = await pipeline('translation_de_to_en', 'Helsinki-NLP/opus-mt-de-en');
      expect(await fromHub('hallo welt', { maxNewTokens: 6 })).toEqual(expected);
    } finally {
      await hub.close();
    }
  });
});
