import type { DType } from '../../tensor/dtype.js';
import type { PrimitiveAttrs, PrimitiveOp } from '../backend.js';
import type { GraphSpec, NodeSpec, TensorInit } from './protobuf.js';

/**
 * Lowers one primitive op to ONNX nodes with static attributes (constants become initializers). Inputs are named
 * x0, x1, …; the result is `y`; no other name may look like an input. Every primitive lowers this way, so a sequence of them can be stitched into one
 * graph by renaming.
 */
export interface Lowered {
  nodes: NodeSpec[];
  initializers: TensorInit[];
}

/** Primitives that are exactly one ONNX op with no attributes. */
const DIRECT: Partial<Record<PrimitiveOp, string>> = {
  neg: 'Neg',
  abs: 'Abs',
  exp: 'Exp',
  log: 'Log',
  sqrt: 'Sqrt',
  reciprocal: 'Reciprocal',
  tanh: 'Tanh',
  sigmoid: 'Sigmoid',
  relu: 'Relu',
  erf: 'Erf',
  sin: 'Sin',
  cos: 'Cos',
  not: 'Not',
  matmul: 'MatMul',
  add: 'Add',
  sub: 'Sub',
  mul: 'Mul',
  div: 'Div',
  pow: 'Pow',
  maximum: 'Max',
  minimum: 'Min',
  equal: 'Equal',
  less: 'Less',
  lessEqual: 'LessOrEqual',
  greater: 'Greater',
  greaterEqual: 'GreaterOrEqual',
  and: 'And',
  or: 'Or',
  where: 'Where',
};

const ONNX_DTYPE: Record<DType, number> = { float32: 1, int32: 6, bool: 9 };

function floatScalar(name: string, value: number): TensorInit {
  return { name, type: 'float32', dims: [], values: [value] };
}

/** 0.5·x·(1 + erf(x/√2)) */
function geluErf(): Lowered {
  return {
    nodes: [
      { op: 'Mul', inputs: ['x0', 'invSqrt2'], outputs: ['scaled'] },
      { op: 'Erf', inputs: ['scaled'], outputs: ['erf'] },
      { op: 'Add', inputs: ['erf', 'one'], outputs: ['onePlus'] },
      { op: 'Mul', inputs: ['x0', 'onePlus'], outputs: ['prod'] },
      { op: 'Mul', inputs: ['prod', 'half'], outputs: ['y'] },
    ],
    initializers: [floatScalar('invSqrt2', Math.SQRT1_2), floatScalar('one', 1), floatScalar('half', 0.5)],
  };
}

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) */
function geluTanh(): Lowered {
  return {
    nodes: [
      { op: 'Mul', inputs: ['x0', 'x0'], outputs: ['square'] },
      { op: 'Mul', inputs: ['square', 'x0'], outputs: ['cube'] },
      { op: 'Mul', inputs: ['cube', 'coeff'], outputs: ['cubic'] },
      { op: 'Add', inputs: ['x0', 'cubic'], outputs: ['inner'] },
      { op: 'Mul', inputs: ['inner', 'sqrt2OverPi'], outputs: ['scaled'] },
      { op: 'Tanh', inputs: ['scaled'], outputs: ['tanh'] },
      { op: 'Add', inputs: ['tanh', 'one'], outputs: ['onePlus'] },
      { op: 'Mul', inputs: ['x0', 'onePlus'], outputs: ['prod'] },
      { op: 'Mul', inputs: ['prod', 'half'], outputs: ['y'] },
    ],
    initializers: [
      floatScalar('coeff', 0.044715),
      floatScalar('sqrt2OverPi', Math.sqrt(2 / Math.PI)),
      floatScalar('one', 1),
      floatScalar('half', 0.5),
    ],
  };
}

function int64s(name: string, values: number[]): TensorInit {
  return { name, type: 'int64', dims: [values.length], values };
}

function int64Scalar(name: string, value: number): TensorInit {
  return { name, type: 'int64', dims: [], values: [value] };
}

