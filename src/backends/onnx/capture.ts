/**
 * Graph capture (the tracer): runs a function eagerly once while recording every primitive it dispatches, and
 * stitches them into ONE ONNX graph that onnxruntime then runs in a single native call, for as many runs as the
 * shapes stay the same. Each primitive already lowers to ONNX nodes with static attributes (lowering.ts); capture
 * renames those nodes' inputs and outputs to the values they read and make.
 *
 * API
 *   const graph = capture(fn, { inputs, initializers?, optimization? })
 *     fn(inputs) runs once, eagerly: its results are real (graph.firstOutputs) and every op it runs is recorded.
 *     inputs:        { name: Tensor } fed on every run (a batch, parameters, optimizer state).
 *     initializers:  { name: Tensor } baked into the graph under that name (inference weights: onnxruntime pre-packs
 *                    them). Their values are read when the session is built.
 *     fn returns     { name: Tensor }: the graph outputs.
 *   graph.run(feeds)            → { name: Tensor } (fresh buffers). feeds: every input by name (a Tensor, a typed
 *                                 array or, for a 0-d input, a number); step scalars likewise; random inputs are
 *                                 drawn again unless fed. A feed of another shape throws GraphInputError naming both.
 *   graph.inputs / graph.outputs  name, dtype and (concrete) shape of each, in order. An output named like an input
 *                                 (a parameter and its update) is `<name>.out` inside the model; run() returns it
 *                                 under its own name.
 *   graph.stepScalars             names fed from `stepScalar(name, value)` calls (see tensor/creation.ts).
 *   graph.guards                  inputs whose values JS read while recording; run() refuses other values
 *                                 (GraphGuardError): the graph may have baked them in.
 *   graph.toModel({ initializers }) → ModelProto bytes; `initializers` ({ inputName: Tensor }) turns inputs into
 *                                 initializers with those values (export a forward pass with its weights).
 *   graph.dispose()
 *
 * What becomes what while recording
 *   a tensor in `inputs` → graph input; in `initializers` → named initializer; a primitive's result → node output;
 *   `stepScalar(name, v)` → graph input `name`; `randomTensor(shape, generate)` → graph input `random.<k>`,
 *   regenerated in order on every run; `t.assign(src)` → t's storage holds src's value from then on; a storage read
 *   with another shape (reshapes share storage) → a Reshape node; anything else an op reads (numbers lifted to
 *   scalars, positions, masks built in JS) → a constant. Refused (CaptureError, carrying fn's eager results): JS
 *   reading values computed during the capture (they may steer control flow), random draws outside randomTensor.
 *
 * Shapes are concrete: a graph serves one shape signature. CompiledStep (compiled_step.ts) caches graphs by
 * signature, recaptures on a new one and writes a step's state outputs back.
 */
import { dtypeOf, type DType, type TypedArray } from '../../tensor/dtype.js';
import { withPinnedWidening } from '../../tensor/half.js';
import { getBackend, withTracer, type OpTracer, type TracedTensor } from '../../tensor/engine.js';
import { sameShape, shapeString, type Shape } from '../../tensor/shape.js';
import { Tensor } from '../../tensor/tensor.js';
import type { KernelTensor, PrimitiveAttrs, PrimitiveOp } from '../backend.js';
import { loadNative, OnnxBackend, sessionOptions, type NativeSession } from './index.js';
import { lower, runtimeOperands } from './lowering.js';
import { encodeModel, type GraphSpec, type NodeSpec, type TensorInit, type ValueSpec } from './protobuf.js';

export interface CaptureOptions {
  inputs: Record<string, Tensor>;
  initializers?: Record<string, Tensor>;
  /** onnxruntime's graph optimization level for the session. Default 'all' (fusions, constant folding). */
  optimization?: 'basic' | 'extended' | 'all';
}

export interface GraphValueInfo {
  name: string;
  dtype: DType;
  shape: Shape;
}

export type GraphFeed = Tensor | TypedArray | number;

/** The function could not be captured; `outputs` are its (valid) eager results, `reason` says why. */
export class CaptureError extends Error {
  constructor(
    readonly reason: string,
    readonly outputs: Record<string, Tensor>,
  ) {
    super(`capture: ${reason}`);
  }
}

/** A feed does not match the graph: a missing input, or another dtype or shape than the graph was built for. */
export class GraphInputError extends RangeError {}

