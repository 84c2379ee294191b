/**
 * A training step compiled for an optimizer: the glue between CompiledStep (backends/onnx/compiled_step.ts) and
 * an Optimizer. The step's state is every parameter the optimizer updates and its moments; its step scalars are
 * the optimizer's learning rates and bias corrections. Each new batch shape is recorded once, undone and replayed,
 * so every step is computed by a graph (a resumed run is bit-identical to an uninterrupted one); a replay whose
 * `loss` (or `gradNorm`, when the step returns one) is not finite does not write its weights back.
 */
import { CompiledStep, type CompiledStepOptions, type StateSlot } from '../backends/onnx/compiled_step.js';
import type { BaseHyperparameters, Optimizer } from '../optim/optimizer.js';
import { defaultGenerator } from '../tensor/random.js';

export function compileOptimizerStep<H extends BaseHyperparameters>(
  optimizer: Optimizer<H>,
  options: Pick<CompiledStepOptions, 'optimization'> = {},
): CompiledStep {
  optimizer.initializeState();
  const params = optimizer.paramGroups.flatMap((g) => g.params);
  // Built once: a step reads each buffer through its slot (loadStateDict replaces the buffers, not their names).
  const slots: StateSlot[] = params.map((p, i) => ({ name: `param.${i}`, tensor: p, set: (v) => void p.assign(v) }));
  for (const [name, { param, name: buffer }] of optimizer.stateTensors())
    slots.push({
      name,
      get tensor() {
        return optimizer.stateTensor(param, buffer);
      },
      set: (v) => optimizer.setStateTensor(param, buffer, v),
    });
  return new CompiledStep({
    ...options,
    state: () => slots,
    scalars: (into) => optimizer.nextStepScalars(optimizer.lastUpdated, into),
    accept: (outputs) =>
      Number.isFinite(outputs.loss!.item()) && (!outputs.gradNorm || Number.isFinite(outputs.gradNorm.item())),
    afterReplay: () => optimizer.countStep(optimizer.lastUpdated),
    snapshot: () => {
      const restoreStepCounts = optimizer.saveStepCounts();
      const random = defaultGenerator.getState();
      return () => {
        restoreStepCounts();
        defaultGenerator.setState(random);
      };
    },
  });
}
