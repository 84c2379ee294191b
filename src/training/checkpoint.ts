/**
 * Trainer checkpoints: `<outputDir>/checkpoint-<step>/` holding everything a resumed run needs to continue the same
 * trajectory, in Hugging Face's layout where one exists:
 *   model.safetensors (+ config.json)   the weights (savePretrained for pretrained models)
 *   optimizer.safetensors + optimizer.json   moments as tensors; step counts and hyperparameters as JSON
 *   scheduler.json                      the LR schedule's position
 *   rng_state.json                      the dropout generator and the collator's masking generator
 *   trainer_state.json                  the TrainerState (data position, log history, best metric)
 *   training_args.json
 * A checkpoint is written into a hidden temporary folder and renamed into place, so a crash leaves either the whole
 * checkpoint or none.
 */
import { existsSync, readdirSync } from 'node:fs';
import { readFile, rename, rm, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import type { Module } from '../nn/module.js';
import { CheckpointError, PreTrainedModel } from '../models/modeling_utils.js';
import type { AdamHyperparameters, LRScheduler, Optimizer, OptimizerStateDict } from '../optim/index.js';
import { defaultGenerator } from '../tensor/random.js';
import { Tensor } from '../tensor/tensor.js';
import { syncDirectory, writeFileAtomic } from '../util/fs.js';
import { processIsAlive } from '../util/process.js';
import type { TrainerState } from './callbacks.js';
import type { TrainingArguments } from './training_args.js';

export const CHECKPOINT_PREFIX = 'checkpoint-';
export const TRAINER_STATE = 'trainer_state.json';

// A bad training checkpoint is the same error as a bad model checkpoint: one class (models/modeling_utils.ts).
export { CheckpointError };

/** A collator whose randomness (MLM masking) must resume too. */
export interface StatefulCollator {
  state(): number[];
  setState(state: readonly number[]): void;
}

export interface TrainingSnapshot {
  model: Module;
  optimizer: Optimizer<AdamHyperparameters>;
  scheduler: LRScheduler;
  state: TrainerState;
  args: TrainingArguments;
  collator?: Partial<StatefulCollator>;
  /** Saved beside the weights, so the checkpoint folder is a usable model folder. */
  tokenizer?: { savePretrained(dir: string): Promise<void> };
}

interface RngState {
  generator: number[];
  collator?: number[];
}

/** JSON cannot hold NaN (the Generator's "no spare normal" marker): it travels as null. */
function generatorToJson(state: number[]): Array<number | null> {
  return state.map((v) => (Number.isNaN(v) ? null : v));
}

function generatorFromJson(state: Array<number | null>): number[] {
  return state.map((v) => (v === null ? Number.NaN : v));
}

/** Writes the model (and tokenizer, when given) as a Hugging Face folder. */
export async function saveModel(dir: string, model: Module, tokenizer?: TrainingSnapshot['tokenizer']): Promise<void> {
  if (model instanceof PreTrainedModel) await model.savePretrained(dir);
  else await saveSafetensors(join(dir, 'model.safetensors'), model.stateDict(), { metadata: { format: 'pt' } });
  if (tokenizer) await tokenizer.savePretrained(dir);
}

/** Copies saved weights into `model` in place (optimizer state keeps pointing at the same parameters). */
export async function loadModelWeights(dir: string, model: Module): Promise<void> {
  const file = join(dir, 'model.safetensors');
  if (!existsSync(file)) throw new CheckpointError(`${dir}: no model.safetensors (is this a checkpoint folder?)`);
  const { tensors } = await loadSafetensors(file);
  if (model instanceof PreTrainedModel) model.loadCheckpointTensors(tensors, file);
  else model.loadStateDict(tensors);
}

/**
 * Loads into `model` the mean of the float weights of several checkpoint folders (checkpoint averaging, as
 * fairseq's average_checkpoints.py: the last few checkpoints of a run usually translate better averaged than any
 * one of them). Integer tensors must agree and are kept.
 */
export async function averageCheckpoints(dirs: readonly string[], model: Module): Promise<void> {
  if (dirs.length === 0) throw new CheckpointError('averageCheckpoints: no checkpoint folders given');
  const state = [...model.stateDict()].filter(([, t]) => t.dtype === 'float32');
  const sums = state.map(([, t]) => new Float64Array(t.size));
  for (const dir of dirs) {
    await loadModelWeights(dir, model);
    state.forEach(([, t], i) => {
      const values = t.data;
      const sum = sums[i]!;
      for (let j = 0; j < values.length; j++) sum[j]! += values[j]!;
    });
  }
  state.forEach(([, t], i) =>
    t.assign(
      new Tensor(
        Float32Array.from(sums[i]!, (v) => v / dirs.length),
        t.shape,
      ),
    ),
  );
}

/** Staging folders: `.tmp-checkpoint-<step>-<pid of the writer>`. */
const STAGING = new RegExp(`^\\.tmp-${CHECKPOINT_PREFIX}\\d+-(\\d+)$`);

/**
 * Removes the staging folders of checkpoints whose writing never finished: those of processes that are gone (a
 * crash, a kill) and this process's own earlier failed attempts. A living process's staging is left alone (two runs
 * may share an output folder). Returns the folders removed.
 */
export async function removeStaleStaging(outputDir: string): Promise<string[]> {
  if (!existsSync(outputDir)) return [];
  const stale = readdirSync(outputDir).filter((name) => {
    const pid = STAGING.exec(name)?.[1];
    return pid !== undefined && (Number(pid) === process.pid || !processIsAlive(Number(pid)));
  });
  for (const name of stale) await rm(join(outputDir, name), { recursive: true, force: true });
  return stale.map((name) => join(outputDir, name));
}

export async function saveCheckpoint(dir: string, snapshot: TrainingSnapshot): Promise<void> {
  const { model, optimizer, scheduler, state, args, collator, tokenizer } = snapshot;
  const parent = join(dir, '..');
  const staging = join(parent, `.tmp-${dir.split(/[\\/]/).pop()}-${process.pid}`);
  await removeStaleStaging(parent);
  await mkdir(staging, { recursive: true });
  await saveModel(staging, model, tokenizer);
  const { state: moments, paramGroups } = optimizer.stateDict();
  const tensors = new Map<string, Tensor>();
  const steps: Record<string, number> = {};
  for (const [index, entry] of Object.entries(moments)) {
    steps[index] = entry.step;
    for (const [name, t] of Object.entries(entry.buffers)) tensors.set(`state.${index}.${name}`, t);
  }
  await saveSafetensors(join(staging, 'optimizer.safetensors'), tensors);
  await writeJson(join(staging, 'optimizer.json'), { steps, paramGroups });
  await writeJson(join(staging, 'scheduler.json'), scheduler.stateDict());
  const rng: RngState = { generator: generatorToJson(defaultGenerator.getState()) as number[] };
  if (collator?.state) rng.collator = collator.state();
  await writeJson(join(staging, 'rng_state.json'), rng);
  await writeJson(join(staging, TRAINER_STATE), state);
  await writeJson(join(staging, 'training_args.json'), args.toJSON());
  await rm(dir, { recursive: true, force: true });
  await rename(staging, dir);
  // The files inside were flushed as they were written; this makes the rename itself survive a power cut.
  await syncDirectory(parent);
}

/** Restores model, optimizer, scheduler and RNG state in place; returns the saved TrainerState. */
export async function loadCheckpoint(
  dir: string,
  target: Omit<TrainingSnapshot, 'state' | 'args'>,
): Promise<TrainerState> {
  if (!existsSync(join(dir, TRAINER_STATE)))
    throw new CheckpointError(`${dir}: not a checkpoint (no ${TRAINER_STATE})`);
  await loadModelWeights(dir, target.model);
  const { tensors } = await loadSafetensors(join(dir, 'optimizer.safetensors'));
  const { steps, paramGroups } = (await readJson(join(dir, 'optimizer.json'))) as {
    steps: Record<string, number>;
    paramGroups: OptimizerStateDict<AdamHyperparameters>['paramGroups'];
  };
  const state: OptimizerStateDict<AdamHyperparameters>['state'] = {};
  for (const [index, step] of Object.entries(steps)) state[Number(index)] = { step, buffers: {} };
  for (const [name, t] of tensors) {
    const [, index, buffer] = name.split('.');
    const entry = state[Number(index)];
    if (!entry || !buffer)
      throw new CheckpointError(`${dir}/optimizer.safetensors: tensor '${name}' has no step count in optimizer.json`);
    entry.buffers[buffer] = t;
  }
  target.optimizer.loadStateDict({ state, paramGroups });
  target.scheduler.loadStateDict((await readJson(join(dir, 'scheduler.json'))) as ReturnType<LRScheduler['stateDict']>);
  const rng = (await readJson(join(dir, 'rng_state.json'))) as { generator: Array<number | null>; collator?: number[] };
  defaultGenerator.setState(generatorFromJson(rng.generator));
  if (rng.collator) {
    if (!target.collator?.setState)
      throw new CheckpointError(
        `${dir}/rng_state.json: holds collator state, but this trainer's collator has no setState()`,
      );
    target.collator.setState(rng.collator);
  }
  return (await readJson(join(dir, TRAINER_STATE))) as TrainerState;
}

/** Checkpoint folders under `outputDir`, oldest (lowest step) first. */
export function listCheckpoints(outputDir: string): string[] {
  if (!existsSync(outputDir)) return [];
  return readdirSync(outputDir)
    .filter((name) => new RegExp(`^${CHECKPOINT_PREFIX}\\d+$`).test(name))
    .sort((a, b) => Number(a.slice(CHECKPOINT_PREFIX.length)) - Number(b.slice(CHECKPOINT_PREFIX.length)))
    .map((name) => join(outputDir, name));
}

/** Deletes the oldest checkpoints beyond `limit`, never the best one. */
export async function rotateCheckpoints(outputDir: string, limit: number | null, keep: string | null): Promise<void> {
  if (limit === null) return;
  const all = listCheckpoints(outputDir);
  const removable = all.filter((dir) => dir !== keep);
  const excess = all.length - limit;
  for (const dir of removable.slice(0, Math.max(0, excess))) await rm(dir, { recursive: true, force: true });
}

export async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${path}: cannot read (${(err as Error).message})`);
  }
}
