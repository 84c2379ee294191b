import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataCollatorForSeq2Seq, Dataset } from '../../src/data/index.js';
import { MarianConfig, MarianMTModel } from '../../src/models/index.js';
import { manualSeed } from '../../src/tensor/index.js';
import {
  Seq2SeqTrainer,
  Seq2SeqTrainingArguments,
  type EvalPrediction,
  type TrainableModel,
} from '../../src/training/index.js';

const root = mkdtempSync(join(tmpdir(), 'attn-seq2seq-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const EOS = 0;
const PAD = 1;

/** Copy task: the target is the source. Ids 2… are words; sources end in </s>. */
function copyData(rows: number): Dataset {
  const records = Array.from({ length: rows }, (_, i) => {
    const words = Array.from({ length: 2 + (i % 3) }, (_, j) => 2 + ((i * 3 + j * 5) % 8));
    return { input_ids: [...words, EOS], labels: [...words, EOS] };
  });
  return Dataset.fromRecords(records, 'copy');
}

describe('Seq2SeqTrainer', () => {
  it('trains a Marian model and evaluates by generating, handing computeMetrics ids without padding', async () => {
    manualSeed(0);
    const config = new MarianConfig({
      vocab_size: 10,
      d_model: 16,
      encoder_layers: 1,
      decoder_layers: 1,
      encoder_attention_heads: 2,
      decoder_attention_heads: 2,
      encoder_ffn_dim: 32,
      decoder_ffn_dim: 32,
      max_position_embeddings: 16,
      pad_token_id: PAD,
      eos_token_id: EOS,
      forced_eos_token_id: EOS,
      decoder_start_token_id: PAD,
      dropout: 0,
    });
    const model = new MarianMTModel(config);
    const seen: EvalPrediction[] = [];
    const exactMatch = (p: EvalPrediction): Record<string, number> => {
      seen.push(p);
      const same = p.predictions.filter(
        (ids, i) => JSON.stringify(ids.filter((id) => id !== PAD)) === JSON.stringify(p.labelIds[i]),
      ).length;
      return { exact_match: same / p.predictions.length };
    };
    const args = new Seq2SeqTrainingArguments({
      outputDir: join(root, 'run'),
      maxSteps: 30,
      learningRate: 1e-2,
      perDeviceTrainBatchSize: 8,
      perDeviceEvalBatchSize: 4,
      saveStrategy: 'no',
      progress: false,
      predictWithGenerate: true,
      generationMaxNewTokens: 6,
    });
    const trainer = new Seq2SeqTrainer({
      model: model as unknown as TrainableModel,
      args,
      trainDataset: copyData(48),
      evalDataset: copyData(6),
      dataCollator: new DataCollatorForSeq2Seq({ padTokenId: PAD, decoderStartTokenId: PAD }),
      computeMetrics: exactMatch as never,
    });
    const before = await trainer.evaluate();
    await trainer.train();
    const after = await trainer.evaluate();
    expect(after.eval_loss).toBeLessThan(before.eval_loss!);
    expect(after).toHaveProperty('eval_exact_match');
    const last = seen.at(-1)!;
    expect(last.predictions).toHaveLength(6);
    // Labels come back as written: no -100 padding; generation rows never start with the decoder start token.
    expect(last.labelIds).toEqual(copyData(6).column('labels'));
    for (const ids of last.predictions) expect(ids.length).toBeLessThanOrEqual(6);
  });

  it('checks its own arguments', () => {
    expect(() => new Seq2SeqTrainingArguments({ outputDir: root, generationNumBeams: 0 })).toThrow(
      /generationNumBeams: expected a whole number >= 1, got 0/,
    );
  });
});
