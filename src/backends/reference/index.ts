/**
 * The reference backend: every primitive as a plain TypeScript loop over contiguous row-major data, following
 * the ONNX opset 18 semantics of the op the onnx backend lowers it to. Simple over fast; the engine's tests hold
 * the onnx backend to it.
 */
import type { Backend, KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backend.js';
import { expectArity } from './common.js';
import {
  arithmetic,
  cast,
  compare,
  cPow,
  erf,
  logical,
  sigmoid,
  truncatingDivide,
  unary,
  where,
} from './elementwise.js';
import { gemm, matmul } from './matmul.js';
import {
  concat,
  cumsum,
  expand,
  pad,
  gather,
  gatherElements,
  scatterAdd,
  slice,
  transpose,
  trilu,
} from './movement.js';
import { geluErf, geluTanh, layerNorm, softmax } from './nn.js';
import { quantizedMatmul } from './quantized.js';
import { argMax, MAX, MIN, reduce, SUM } from './reduce.js';

type Kernel<K extends PrimitiveOp> = (inputs: KernelTensor[], attrs: PrimitiveAttrs[K]) => KernelTensor;

/** How many inputs each op takes; concat takes one or more. */
const ARITY: Record<PrimitiveOp, number | 'variadic'> = {
  neg: 1,
  abs: 1,
  exp: 1,
  log: 1,
  sqrt: 1,
  reciprocal: 1,
  tanh: 1,
  sigmoid: 1,
  relu: 1,
  erf: 1,
  sin: 1,
  cos: 1,
  add: 2,
  sub: 2,
  mul: 2,
  div: 2,
  pow: 2,
  maximum: 2,
  minimum: 2,
  equal: 2,
  less: 2,
  lessEqual: 2,
  greater: 2,
  greaterEqual: 2,
  and: 2,
  or: 2,
  not: 1,
  where: 3,
  cast: 1,
  reduceSum: 1,
  reduceMax: 1,
  reduceMin: 1,
  argMax: 1,
  matmul: 2,
  gemm: 'variadic',
  layerNorm: 3,
  gelu: 1,
  transpose: 1,
  slice: 1,
  concat: 'variadic',
  pad: 1,
  expand: 1,
  gather: 2,
  gatherElements: 2,
  scatterAdd: 3,
  softmax: 1,
  logSoftmax: 1,
  trilu: 1,
  cumsum: 1,
  quantizedMatmul: 'variadic',
};

const SIGNED: ['float32', 'int32'] = ['float32', 'int32'];

const KERNELS: { [K in PrimitiveOp]: Kernel<K> } = {
  neg: ([x]) => unary('neg', x!, (v) => -v, SIGNED),
  abs: ([x]) => unary('abs', x!, Math.abs, SIGNED),
  exp: ([x]) => unary('exp', x!, Math.exp),
  log: ([x]) => unary('log', x!, Math.log),
  sqrt: ([x]) => unary('sqrt', x!, Math.sqrt),
  reciprocal: ([x]) => unary('reciprocal', x!, (v) => 1 / v),
  tanh: ([x]) => unary('tanh', x!, Math.tanh),
  sigmoid: ([x]) => unary('sigmoid', x!, sigmoid),
  relu: ([x]) => unary('relu', x!, (v) => (v < 0 ? 0 : v), SIGNED),
  erf: ([x]) => unary('erf', x!, erf),
  sin: ([x]) => unary('sin', x!, Math.sin),
  cos: ([x]) => unary('cos', x!, Math.cos),

  add: ([a, b]) => arithmetic('add', a!, b!, { float: (x, y) => x + y }),
  sub: ([a, b]) => arithmetic('sub', a!, b!, { float: (x, y) => x - y }),
  // Math.imul: an int32 product can exceed 2^53, where a double product loses the low bits that wrapping keeps.
  mul: ([a, b]) => arithmetic('mul', a!, b!, { float: (x, y) => x * y, int: Math.imul }),
  div: ([a, b]) => arithmetic('div', a!, b!, { float: (x, y) => x / y, int: truncatingDivide }),
  pow: ([a, b]) => arithmetic('pow', a!, b!, { float: cPow }),
  maximum: ([a, b]) => arithmetic('maximum', a!, b!, { float: Math.max }),
  minimum: ([a, b]) => arithmetic('minimum', a!, b!, { float: Math.min }),

  equal: ([a, b]) => compare('equal', a!, b!, (x, y) => +(x === y), ['float32', 'int32', 'bool']),
  less: ([a, b]) => compare('less', a!, b!, (x, y) => +(x < y)),
  lessEqual: ([a, b]) => compare('lessEqual', a!, b!, (x, y) => +(x <= y)),
  greater: ([a, b]) => compare('greater', a!, b!, (x, y) => +(x > y)),
  greaterEqual: ([a, b]) => compare('greaterEqual', a!, b!, (x, y) => +(x >= y)),
  and: ([a, b]) => logical('and', a!, b!, (x, y) => x & y),
  or: ([a, b]) => logical('or', a!, b!, (x, y) => x | y),
  not: ([x]) => unary('not', x!, (v) => 1 - v, ['bool']),
  where: ([cond, a, b]) => where(cond!, a!, b!),
  cast: ([x], { to }) => cast(x!, to),

  reduceSum: ([x], { axes, keepdims }) => reduce('reduceSum', x!, axes, keepdims, SUM),
  reduceMax: ([x], { axes, keepdims }) => reduce('reduceMax', x!, axes, keepdims, MAX),
  reduceMin: ([x], { axes, keepdims }) => reduce('reduceMin', x!, axes, keepdims, MIN),
  argMax: ([x], { axis, keepdims }) => argMax(x!, axis, keepdims),
  matmul: ([a, b]) => matmul(a!, b!),
  gemm: (inputs, { transA, transB }) => gemm(inputs, transA, transB),
  layerNorm: ([x, scale, bias], { epsilon }) => layerNorm(x!, scale!, bias!, epsilon),
  gelu: ([x], { approximate }) => unary('gelu', x!, approximate === 'tanh' ? geluTanh : geluErf),

  transpose: ([x], { perm }) => transpose(x!, perm),
  slice: ([x], { starts, ends, steps }) => slice(x!, starts, ends, steps),
  pad: ([x], { pads, value }) => pad(x!, pads, value),
  concat: (inputs, { axis }) => concat(inputs, axis),
  expand: ([x], { shape }) => expand(x!, shape),
  gather: ([data, indices], { axis }) => gather(data!, indices!, axis),
  gatherElements: ([data, indices], { axis }) => gatherElements(data!, indices!, axis),
  scatterAdd: ([data, indices, updates], { axis }) => scatterAdd(data!, indices!, updates!, axis),
  softmax: ([x], { axis }) => softmax('softmax', x!, axis),
  logSoftmax: ([x], { axis }) => softmax('logSoftmax', x!, axis),
  trilu: ([x], { upper, k }) => trilu(x!, upper, k),
  cumsum: ([x], { axis }) => cumsum(x!, axis),
  quantizedMatmul: (inputs, attrs) => quantizedMatmul(inputs, attrs),
};

export const referenceBackend: Backend = {
  name: 'reference',
  run<K extends PrimitiveOp>(op: K, inputs: KernelTensor[], attrs: PrimitiveAttrs[K]): KernelTensor {
    const kernel = KERNELS[op] as Kernel<K> | undefined;
    if (kernel === undefined) throw new TypeError(`reference backend: unknown op "${String(op)}"`);
    if (ARITY[op] !== 'variadic') expectArity(op, inputs, ARITY[op] as number);
    return kernel(inputs, attrs);
  },
};
