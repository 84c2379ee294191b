/** Every metric scores predictions against references one to one. */
export function checkPaired(predictions: ArrayLike<unknown>, references: ArrayLike<unknown>, metric: string): void {
  if (predictions.length !== references.length) {
    throw new RangeError(`${metric}: ${predictions.length} predictions for ${references.length} references`);
  }
  if (references.length === 0) throw new RangeError(`${metric}: no predictions to score`);
}
