/**
 * Cuts streamed text at the first stop string, OpenAI style (the stop string itself is not returned). Text that
 * could be the start of a stop string is held back until the next delta decides it, so no stop string ever
 * leaks out in pieces across deltas.
 */
export class StopStringFilter {
  private pending = '';
  private stoppedAt = false;

  constructor(private readonly stops: readonly string[]) {}

  /** True once a stop string has been seen; later deltas are ignored. */
  get stopped(): boolean {
    return this.stoppedAt;
  }

  /** Adds a delta; returns the text now safe to emit (possibly empty). */
  push(delta: string): string {
    if (this.stoppedAt) return '';
    this.pending += delta;
    let cut = -1;
    for (const stop of this.stops) {
      const at = this.pending.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.stoppedAt = true;
      const out = this.pending.slice(0, cut);
      this.pending = '';
      return out;
    }
    const hold = this.longestStopPrefixAtEnd();
    const out = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return out;
  }

  /** The held-back tail, once generation has ended without a stop string. */
  flush(): string {
    const out = this.stoppedAt ? '' : this.pending;
    this.pending = '';
    return out;
  }

  private longestStopPrefixAtEnd(): number {
    let hold = 0;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, this.pending.length); k > hold; k--) {
        if (this.pending.endsWith(stop.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return hold;
  }
}
