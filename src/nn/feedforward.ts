import type { Generator } from '../tensor/random.js';
import type { Tensor } from '../tensor/tensor.js';
import * as ops from '../tensor/ops.js';
import * as F from './functional.js';
import { activation, Linear } from './layers.js';
import { Module } from './module.js';

/**
 * The position-wise feed-forward block of a transformer layer, (B, T, C) → (B, T, hidden) → (B, T, C). The functions
 * take the model's own projections (whatever their names and layout: Linear, GPT-2's Conv1D), so every model file
 * composes the same two blocks; the modules below are them with BART's and Llama's field names.
 */

/** Anything that maps (…, in) → (…, out): a Linear, GPT-2's Conv1D. */
export interface Projection {
  forward(x: Tensor): Tensor;
}

export interface FeedForwardCall {
  activation: (x: Tensor) => Tensor;
  /** Dropout on the hidden activations (applied only when `training`). */
  dropout?: number;
  training?: boolean;
}

/** down(dropout(act(up(x)))): the classic block (GPT-2, BERT-style encoders, BART, T5). */
export function feedForward(x: Tensor, up: Projection, down: Projection, call: FeedForwardCall): Tensor {
  const hidden = call.activation(up.forward(x)); // (B, T, hidden)
  return down.forward(F.dropout(hidden, call.dropout ?? 0, call.training ?? false));
}

/** down(dropout(act(gate(x)) · up(x))): the gated block (GLU variants: SwiGLU in Llama, GeGLU in T5 v1.1). */
export function gatedFeedForward(
  x: Tensor,
  gate: Projection,
  up: Projection,
  down: Projection,
  call: FeedForwardCall,
): Tensor {
  const gated = ops.mul(call.activation(gate.forward(x)), up.forward(x)); // (B, T, hidden)
  return down.forward(F.dropout(gated, call.dropout ?? 0, call.training ?? false));
}

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

  constructor(
    readonly dim: number,
    readonly hiddenDim: number,
    readonly options: FeedForwardOptions = {},
  ) {
    super();
    const { bias, std, generator } = options;
    this.act = activation(options.activation ?? 'relu');
    this.fc1 = new Linear(dim, hiddenDim, { bias, std, generator });
    this.fc2 = new Linear(hiddenDim, dim, { bias, std, generator });
  }

  forward(x: Tensor): Tensor {
    return feedForward(x, this.fc1, this.fc2, {
      activation: this.act,
      dropout: this.options.dropout,
      training: this.training,
    });
  }
}

/** SwiGLU (Shazeer 2020, Llama): down_proj(silu(gate_proj(x)) · up_proj(x)). Field names follow HF Llama. */
export class GatedFeedForward extends Module {
  gate_proj: Linear;
  up_proj: Linear;
  down_proj: Linear;

  constructor(
    readonly dim: number,
    readonly hiddenDim: number,
    readonly options: Omit<FeedForwardOptions, 'activation'> = {},
  ) {
    super();
    const init = { bias: options.bias ?? false, std: options.std, generator: options.generator };
    this.gate_proj = new Linear(dim, hiddenDim, init);
    this.up_proj = new Linear(dim, hiddenDim, init);
    this.down_proj = new Linear(hiddenDim, dim, init);
  }

  forward(x: Tensor): Tensor {
    const call = { activation: ops.silu, dropout: this.options.dropout, training: this.training };
    return gatedFeedForward(x, this.gate_proj, this.up_proj, this.down_proj, call);
  }
}

/** A FeedForward, or a GatedFeedForward when the activation is 'swiglu'. */
export function createFeedForward(
  dim: number,
  hiddenDim: number,
  options: FeedForwardOptions = {},
): FeedForward | GatedFeedForward {
  return options.activation === 'swiglu'
    ? new GatedFeedForward(dim, hiddenDim, options)
    : new FeedForward(dim, hiddenDim, options);
}