export function lower<K extends PrimitiveOp>(op: K, arity: number, attrs: PrimitiveAttrs[K]): Lowered {
  const xs = Array.from({ length: arity }, (_, i) => `x${i}`);
  const simple = DIRECT[op];
  if (simple) return { nodes: [{ op: simple, inputs: xs, outputs: ['y'] }], initializers: [] };
  const a = attrs as Record<string, unknown>;
  switch (op) {
    case 'cast':
      return {
        nodes: [{ op: 'Cast', inputs: xs, outputs: ['y'], attrs: { to: ONNX_DTYPE[a.to as DType] } }],
        initializers: [],
      };
    case 'reduceSum':
    case 'reduceMax':
    case 'reduceMin': {
      const onnxOp = op === 'reduceSum' ? 'ReduceSum' : op === 'reduceMax' ? 'ReduceMax' : 'ReduceMin';
      const axes = a.axes as number[];
      const keepdims = a.keepdims ? 1 : 0;
      // No axes input means "reduce everything" in opset 18.
      if (axes.length === 0)
        return { nodes: [{ op: onnxOp, inputs: ['x0'], outputs: ['y'], attrs: { keepdims } }], initializers: [] };
      return {
        nodes: [{ op: onnxOp, inputs: ['x0', 'axes'], outputs: ['y'], attrs: { keepdims } }],
        initializers: [int64s('axes', axes)],
      };
    }
    case 'argMax':
      return {
        nodes: [
          {
            op: 'ArgMax',
            inputs: ['x0'],
            outputs: ['i64'],
            attrs: { axis: a.axis as number, keepdims: a.keepdims ? 1 : 0 },
          },
          { op: 'Cast', inputs: ['i64'], outputs: ['y'], attrs: { to: ONNX_DTYPE.int32 } },
        ],
        initializers: [],
      };
    case 'gemm':
      return {
        nodes: [
          { op: 'Gemm', inputs: xs, outputs: ['y'], attrs: { transA: a.transA ? 1 : 0, transB: a.transB ? 1 : 0 } },
        ],
        initializers: [],
      };
    case 'layerNorm':
      return {
        nodes: [
          {
            op: 'LayerNormalization',
            inputs: xs,
            outputs: ['y'],
            attrs: { axis: -1, epsilon: { float: a.epsilon as number } },
          },
        ],
        initializers: [],
      };
    case 'gelu':
      return a.approximate === 'tanh' ? geluTanh() : geluErf();
    case 'transpose':
      return {
        nodes: [{ op: 'Transpose', inputs: xs, outputs: ['y'], attrs: { perm: a.perm as number[] } }],
        initializers: [],
      };
    case 'slice': {
      const starts = a.starts as number[];
      return {
        nodes: [{ op: 'Slice', inputs: ['x0', 'starts', 'ends', 'axes', 'steps'], outputs: ['y'] }],
        initializers: [
          int64s(
            'axes',
            starts.map((_, i) => i),
          ),
        ],
      };
    }
    case 'concat':
      return {
        nodes: [{ op: 'Concat', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number } }],
        initializers: [],
      };
    case 'pad':
      return {
        nodes: [{ op: 'Pad', inputs: ['x0', 'pads', 'value'], outputs: ['y'], attrs: { mode: 'constant' } }],
        initializers: [floatScalar('value', a.value as number)],
      };
    case 'expand':
      return { nodes: [{ op: 'Expand', inputs: ['x0', 'shape'], outputs: ['y'] }], initializers: [] };
    case 'gather':
      return {
        nodes: [{ op: 'Gather', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number } }],
        initializers: [],
      };
    case 'gatherElements':
      return {
        nodes: [{ op: 'GatherElements', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number } }],
        initializers: [],
      };
    case 'scatterAdd':
      return {
        nodes: [
          { op: 'ScatterElements', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number, reduction: 'add' } },
        ],
        initializers: [],
      };
    case 'softmax':
      return {
        nodes: [{ op: 'Softmax', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number } }],
        initializers: [],
      };
    case 'logSoftmax':
      return {
        nodes: [{ op: 'LogSoftmax', inputs: xs, outputs: ['y'], attrs: { axis: a.axis as number } }],
        initializers: [],
      };
    case 'trilu':
      return {
        nodes: [{ op: 'Trilu', inputs: ['x0', 'k'], outputs: ['y'], attrs: { upper: a.upper ? 1 : 0 } }],
        initializers: [int64Scalar('k', a.k as number)],
      };
    case 'cumsum':
      return {
        nodes: [{ op: 'CumSum', inputs: ['x0', 'axis'], outputs: ['y'] }],
        initializers: [{ name: 'axis', type: 'int32', dims: [], values: [a.axis as number] }],
      };
    case 'quantizedMatmul':
      return quantizedMatmul(attrs as PrimitiveAttrs['quantizedMatmul'], arity === 4);
    default:
      throw new Error(`onnx backend: no lowering for primitive '${op}'`);
  }
}

