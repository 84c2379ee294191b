import { Tensor } from '../tensor/index.js';
import { Rng } from './rng.js';

/** One tokenized example: `input_ids`, `attention_mask`, `label`, … as numbers or arrays of numbers. */
export type Feature = Readonly<Record<string, unknown>>;

/** A model-ready batch: name → tensor with the examples as the first axis. */
export type Batch = Record<string, Tensor>;

/** Turns a list of examples into a batch; what a Trainer calls for every step. */
export interface DataCollator {
  collate(features: readonly Feature[]): Batch;
}

export interface PaddingOptions {
  /** The id that fills `input_ids` past the end of shorter examples. */
  padTokenId: number;
  /** Which end gets the padding. Default 'right'; decoder-only generation pads 'left'. */
  paddingSide?: 'right' | 'left';
  /** Round every padded length up to a multiple of this (tensor-core friendly shapes). */
  padToMultipleOf?: number;
  /** The fill for sequence `labels`, which the loss ignores. Default -100. */
  labelPadTokenId?: number;
}

/** Label positions the loss skips (the `ignore_index` of cross-entropy). */
export const IGNORE_INDEX = -100;

/**
 * Pads each sequence field to the longest in the batch (dynamic padding): `input_ids` with the pad id,
 * `attention_mask` and `token_type_ids` with 0, `special_tokens_mask` with 1, sequence `labels` with -100, anything
 * else with 0. Numbers become (B) tensors, sequences (B, T); int32 unless a value is fractional (regression labels).
 * A `label` field is renamed `labels`, and `attention_mask` is made from the lengths when the examples lack it.
 */
export class DataCollatorWithPadding implements DataCollator {
  constructor(protected readonly options: PaddingOptions) {
    if (!Number.isInteger(options.padTokenId))
      throw new TypeError(`padTokenId must be an integer, got ${options.padTokenId}`);
    const multiple = options.padToMultipleOf;
    if (multiple !== undefined && (!Number.isInteger(multiple) || multiple <= 0)) {
      throw new RangeError(`padToMultipleOf must be a positive integer, got ${multiple}`);
    }
  }

  collate(features: readonly Feature[]): Batch {
    if (features.length === 0) throw new RangeError('collate: an empty list of examples');
    const examples = features.map((feature) => withAttentionMask(renameLabel(feature)));
    const names = Object.keys(examples[0]!);
    const batch: Batch = {};
    for (const name of names) {
      const values = examples.map((example, i) => {
        if (!(name in example)) throw new Error(`collate: example ${i} lacks '${name}', which example 0 has`);
        return example[name];
      });
      batch[name] = values.every((v) => typeof v === 'number')
        ? Tensor.from(values as number[], [values.length], dtypeFor(values as number[]))
        : this.padField(name, values);
    }
    return batch;
  }

  private padField(name: string, values: unknown[]): Tensor {
    values.forEach((value, i) => {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'number')) {
        throw new TypeError(
          `collate: '${name}' of example ${i} is ${JSON.stringify(value)?.slice(0, 60)}, not a number or an array of numbers ` +
            `(drop text columns with removeColumns before collating)`,
        );
      }
    });
    const sequences = values as number[][];
    const longest = Math.max(...sequences.map((s) => s.length));
    const multiple = this.options.padToMultipleOf ?? 1;
    const length = Math.ceil(longest / multiple) * multiple;
    const fill = this.padValueFor(name);
    const left = this.options.paddingSide === 'left';
    const flat = new Array<number>(sequences.length * length).fill(fill);
    sequences.forEach((sequence, row) => {
      const start = row * length + (left ? length - sequence.length : 0);
      for (let t = 0; t < sequence.length; t++) flat[start + t] = sequence[t]!;
    });
    return Tensor.from(flat, [sequences.length, length], dtypeFor(flat));
  }

  private padValueFor(name: string): number {
    switch (name) {
      case 'input_ids':
        return this.options.padTokenId;
      case 'labels':
        return this.options.labelPadTokenId ?? IGNORE_INDEX;
      case 'special_tokens_mask':
        return 1;
      default:
        return 0;
    }
  }
}

export interface LanguageModelingOptions extends PaddingOptions {
  /** Masked-language modelling (BERT-style) when true; causal LM labels (`labels` = `input_ids`) when false. Default true. */
  mlm?: boolean;
  /** The [MASK] id; required for mlm. */
  maskTokenId?: number;
  /** Random replacement tokens are drawn from [0, vocabSize); required for mlm. */
  vocabSize?: number;
  /** Share of the eligible tokens chosen for prediction. Default 0.15. */
  mlmProbability?: number;
  /** Ids never masked ([CLS], [SEP], …), besides padding and positions that an example's `special_tokens_mask` marks. */
  specialTokenIds?: readonly number[];
  /** Seeds the masking, so a run and its resumption mask the same positions. Default 0. */
  seed?: number;
}

/**
 * Batches for language modelling. With mlm, 15% of the non-special, non-padding tokens are chosen; of those 80%
 * become [MASK], 10% a random token and 10% stay, and `labels` hold the original ids there and -100 elsewhere.
 * Without mlm, `labels` are the inputs with padding set to -100 (the model shifts them).
 */