/** An input JS read while recording (so the graph may depend on its values) was fed different values. */
export class GraphGuardError extends Error {
  constructor(readonly input: string) {
    super(
      `captured graph: input '${input}' has other values than when the graph was recorded, and JavaScript read them while recording`,
    );
  }
}

interface Value {
  name: string;
  shape: Shape;
  dtype: DType;
  /** What made it, for messages: 'input', 'constant', or the primitive's name. */
  origin: string;
}

interface RandomInput {
  name: string;
  shape: Shape;
  generate: () => TypedArray;
}

const ONNX_NAME: Record<DType, ValueSpec['type']> = { float32: 'float32', int32: 'int32', bool: 'bool' };

/** Records dispatched primitives as ONNX nodes; see the file comment. */
class Recorder implements OpTracer {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorInit[] = [];
  readonly inputs: GraphValueInfo[] = [];
  readonly randoms: RandomInput[] = [];
  readonly stepScalars: string[] = [];
  readonly guards = new Map<string, TypedArray>();
  problem: string | null = null;
  private readonly values = new Map<TypedArray, Value>();
  private readonly inputStorage = new Map<TypedArray, string>();
  private readonly views = new Map<string, string>();
  private inKernel = false;
  private counter = 0;

  constructor(inputs: Record<string, Tensor>, initializers: Record<string, Tensor>) {
    for (const [name, t] of Object.entries(inputs)) {
      this.declare(name, t, 'input');
      this.inputStorage.set(t.storage, name);
      this.inputs.push({ name, dtype: t.dtype, shape: t.shape });
    }
    for (const [name, t] of Object.entries(initializers)) {
      this.declare(name, t, 'initializer');
      this.initializers.push({ name, type: ONNX_NAME[t.dtype], dims: t.shape, values: t.storage });
    }
  }

  private declare(name: string, t: TracedTensor, origin: string): void {
    const previous = this.values.get(t.storage);
    if (previous) throw new RangeError(`capture: '${name}' shares its storage with '${previous.name}'; pass it once`);
    if (name.startsWith('#')) throw new RangeError(`capture: names starting with '#' are reserved, got '${name}'`);
    this.values.set(t.storage, { name, shape: t.shape, dtype: dtypeOf(t.storage), origin });
  }

  private fresh(kind: string): string {
    return `#${kind}${this.counter++}`;
  }

  private refuse(reason: string): void {
    this.problem ??= reason;
  }

  /** The graph name holding `t`'s value with `t`'s shape (a constant if no op made it). */
  nameOf(t: TracedTensor): string {
    const value = this.values.get(t.storage) ?? this.constant(t);
    if (sameShape(value.shape, t.shape)) return value.name;
    const key = `${value.name}|${t.shape.join(',')}`;
    let view = this.views.get(key);
    if (!view) {
      view = this.fresh('v');
      const shapeName = this.fresh('c');
      this.initializers.push({ name: shapeName, type: 'int64', dims: [t.shape.length], values: [...t.shape] });
      this.nodes.push({ op: 'Reshape', inputs: [value.name, shapeName], outputs: [view] });
      this.views.set(key, view);
    }
    return view;
  }

  /** Values no op made: baked in. A large uniform one becomes ConstantOfShape instead of megabytes of zeros. */
  private constant(t: TracedTensor): Value {
    const data = t.storage;
    const dtype = dtypeOf(data);
    const name = this.fresh('c');
    const first = data[0] ?? 0;
    let uniform = data.length > 16;
    for (let i = 1; uniform && i < data.length; i++) uniform = data[i] === first;
    if (uniform) {
      const shapeName = this.fresh('c');
      this.initializers.push({ name: shapeName, type: 'int64', dims: [t.shape.length], values: [...t.shape] });
      const fill: TensorInit = { name: '', type: ONNX_NAME[dtype], dims: [1], values: [first] };
      this.nodes.push({ op: 'ConstantOfShape', inputs: [shapeName], outputs: [name], attrs: { value: fill } });
    } else {
      // A copy: JS may reuse its buffer after the capture.
      this.initializers.push({ name, type: ONNX_NAME[dtype], dims: t.shape, values: data.slice() });
    }
    const value = { name, shape: t.shape, dtype, origin: 'constant' };
    this.values.set(data, value);
    return value;
  }

