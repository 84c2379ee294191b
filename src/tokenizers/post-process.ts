// Adds a tokenizer.json post_processor's special tokens around already-encoded ids. @huggingface/tokenizers applies
// post-processors to token strings and drops the second sequence of a pair under ByteLevel; truncation has to
// happen between encoding and adding special tokens, so attn applies the template to ids itself.
import type { JsonObject } from './tokenizer-json.js';

export interface ProcessedIds {
  ids: number[];
  typeIds: number[];
}

type TemplatePiece =
  { SpecialToken: { id: string; type_id: number } } | { Sequence: { id: 'A' | 'B'; type_id: number } };

export class PostProcessor {
  constructor(
    private readonly config: JsonObject | null,
    private readonly tokenToId: (token: string) => number | undefined,
  ) {}

  /** How many special tokens `process` adds to a single sequence or a pair. */
  addedTokenCount(pair: boolean): number {
    return this.process([], pair ? [] : null).ids.length;
  }

  process(a: number[], b: number[] | null): ProcessedIds {
    return this.apply(this.config, a, b);
  }

  private apply(config: JsonObject | null, a: number[], b: number[] | null): ProcessedIds {
    const plain = (): ProcessedIds => ({
      ids: b === null ? a : [...a, ...b],
      typeIds: b === null ? a.map(() => 0) : [...a.map(() => 0), ...b.map(() => 1)],
    });
    if (config === null) return plain();
    switch (config['type']) {
      case 'ByteLevel':
        return plain();
      case 'TemplateProcessing':
        return this.template(config, a, b);
      case 'BertProcessing':
      case 'RobertaProcessing': {
        const [cls, clsId] = config['cls'] as [string, number];
        const [sep, sepId] = config['sep'] as [string, number];
        const clsToken = this.tokenToId(cls) ?? clsId;
        const sepToken = this.tokenToId(sep) ?? sepId;
        const first = [clsToken, ...a, sepToken];
        if (b === null) return { ids: first, typeIds: first.map(() => 0) };
        // RoBERTa separates a pair with two separators and gives no segment ids.
        const second = config['type'] === 'RobertaProcessing' ? [sepToken, ...b, sepToken] : [...b, sepToken];
        const secondType = config['type'] === 'RobertaProcessing' ? 0 : 1;
        return { ids: [...first, ...second], typeIds: [...first.map(() => 0), ...second.map(() => secondType)] };
      }
      case 'Sequence': {
        // In practice a Sequence is ByteLevel (offsets only) plus at most one processor that adds tokens.
        const adding = (config['processors'] as JsonObject[]).filter((p) => p['type'] !== 'ByteLevel');
        if (adding.length > 1)
          throw new Error('post_processor: a Sequence with more than one token-adding processor is not supported');
        return this.apply(adding[0] ?? null, a, b);
      }
      default:
        throw new Error(`post_processor: unsupported type ${JSON.stringify(config['type'])}`);
    }
  }

  private template(config: JsonObject, a: number[], b: number[] | null): ProcessedIds {
    const pieces = (b === null ? config['single'] : config['pair']) as TemplatePiece[];
    const specials = (config['special_tokens'] ?? {}) as Record<string, { ids: number[] }>;
    const ids: number[] = [];
    const typeIds: number[] = [];
    for (const piece of pieces) {
      if ('SpecialToken' in piece) {
        const { id, type_id } = piece.SpecialToken;
        const tokenIds = specials[id]?.ids ?? [this.tokenToId(id)];
        for (const tokenId of tokenIds) {
          if (tokenId === undefined) throw new Error(`post_processor: special token ${JSON.stringify(id)} has no id`);
          ids.push(tokenId);
          typeIds.push(type_id);
        }
      } else {
        const seq = piece.Sequence.id === 'A' ? a : b!;
        for (const id of seq) {
          ids.push(id);
          typeIds.push(piece.Sequence.type_id);
        }
      }
    }
    return { ids, typeIds };
  }
}

/**
 * A TemplateProcessing post_processor from templates in the Python `tokenizers` notation, e.g.
 * `templateProcessing('[CLS] $A [SEP]', '[CLS] $A [SEP] $B:1 [SEP]:1', vocab)`; ":n" sets the token type id.
 */
export function templateProcessing(single: string, pair: string, vocab: Record<string, number>): JsonObject {
  const specialTokens: JsonObject = {};
  const parse = (template: string): TemplatePiece[] =>
    template
      .split(' ')
      .filter(Boolean)
      .map((item) => {
        const colon = item.lastIndexOf(':');
        const typeId = colon > 0 && /^\d+$/.test(item.slice(colon + 1)) ? Number(item.slice(colon + 1)) : 0;
        const name = colon > 0 && /^\d+$/.test(item.slice(colon + 1)) ? item.slice(0, colon) : item;
        if (name === '$A' || name === '$B') return { Sequence: { id: name.slice(1) as 'A' | 'B', type_id: typeId } };
        const id = vocab[name];
        if (id === undefined)
          throw new RangeError(`template: special token ${JSON.stringify(name)} is not in the vocabulary`);
        specialTokens[name] = { id: name, ids: [id], tokens: [name] };
        return { SpecialToken: { id: name, type_id: typeId } };
      });
  return { type: 'TemplateProcessing', single: parse(single), pair: parse(pair), special_tokens: specialTokens };
}
