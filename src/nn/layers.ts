import { randn, rand, zeros, ones } from '../tensor/creation.js';
import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { Module, Parameter } from './module.js';

export interface InitOptions {
  /** Normal(0, std) weights as Hugging Face initializes transformers; omitted: PyTorch's uniform ±1/sqrt(fan_in). */
  std?: number;
  generator?: Generator;
}

/** y = x Wᵀ + b, W (out, in). */
export class Linear extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: InitOptions & { bias?: boolean } = {},
  ) {
    super();
    const bound = 1 / Math.sqrt(inFeatures);
    const init = (shape: number[]): Tensor =>
      options.std !== undefined
        ? randn(shape, { std: options.std, generator: options.generator })
        : rand(shape, { low: -bound, high: bound, generator: options.generator });
    this.weight = new Parameter(init([outFeatures, inFeatures]));
    this.bias =
      options.bias === false
        ? null
        : new Parameter(options.std !== undefined ? zeros([outFeatures]) : init([outFeatures]));
  }

  forward(x: Tensor): Tensor {
    return F.linear(x, this.weight, this.bias);
  }
}

/** A lookup table (num, dim). */
export class Embedding extends Module {
  weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    options: InitOptions = {},
  ) {
    super();
    this.weight = new Parameter(
      randn([numEmbeddings, embeddingDim], { std: options.std ?? 1, generator: options.generator }),
    );
  }

  forward(ids: Tensor): Tensor {
    return F.embedding(ids, this.weight);
  }
}

export class LayerNorm extends Module {
  weight: Parameter;
  bias: Parameter | null;

  constructor(
    readonly dim: number,
    readonly eps = 1e-5,
    options: { bias?: boolean } = {},
  ) {
    super();
    this.weight = new Parameter(ones([dim]));
    this.bias = options.bias === false ? null : new Parameter(zeros([dim]));
  }

  forward(x: Tensor): Tensor {
    return F.layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm extends Module {
  weight: Parameter;

  constructor(
    readonly dim: number,
    readonly eps = 1e-6,
  ) {
    super();
    this.weight = new Parameter(ones([dim]));
  }

  forward(x: Tensor): Tensor {
    return F.rmsNorm(x, this.weight, this.eps);
  }
}

export class Dropout extends Module {
  constructor(
    readonly p = 0.1,
    readonly generator?: Generator,
  ) {
    super();
  }

  forward(x: Tensor): Tensor {
    return F.dropout(x, this.p, this.training, this.generator);
  }
}

export type ActivationName = 'relu' | 'gelu' | 'gelu_new' | 'gelu_pytorch_tanh' | 'silu' | 'swish' | 'tanh' | 'sigmoid';

/** Activation by its Hugging Face config name (`hidden_act`, `activation_function`). */
export function activation(name: string): (x: Tensor) => Tensor {
  switch (name) {
    case 'relu':
      return ops.relu;
    case 'gelu':
      return (x) => ops.gelu(x, 'none');
    case 'gelu_new':
    case 'gelu_pytorch_tanh':
    case 'gelu_fast':
      return (x) => ops.gelu(x, 'tanh');
    case 'silu':
    case 'swish':
      return ops.silu;
    case 'tanh':
      return ops.tanh;
    case 'sigmoid':
      return ops.sigmoid;
    default:
      throw new RangeError(
        `activation: unknown activation '${name}' (expected relu, gelu, gelu_new, silu, tanh or sigmoid)`,
      );
  }
}

export class Activation extends Module {
  private readonly fn: (x: Tensor) => Tensor;

  constructor(readonly kind: string) {
    super();
    this.fn = activation(kind);
  }

  forward(x: Tensor): Tensor {
    return this.fn(x);
  }
}
