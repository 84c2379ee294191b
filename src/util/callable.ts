/**
 * A class whose instances are functions: `instance(...args)` runs `instance.invoke(...args)`, as Hugging Face's
 * tokenizers and pipelines are called. The constructor returns a function object whose prototype is the subclass's,
 * so methods and fields work as on any instance.
 *
 * Subclasses' fields are set on that function object (it is their `this`); this base class must keep none of its
 * own. Function objects have read-only `name` and `length`: subclasses must not use those as field names.
 */
export abstract class Callable<Args extends unknown[], Result> extends Function {
  constructor() {
    super();
    // The closure becomes the instance (its prototype is set to the subclass's below), which TypeScript cannot follow.
    const closure = (...args: Args): Result => (closure as unknown as Callable<Args, Result>).invoke(...args);
    return Object.setPrototypeOf(closure, new.target.prototype) as this;
  }

  /** What calling the instance does. */
  protected abstract invoke(...args: Args): Result;
}