  dispatch<K extends PrimitiveOp>(op: K, inputs: readonly TracedTensor[], attrs: PrimitiveAttrs[K]): KernelTensor {
    const names = inputs.map((x) => this.nameOf(x));
    let out: KernelTensor;
    this.inKernel = true;
    try {
      out = getBackend().run(op, [...inputs], attrs);
    } finally {
      this.inKernel = false;
    }
    const y = this.fresh('v');
    const prefix = this.fresh('n') + '.';
    const rename = (n: string): string => {
      if (n === 'y') return y;
      const i = /^x(\d+)$/.exec(n);
      const input = i ? names[Number(i[1])] : undefined;
      if (i && input === undefined)
        throw new Error(
          `capture: the lowering of '${op}' names '${n}', which is not one of its ${names.length} inputs`,
        );
      return input ?? prefix + n;
    };
    const lowered = lower(op, inputs.length, attrs);
    for (const node of lowered.nodes)
      this.nodes.push({ ...node, inputs: node.inputs.map(rename), outputs: node.outputs.map(rename) });
    for (const init of lowered.initializers) this.initializers.push({ ...init, name: prefix + init.name });
    for (const [name, values] of Object.entries(runtimeOperands(op, attrs) ?? {})) {
      this.initializers.push({ name: prefix + name, type: 'int64', dims: [values.length], values });
    }
    this.values.set(out.data, { name: y, shape: out.shape, dtype: dtypeOf(out.data), origin: op });
    return out;
  }

  hostRead(t: TracedTensor): void {
    if (this.inKernel) return;
    const value = this.values.get(t.storage);
    if (!value || value.origin === 'constant' || value.origin === 'initializer') return;
    const input = this.inputStorage.get(t.storage);
    if (input !== undefined && value.name === input) {
      if (!this.guards.has(input)) this.guards.set(input, t.storage.slice());
      return;
    }
    this.refuse(
      `JavaScript read the values of a ${value.origin} result ${shapeString(t.shape)} while recording, so the recorded ops may depend on them`,
    );
  }

  assigned(target: TracedTensor, source: TracedTensor): void {
    // Later reads of the target with its own shape get a Reshape from nameOf when the shapes differ.
    this.values.set(target.storage, {
      name: this.nameOf(source),
      shape: source.shape,
      dtype: dtypeOf(source.storage),
      origin: 'assign',
    });
  }

  stepInput(name: string, t: TracedTensor): void {
    if (this.stepScalars.includes(name) || this.inputs.some((i) => i.name === name)) {
      this.refuse(`two step inputs are named '${name}'`);
      return;
    }
    this.declare(name, t, 'step input');
    this.stepScalars.push(name);
    this.inputs.push({ name, dtype: dtypeOf(t.storage), shape: t.shape });
  }

  randomInput(t: TracedTensor, generate: () => TypedArray): void {
    const name = `random.${this.randoms.length}`;
    this.declare(name, t, 'random input');
    this.randoms.push({ name, shape: t.shape, generate });
    this.inputs.push({ name, dtype: dtypeOf(t.storage), shape: t.shape });
  }

  randomDrawn(): void {
    if (!this.inKernel)
      this.refuse('random numbers were drawn outside randomTensor(), so they would be baked in as constants');
  }

  valueInfo(name: string, t: TracedTensor): GraphValueInfo {
    return { name, dtype: dtypeOf(t.storage), shape: t.shape };
  }
}

/** Keeps only the nodes and initializers the outputs need (fn may compute more, e.g. validation or unused logits). */
function prune(graph: GraphSpec): GraphSpec {
  const needed = new Set(graph.outputs.map((o) => o.name));
  const nodes: NodeSpec[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const node = graph.nodes[i]!;
    if (!node.outputs.some((o) => needed.has(o))) continue;
    nodes.push(node);
    for (const x of node.inputs) needed.add(x);
  }
  nodes.reverse();
  return { ...graph, nodes, initializers: graph.initializers.filter((init) => needed.has(init.name)) };
}

/**
 * Float32 / int32 / bool data of `feed` for an input of `info`'s dtype and shape, or a GraphInputError. A number is
 * written into `scalar` when given (a graph's own buffer for that input), else into a new array.
 */
