/** Thrown by `ConcurrencyLimiter.acquire` when the wait queue is full: the caller should answer "busy". */
export class QueueFullError extends Error {
  constructor(readonly queued: number) {
    super(`server busy: ${queued} requests already waiting`);
    this.name = 'QueueFullError';
  }
}

interface Waiter {
  grant: (release: () => void) => void;
  reject: (err: unknown) => void;
}

/**
 * At most `maxActive` holders at once; up to `maxQueued` more wait in arrival order. A waiter whose signal
 * aborts (its client went away) leaves the queue without ever taking a slot.
 */
export class ConcurrencyLimiter {
  private activeCount = 0;
  private readonly waiters: Waiter[] = [];

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
  ) {
    if (!Number.isInteger(maxActive) || maxActive < 1)
      throw new Error(`maxActive must be an integer >= 1, got ${maxActive}`);
    if (!Number.isInteger(maxQueued) || maxQueued < 0)
      throw new Error(`maxQueued must be an integer >= 0, got ${maxQueued}`);
  }

  get active(): number {
    return this.activeCount;
  }

  get queued(): number {
    return this.waiters.length;
  }

  /** Resolves with a release function, to be called exactly once when the work is done. */
  acquire(signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    if (this.activeCount < this.maxActive) {
      this.activeCount++;
      return Promise.resolve(this.releaser());
    }
    if (this.waiters.length >= this.maxQueued) return Promise.reject(new QueueFullError(this.waiters.length));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
        reject,
      };
      const onAbort = (): void => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      // The slot passes straight to the next waiter, so activeCount stays the same.
      if (next) next.grant(this.releaser());
      else this.activeCount--;
    };
  }
}