export class DataCollatorForLanguageModeling extends DataCollatorWithPadding {
  private rng: Rng;
  private readonly special: ReadonlySet<number>;

  constructor(private readonly lmOptions: LanguageModelingOptions) {
    super(lmOptions);
    const mlm = lmOptions.mlm ?? true;
    if (mlm) {
      if (!Number.isInteger(lmOptions.maskTokenId))
        throw new TypeError('DataCollatorForLanguageModeling: mlm needs maskTokenId');
      if (!Number.isInteger(lmOptions.vocabSize) || lmOptions.vocabSize! <= 0) {
        throw new TypeError(
          'DataCollatorForLanguageModeling: mlm needs vocabSize (random replacement tokens come from [0, vocabSize))',
        );
      }
    }
    const p = lmOptions.mlmProbability ?? 0.15;
    if (!(p > 0 && p < 1)) throw new RangeError(`mlmProbability must be in (0, 1), got ${p}`);
    this.rng = new Rng(lmOptions.seed ?? 0);
    this.special = new Set([...(lmOptions.specialTokenIds ?? []), lmOptions.padTokenId]);
  }

  /** The masking generator's state, for checkpoints. */
  state(): number[] {
    return this.rng.state();
  }

  setState(state: readonly number[]): void {
    this.rng = Rng.fromState(state);
  }

  override collate(features: readonly Feature[]): Batch {
    const batch = super.collate(features.map(({ labels: _labels, label: _label, ...rest }) => rest));
    const inputIds = batch.input_ids;
    if (!inputIds)
      throw new Error(
        `DataCollatorForLanguageModeling: examples need 'input_ids' (they have ${Object.keys(features[0]!).join(', ')})`,
      );
    const ids = inputIds.data;
    const attention = batch.attention_mask!.data;
    const specialMask = batch.special_tokens_mask?.data;
    delete batch.special_tokens_mask;
    const labels = new Int32Array(ids.length).fill(IGNORE_INDEX);
    if (!(this.lmOptions.mlm ?? true)) {
      for (let i = 0; i < ids.length; i++) if (attention[i] === 1) labels[i] = ids[i]!;
    } else {
      this.mask(ids, labels, (i) => attention[i] === 0 || specialMask?.[i] === 1 || this.special.has(ids[i]!));
    }
    batch.labels = new Tensor(labels, inputIds.shape);
    return batch;
  }

  private mask(
    ids: Float32Array | Int32Array | Uint8Array,
    labels: Int32Array,
    isSpecial: (i: number) => boolean,
  ): void {
    const p = this.lmOptions.mlmProbability ?? 0.15;
    const rng = this.rng;
    for (let i = 0; i < ids.length; i++) {
      if (isSpecial(i) || rng.next() >= p) continue;
      labels[i] = ids[i]!;
      const r = rng.next();
      if (r < 0.8) ids[i] = this.lmOptions.maskTokenId!;
      else if (r < 0.9) ids[i] = rng.nextInt(this.lmOptions.vocabSize!);
    }
  }
}

export interface Seq2SeqOptions extends PaddingOptions {
  /** When given, `decoder_input_ids` are the labels shifted right behind this id (padding where labels are -100). */
  decoderStartTokenId?: number;
}

/**
 * Batches for encoder–decoder training: inputs padded as usual and `labels` padded with -100 to the longest target;
 * optionally the teacher-forcing `decoder_input_ids`.
 */
export class DataCollatorForSeq2Seq extends DataCollatorWithPadding {
  constructor(private readonly seq2seqOptions: Seq2SeqOptions) {
    super(seq2seqOptions);
  }

  override collate(features: readonly Feature[]): Batch {
    const batch = super.collate(features);
    const start = this.seq2seqOptions.decoderStartTokenId;
    const labels = batch.labels;
    if (start === undefined || !labels) return batch;
    const [rows, length] = labels.shape as [number, number];
    const ignore = this.seq2seqOptions.labelPadTokenId ?? IGNORE_INDEX;
    const shifted = new Int32Array(rows * length);
    for (let r = 0; r < rows; r++) {
      shifted[r * length] = start;
      for (let t = 1; t < length; t++) {
        const label = labels.data[r * length + t - 1]!;
        shifted[r * length + t] = label === ignore ? this.options.padTokenId : label;
      }
    }
    batch.decoder_input_ids = new Tensor(shifted, [rows, length]);
    return batch;
  }
}

function renameLabel(feature: Feature): Feature {
  if (!('label' in feature)) return feature;
  const { label, ...rest } = feature;
  return { ...rest, labels: label };
}

function withAttentionMask(feature: Feature): Feature {
  const ids = feature.input_ids;
  if ('attention_mask' in feature || !Array.isArray(ids)) return feature;
  return { ...feature, attention_mask: new Array<number>(ids.length).fill(1) };
}

function dtypeFor(values: readonly number[]): 'int32' | 'float32' {
  return values.every(Number.isInteger) ? 'int32' : 'float32';
}