const MICROSOFT = 'com.microsoft';

/**
 * onnxruntime's contrib kernels. The codes arrive as int32 (attn's tensors have no 8-bit dtype) and are cast and
 * laid out inside the graph: for weights that are initializers, constant folding does that once at session load.
 * Codes read from their checkpoint file arrive as its int8 / uint8 bytes, the Cast becoming an Identity
 * (`codesReadAsStored` in models/compiled.ts).
 */
function quantizedMatmul(a: PrimitiveAttrs['quantizedMatmul'], withBias: boolean): Lowered {
  const nodes: NodeSpec[] = [];
  const initializers: TensorInit[] = [];
  const product = withBias ? 'product' : 'y';
  if (a.scheme === 'int8') {
    nodes.push(
      { op: 'Cast', inputs: ['x1'], outputs: ['codes'], attrs: { to: 3 } }, // int8
      { op: 'Transpose', inputs: ['codes'], outputs: ['codesKN'], attrs: { perm: [1, 0] } },
      { op: 'DynamicQuantizeMatMul', domain: MICROSOFT, inputs: ['x0', 'codesKN', 'x2'], outputs: [product] },
    );
  } else {
    nodes.push(
      { op: 'Cast', inputs: ['x1'], outputs: ['packed'], attrs: { to: 2 } }, // uint8
      { op: 'Reshape', inputs: ['x2', 'flat'], outputs: ['scales'] },
      {
        op: 'MatMulNBits',
        domain: MICROSOFT,
        inputs: ['x0', 'packed', 'scales'],
        outputs: [product],
        attrs: { K: a.inFeatures, N: a.outFeatures, bits: 4, block_size: a.blockSize },
      },
    );
    initializers.push(int64s('flat', [-1]));
  }
  if (withBias) nodes.push({ op: 'Add', inputs: ['product', 'x3'], outputs: ['y'] });
  return { nodes, initializers };
}

/**
 * Attributes that are positions or shapes (slice bounds, pads, expand's target shape) are fed as int64 inputs at
 * run time instead of being baked into the graph, so one session serves every value: incremental decoding slices
 * at a new position every token.
 */
export function runtimeOperands<K extends PrimitiveOp>(
  op: K,
  attrs: PrimitiveAttrs[K],
): Record<string, number[]> | null {
  switch (op) {
    case 'slice': {
      const a = attrs as PrimitiveAttrs['slice'];
      return { starts: a.starts, ends: a.ends, steps: a.steps };
    }
    case 'pad':
      return { pads: (attrs as PrimitiveAttrs['pad']).pads };
    case 'expand':
      return { shape: (attrs as PrimitiveAttrs['expand']).shape };
    default:
      return null;
  }
}

export function graphFor<K extends PrimitiveOp>(
  op: K,
  inputTypes: DType[],
  inputRanks: number[],
  attrs: PrimitiveAttrs[K],
): GraphSpec {
  const lowered = lower(op, inputTypes.length, attrs);
  const operands = Object.entries(runtimeOperands(op, attrs) ?? {});
  return {
    nodes: lowered.nodes,
    initializers: lowered.initializers,
    // Symbolic dims: one session serves every shape of the same rank.
    inputs: [
      ...inputTypes.map((t, i) => ({
        name: `x${i}`,
        type: t,
        dims: Array.from({ length: inputRanks[i]! }, (_, d) => `x${i}d${d}`),
      })),
      ...operands.map(([name, values]) => ({ name, type: 'int64' as const, dims: [values.length] })),
    ],
    outputs: [{ name: 'y', type: outputType(op, inputTypes, attrs) }],
  };
}

function outputType<K extends PrimitiveOp>(op: K, inputTypes: DType[], attrs: PrimitiveAttrs[K]): DType {
  switch (op) {
    case 'equal':
    case 'less':
    case 'lessEqual':
    case 'greater':
    case 'greaterEqual':
    case 'and':
    case 'or':
    case 'not':
      return 'bool';
    case 'argMax':
      return 'int32';
    case 'cast':
      return (attrs as PrimitiveAttrs['cast']).to;
    case 'where':
      return inputTypes[1]!;
    default:
      return inputTypes[0]!;
  }
}
