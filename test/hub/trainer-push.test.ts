// Trainer push_to_hub: at the end of training the trained weights (and the tokenizer the model came with) are
// committed to hubModelId, and load back by name with the same values.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dataset } from '../../src/data/index.js';
import { listRepoFiles, modelInfo } from '../../src/hub/index.js';
import { startHubServer, type RunningHubServer } from '../../src/hub/server/server.js';
import { AutoModelForSequenceClassification } from '../../src/models/auto/index.js';
import { Trainer, TrainingArguments } from '../../src/training/index.js';
import { tinyClassifier } from '../pipelines/tiny-models.js';
import { makeTokens, tempDir } from './helpers.js';

describe('Trainer pushToHub', () => {
  let hub: RunningHubServer;
  let token: string;
  const savedEndpoint = process.env.HF_ENDPOINT;
  beforeAll(async () => {
    const data = tempDir('data');
    token = (await makeTokens(data)).alice;
    hub = await startHubServer({ dataDir: data });
    // Users name the hub with HF_ENDPOINT; the token comes from hubToken.
    process.env.HF_ENDPOINT = hub.url;
  });
  afterAll(async () => {
    if (savedEndpoint === undefined) delete process.env.HF_ENDPOINT;
    else process.env.HF_ENDPOINT = savedEndpoint;
    await hub.close();
  });

  it('commits the trained model and its tokenizer to hubModelId when training ends', async () => {
    const folder = await tinyClassifier(['NEGATIVE', 'POSITIVE'], 21);
    const model = await AutoModelForSequenceClassification.fromPretrained(folder);
    const before = model.stateDict().get('classifier.weight')!.data.slice();
    const rows = [
      { input_ids: [2, 10, 11, 3], label: 1 },
      { input_ids: [2, 12, 13, 3], label: 0 },
    ];
    const args = new TrainingArguments({
      outputDir: tempDir('out'),
      maxSteps: 2,
      learningRate: 0.05,
      perDeviceTrainBatchSize: 2,
      saveStrategy: 'no',
      progress: false,
      pushToHub: true,
      hubModelId: 'alice/trained',
      hubToken: token,
    });
    const trainer = new Trainer({ model, args, trainDataset: Dataset.fromRecords(rows, 'toy') });
    const connection = { endpoint: hub.url, token };
    await trainer.train();

    const trained = model.stateDict().get('classifier.weight')!.data;
    expect(trained).not.toEqual(before);
    const files = (await listRepoFiles('alice/trained', connection)).map((entry) => entry.path);
    expect(files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors', 'vocab.txt', 'README.md']));
    expect((await modelInfo('alice/trained', connection)).cardData?.tags).toEqual(['generated_from_trainer']);
    const back = await AutoModelForSequenceClassification.fromPretrained('alice/trained', {
      ...connection,
      cacheDir: tempDir('cache'),
    });
    expect(back.stateDict().get('classifier.weight')!.data).toEqual(trained);
  });

  it('refuses pushToHub without a repo id, naming the field', () => {
    expect(() => new TrainingArguments({ outputDir: tempDir('out'), pushToHub: true })).toThrow(
      "TrainingArguments: pushToHub needs hubModelId as 'namespace/name', got null",
    );
  });
});
