import { describe, expect, it } from 'vitest';
import { Tensor, tensor } from '../../src/tensor/index.js';
import { Parameter } from '../../src/nn/index.js';
import { Adam, AdamW, SGD, type Optimizer, type BaseHyperparameters } from '../../src/optim/index.js';

/**
 * Parameter trajectories recorded from torch 1.13 (float32) for loss = Σ (½·c·p² + d·p), so grad = c·p + d:
 *   p = [0.5, -1, 2, -0.25], c = [1, 2, 0.5, -1], d = [0.1, -0.2, 0.3, 0.05], five steps, p after each.
 * The script that produced them is in notes/issue-2-nn.md.
 */
const TORCH: Record<string, number[][]> = {
  sgd: [
    [0.4399999976158142, -0.7799999713897705, 1.8700000047683716, -0.2800000011920929],
    [0.38600000739097595, -0.6039999723434448, 1.746500015258789, -0.31299999356269836],
    [0.33740001916885376, -0.4631999731063843, 1.629175066947937, -0.34929999709129333],
    [0.2936600148677826, -0.3505599796772003, 1.5177162885665894, -0.38922998309135437],
    [0.2542940080165863, -0.26044797897338867, 1.4118304252624512, -0.433152973651886],
  ],
  sgd_momentum_wd: [
    [0.43950000405311584, -0.7789999842643738, 1.8680000305175781, -0.2797499895095825],
    [0.33609944581985474, -0.4211789071559906, 1.6364588737487793, -0.33595070242881775],
    [0.20348751544952393, -0.004948699381202459, 1.3259583711624146, -0.4209645688533783],
    [0.056639764457941055, 0.3885537087917328, 0.9586464166641235, -0.539484977722168],
    [-0.08967176824808121, 0.6904165148735046, 0.5570637583732605, -0.6987214684486389],
  ],
  sgd_nesterov: [
    [0.38600000739097595, -0.5820000171661377, 1.753000020980835, -0.3070000112056732],
    [0.2450600117444992, -0.1446400135755539, 1.4241650104522705, -0.3991300165653229],
    [0.09639260172843933, 0.2191871702671051, 1.0418028831481934, -0.5352517366409302],
    [-0.043667253106832504, 0.45730531215667725, 0.632793128490448, -0.728537380695343],
    [-0.1627490073442459, 0.5572893023490906, 0.22145012021064758, -0.9977439045906067],
  ],
  adam: [
    [0.4000000059604645, -0.8999999761581421, 1.899999976158142, -0.3499999940395355],
    [0.3008826971054077, -0.800361156463623, 1.8001214265823364, -0.44973230361938477],
    [0.2035416066646576, -0.7013824582099915, 1.7004520893096924, -0.5494158267974854],
    [0.10918308049440384, -0.6034141182899475, 1.6010851860046387, -0.6492751836776733],
    [0.019381485879421234, -0.5068637132644653, 1.5021190643310547, -0.7495037913322449],
  ],
  adam_wd: [
    [0.4000001549720764, -0.9000000357627869, 1.9000000953674316, -0.34999963641166687],
    [0.30096864700317383, -0.8003946542739868, 1.800140380859375, -0.4498501718044281],
    [0.2039085477590561, -0.7015100717544556, 1.7005213499069214, -0.5497999787330627],
    [0.11023034900426865, -0.6037299633026123, 1.6012475490570068, -0.6500810384750366],
    [0.0218890979886055, -0.5075057744979858, 1.5024272203445435, -0.750873863697052],
  ],
  adamw: [
    [0.39500001072883606, -0.8899999856948853, 1.8799999952316284, -0.3474999964237213],
    [0.2920042872428894, -0.7815122008323669, 1.7613509893417358, -0.44378387928009033],
    [0.19195659458637238, -0.6748629212379456, 1.644148349761963, -0.5390806198120117],
    [0.09612186253070831, -0.5704334378242493, 1.5284925699234009, -0.6336196660995483],
    [0.0061299800872802734, -0.4686652719974518, 1.4144891500473022, -0.7275963425636292],
  ],
};

const c = [1, 2, 0.5, -1];
const d = [0.1, -0.2, 0.3, 0.05];

function newParam(): Parameter {
  return new Parameter(tensor([0.5, -1, 2, -0.25]));
}

function setQuadraticGrad(p: Parameter): void {
  const v = p.data;
  p.grad = tensor(Array.from(v, (x, i) => c[i]! * x + d[i]!));
}

function trajectory(make: (params: Tensor[]) => Optimizer<BaseHyperparameters>, steps = 5): number[][] {
  const p = newParam();
  const opt = make([p]);
  const out: number[][] = [];
  for (let i = 0; i < steps; i++) {
    opt.zeroGrad();
    setQuadraticGrad(p);
    opt.step();
    out.push(Array.from(p.data));
  }
  return out;
}

function expectTrajectory(actual: number[][], expected: number[][]): void {
  expect(actual.length).toBe(expected.length);
  actual.forEach((row, step) =>
    row.forEach((v, i) => expect(v, `step ${step + 1}, value ${i}`).toBeCloseTo(expected[step]![i]!, 5)),
  );
}