function feedData(info: GraphValueInfo, feed: GraphFeed, scalar?: Float32Array): TypedArray {
  const data =
    typeof feed === 'number'
      ? scalar
        ? ((scalar[0] = feed), scalar)
        : Float32Array.of(feed)
      : feed instanceof Tensor
        ? feed.storage
        : feed;
  const shape = feed instanceof Tensor ? feed.shape : null;
  const size = info.shape.reduce((n, d) => n * d, 1);
  if (dtypeOf(data) !== info.dtype || (shape ? !sameShape(shape, info.shape) : data.length !== size)) {
    const got = shape ? shapeString(shape) : `${data.length} values`;
    throw new GraphInputError(
      `captured graph: input '${info.name}' was recorded as ${info.dtype} ${shapeString(info.shape)}, got ${dtypeOf(data)} ${got}; ` +
        'capture again for the new shape (CompiledStep does this by itself)',
    );
  }
  return data;
}

function sameValues(a: TypedArray, b: TypedArray): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class CapturedGraph {
  private session: NativeSession | null = null;
  /** The outputs' names inside the model (see modelOutputName), in the order of `outputs`. */
  private readonly modelOutputs: string[];
  private readonly fetches: Record<string, null> = {};
  private readonly randomInputs: ReadonlyMap<string, RandomInput>;
  /**
   * Per input, the last onnxruntime tensor fed and its data: a feed with the same buffer (a parameter, a step
   * scalar's own one-value buffer) reuses it. A training step feeds ~100 inputs per run; new wrappers for each made
   * V8 grow its young generation over a long run (notes/issue-13-training.md).
   */
  private readonly lastFeeds = new Map<string, { data: TypedArray; ort: unknown }>();
  private readonly scalarBuffers = new Map<string, Float32Array>();
  /** The native feeds, one object refilled by each run (same keys every time). */
  private readonly ortFeeds: Record<string, unknown> = {};

  constructor(
    /** The recorded graph (inference compiles it further: symbolic shapes, weights as external data). */
    readonly spec: GraphSpec,
    readonly inputs: readonly GraphValueInfo[],
    readonly outputs: readonly GraphValueInfo[],
    readonly stepScalars: readonly string[],
    private readonly randoms: readonly RandomInput[],
    readonly guards: ReadonlyMap<string, TypedArray>,
    /** fn's eager results from the recording run. */
    public firstOutputs: Record<string, Tensor>,
    private readonly optimization: NonNullable<CaptureOptions['optimization']>,
  ) {
    this.modelOutputs = spec.outputs.map((o) => o.name);
    for (const o of this.modelOutputs) this.fetches[o] = null;
    this.randomInputs = new Map(randoms.map((r) => [r.name, r]));
  }

  /** Drops the reference to the recording run's results (they may hold large tensors). */
  releaseFirstOutputs(): void {
    this.firstOutputs = {};
  }

  /** Number of ONNX nodes in the graph (after dropping what the outputs do not need). */
  get nodeCount(): number {
    return this.spec.nodes.length;
  }

  /** The ModelProto; `initializers` bakes the named inputs in with the given values. */
  toModel(options: { initializers?: Record<string, Tensor> } = {}): Uint8Array {
    const baked = options.initializers ?? {};
    const extra: TensorInit[] = [];
    for (const [name, t] of Object.entries(baked)) {
      const info = this.inputs.find((i) => i.name === name);
      if (!info) throw new GraphInputError(`captured graph: no input named '${name}' to make an initializer of`);
      extra.push({ name, type: ONNX_NAME[info.dtype], dims: info.shape, values: feedData(info, t) });
    }
    return encodeModel({
      ...this.spec,
      inputs: this.spec.inputs.filter((i) => !(i.name in baked)),
      initializers: [...this.spec.initializers, ...extra],
    });
  }

  private ensureSession(): NativeSession {
    if (!this.session) {
      const model = this.toModel();
      const backend = getBackend();
      const threads = backend instanceof OnnxBackend ? backend.numThreads : Number(process.env.ATTN_NUM_THREADS ?? 0);
      const session = new (loadNative().binding.InferenceSession)();
      session.loadModel(
        model.buffer as ArrayBuffer,
        model.byteOffset,
        model.byteLength,
        sessionOptions(threads, this.optimization),
      );
      this.session = session;
    }
    return this.session;
  }

  /** Checks the feeds against the graph without running it: null if they fit, else the reason. */
  mismatch(feeds: Record<string, GraphFeed>): string | null {
    try {
      this.feedsFor(feeds, false);
      return null;
    } catch (err) {
      if (err instanceof GraphInputError || err instanceof GraphGuardError) return err.message;
      throw err;
    }
  }

  private feedsFor(feeds: Record<string, GraphFeed>, drawRandoms: boolean): Record<string, unknown> {
    const { OrtTensor } = loadNative();
    const ortFeeds = this.ortFeeds;
    for (const info of this.inputs) {
      let feed = feeds[info.name];
      if (feed === undefined) {
        const r = this.randomInputs.get(info.name);
        if (!r)
          throw new GraphInputError(
            `captured graph: no feed for input '${info.name}' (${info.dtype} ${shapeString(info.shape)})`,
          );
        if (!drawRandoms) continue;
        feed = r.generate();
      }
      const data = feedData(info, feed, typeof feed === 'number' ? this.scalarBuffer(info.name) : undefined);
      const guard = this.guards.get(info.name);
      if (guard && !sameValues(guard, data)) throw new GraphGuardError(info.name);
      let last = this.lastFeeds.get(info.name);
      if (last?.data !== data) {
        last = { data, ort: new OrtTensor(ONNX_NAME[info.dtype], data, info.shape) };
        this.lastFeeds.set(info.name, last);
      }
      ortFeeds[info.name] = last.ort;
    }
    return ortFeeds;
  }

  private scalarBuffer(name: string): Float32Array {
    let buffer = this.scalarBuffers.get(name);
    if (!buffer) this.scalarBuffers.set(name, (buffer = new Float32Array(1)));
    return buffer;
  }

  /** Runs the graph once; outputs are fresh tensors. */
  run(feeds: Record<string, GraphFeed>): Record<string, Tensor> {
    const ortFeeds = this.feedsFor(feeds, true);
    const results = this.ensureSession().run(ortFeeds, this.fetches, {});
    const out: Record<string, Tensor> = {};
    this.outputs.forEach((o, i) => (out[o.name] = new Tensor(results[this.modelOutputs[i]!]!.data, o.shape)));
    return out;
  }

  dispose(): void {
    this.session?.dispose();
    this.session = null;
    this.lastFeeds.clear();
  }
}

