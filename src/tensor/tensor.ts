// Placeholder replaced by the engine commit: the storage half of Tensor, so other modules can build on it now.
import { allocate, dtypeOf, type DType, type TypedArray } from './dtype.js';
import { shapeString, sizeOf, type Shape } from './shape.js';

export class Tensor {
  readonly shape: Shape;
  readonly dtype: DType;
  data: TypedArray;

  constructor(data: TypedArray, shape: Shape) {
    if (data.length !== sizeOf(shape)) {
      throw new RangeError(`Tensor: ${data.length} values do not fill shape ${shapeString(shape)}`);
    }
    this.data = data;
    this.shape = [...shape];
    this.dtype = dtypeOf(data);
  }

  /** Creates a tensor from flat values; `shape` defaults to 1-D. */
  static from(values: TypedArray | ArrayLike<number>, shape?: Shape, dtype: DType = 'float32'): Tensor {
    const n = values.length;
    const data = allocate(dtype, n);
    for (let i = 0; i < n; i++) data[i] = values[i]!;
    return new Tensor(data, shape ?? [n]);
  }

  get size(): number {
    return this.data.length;
  }
}