describe('optimizers match torch.optim', () => {
  it('SGD', () =>
    expectTrajectory(
      trajectory((ps) => new SGD(ps, { lr: 0.1 })),
      TORCH.sgd!,
    ));
  it('SGD with momentum, dampening and weight decay', () =>
    expectTrajectory(
      trajectory((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01 })),
      TORCH.sgd_momentum_wd!,
    ));
  it('SGD with Nesterov momentum', () =>
    expectTrajectory(
      trajectory((ps) => new SGD(ps, { lr: 0.1, momentum: 0.9, nesterov: true })),
      TORCH.sgd_nesterov!,
    ));
  it('Adam', () =>
    expectTrajectory(
      trajectory((ps) => new Adam(ps, { lr: 0.1 })),
      TORCH.adam!,
    ));
  it('Adam with L2 weight decay, custom betas and eps', () =>
    expectTrajectory(
      trajectory((ps) => new Adam(ps, { lr: 0.1, betas: [0.8, 0.9], eps: 1e-6, weightDecay: 0.1 })),
      TORCH.adam_wd!,
    ));
  it('AdamW (decoupled weight decay)', () =>
    expectTrajectory(
      trajectory((ps) => new AdamW(ps, { lr: 0.1, weightDecay: 0.1 })),
      TORCH.adamw!,
    ));

  it('AdamW first step equals the hand-computed formula', () => {
    // Step 1: m̂ = g, v̂ = g², so p ← p(1 − lr·wd) − lr·g / (|g| + eps).
    const p = newParam();
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    setQuadraticGrad(p);
    const before = Array.from(p.data);
    const g = Array.from(p.grad!.data);
    opt.step();
    before.forEach((x, i) =>
      expect(p.data[i]).toBeCloseTo(x * (1 - 0.01) - (0.1 * g[i]!) / (Math.abs(g[i]!) + 1e-8), 6),
    );
  });

  it('skips parameters without a gradient and applies per-group hyperparameters', () => {
    const a = newParam();
    const b = newParam();
    const frozen = newParam();
    const opt = new SGD([{ params: [a] }, { params: [b, frozen], lr: 0.2 }], { lr: 0.1 });
    setQuadraticGrad(a);
    setQuadraticGrad(b);
    opt.step();
    expect(a.data[0]).toBeCloseTo(0.5 - 0.1 * 0.6, 6);
    expect(b.data[0]).toBeCloseTo(0.5 - 0.2 * 0.6, 6);
    expect(Array.from(frozen.data)).toEqual([0.5, -1, 2, -0.25]);
  });

  it('rejects a parameter listed twice and nesterov without momentum', () => {
    const p = newParam();
    expect(() => new SGD([{ params: [p] }, { params: [p] }], { lr: 0.1 })).toThrow(/appears twice/);
    expect(() => new SGD([p], { lr: 0.1, nesterov: true })).toThrow(/nesterov/);
  });

  it('stateDict / loadStateDict resume the same trajectory', () => {
    const p = newParam();
    const opt = new AdamW([p], { lr: 0.1, weightDecay: 0.1 });
    for (let i = 0; i < 2; i++) {
      setQuadraticGrad(p);
      opt.step();
    }
    const saved = opt.stateDict();
    expect(saved.state[0]!.step).toBe(2);
    expect(Object.keys(saved.state[0]!.buffers).sort()).toEqual(['exp_avg', 'exp_avg_sq']);
    expect(saved.paramGroups[0]).toMatchObject({ lr: 0.1, weightDecay: 0.1, params: [0] });

    // A fresh optimizer over a copy of the parameter continues exactly where the first left off.
    const copy = new Parameter(tensor(Array.from(p.data)));
    const resumed = new AdamW([copy], { lr: 0.5 });
    resumed.loadStateDict(saved);
    expect(resumed.paramGroups[0]!.lr).toBe(0.1);
    for (let i = 0; i < 3; i++) {
      setQuadraticGrad(copy);
      resumed.step();
    }
    expectTrajectory([Array.from(copy.data)], [TORCH.adamw![4]!]);
  });

  it('loadStateDict names mismatched checkpoints', () => {
    const p = newParam();
    const opt = new Adam([p]);
    setQuadraticGrad(p);
    opt.step();
    const saved = opt.stateDict();
    const other = new Adam([new Parameter(tensor([1, 2]))]);
    expect(() => other.loadStateDict(saved)).toThrow(/exp_avg.*parameter 0 has shape \[4\], the parameter \[2\]/);
    expect(() => new Adam([p, newParam()]).loadStateDict(saved)).toThrow(
      /group 0 has 1 parameters in the checkpoint, 2 here/,
    );
  });
});

describe('in-place updates', () => {
  it('reach tensors that share the parameter buffer (tied weights, views)', () => {
    const p = newParam();
    const view = p.reshape([2, 2]);
    setQuadraticGrad(p);
    new SGD([p], { lr: 0.1 }).step();
    expect(view.data[0]).toBeCloseTo(0.44, 6);
  });
});