/** ONNX names are unique across a graph: an output named like an input gets a suffix inside the model. */
function modelOutputName(name: string, inputNames: ReadonlySet<string>): string {
  return inputNames.has(name) ? `${name}.out` : name;
}

/** Records `fn(inputs)` as one ONNX graph; see the file comment. Throws CaptureError when it cannot be captured. */
export function capture(
  fn: (inputs: Record<string, Tensor>) => Record<string, Tensor>,
  options: CaptureOptions,
): CapturedGraph {
  // Half-precision weights are widened on each read: pinned, each keeps one buffer, which is how the recorder knows it.
  const { recorder, results } = withPinnedWidening(() => {
    const recorder = new Recorder(options.inputs, options.initializers ?? {});
    return { recorder, results: withTracer(recorder, () => fn(options.inputs)) };
  });
  if (recorder.problem) throw new CaptureError(recorder.problem, results);
  const outputs: GraphValueInfo[] = [];
  const identities: NodeSpec[] = [];
  const inputNames = new Set(recorder.inputs.map((i) => i.name));
  for (const [name, t] of Object.entries(results)) {
    if (name.startsWith('#'))
      throw new RangeError(`capture: names starting with '#' are reserved, got output '${name}'`);
    // Identity gives the output its own name (a value can be an output twice, or an input passed through).
    // nameOf may add a Reshape to recorder.nodes, so the identities go after all of them.
    identities.push({ op: 'Identity', inputs: [recorder.nameOf(t)], outputs: [modelOutputName(name, inputNames)] });
    outputs.push(recorder.valueInfo(name, t));
  }
  const spec = prune({
    nodes: [...recorder.nodes, ...identities],
    initializers: recorder.initializers,
    inputs: recorder.inputs.map((i) => ({ name: i.name, type: ONNX_NAME[i.dtype], dims: [...i.shape] })),
    outputs: outputs.map((o) => ({
      name: modelOutputName(o.name, inputNames),
      type: ONNX_NAME[o.dtype],
      dims: [...o.shape],
    })),
  });
  return new CapturedGraph(
    spec,
    recorder.inputs,
    outputs,
    recorder.stepScalars,
    recorder.randoms,
    recorder.guards,
    results,
    options.optimization ?? 'all',
  );
}
