import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { activation, Linear } from './layers.js';
import { Module } from './module.js';

/** The position-wise feed-forward block of a transformer layer. */

export interface FeedForwardOptions {
  /** An HF activation name ('relu', 'gelu', 'gelu_new', 'silu', …) or 'swiglu' for Llama's gated block. */
  activation?: string;
  bias?: boolean;
  /** Dropout after the activation while training. */
  dropout?: number;
  std?: number;
  generator?: Generator;
}

/** fc2(dropout(act(fc1(x)))): (B, T, C) → (B, T, C) through (B, T, hidden). Field names follow HF BART. */
export class FeedForward extends Module {
  fc1: Linear;
  fc2: Linear;
  private readonly act: (x: Tensor) => Tensor;

  constructor(readonly dim: number, readonly hiddenDim: number, readonly options: FeedForwardOptions = {}) {
    super();
    const { bias, std, generator } = options;
    this.act = activation(options.activation ?? 'relu');
    this.fc1 = new Linear(dim, hiddenDim, { bias, std, generator });
    this.fc2 = new Linear(hiddenDim, dim, { bias, std, generator });
  }

  forward(x: Tensor): Tensor {
    const h = this.act(this.fc1.forward(x)); // (B, T, hidden)
    return this.fc2.forward(F.dropout(h, this.options.dropout ?? 0, this.training));
  }
}

/** SwiGLU (Shazeer 2020, Llama): down_proj(silu(gate_proj(x)) · up_proj(x)). Field names follow HF Llama. */
export class GatedFeedForward extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;

  constructor(readonly dim: number, readonly hiddenDim: number, readonly options: Omit<FeedForwardOptions, 'activation'> = {}) {
    super();
    const init = { bias: options.bias ?? false, std: options.std, generator: options.generator };
    this.gate_proj = new Linear(dim, hiddenDim, init);
    this.up_proj = new Linear(dim, hiddenDim, init);
    this.down_proj = new Linear(hiddenDim, dim, init);
  }

  forward(x: Tensor): Tensor {
    const gated = ops.mul(ops.silu(this.gate_proj.forward(x)), this.up_proj.forward(x)); // (B, T, hidden)
    return this.down_proj.forward(F.dropout(gated, this.options.dropout ?? 0, this.training));
  }
}

/** A FeedForward, or a GatedFeedForward when the activation is 'swiglu'. */
export function createFeedForward(dim: number, hiddenDim: number, options: FeedForwardOptions = {}): FeedForward | GatedFeedForward {
  return options.activation === 'swiglu' ? new GatedFeedForward(dim, hiddenDim, options) : new FeedForward(dim, hiddenDim, options);
}
