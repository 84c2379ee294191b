/**
 * Streamers receive tokens as generation produces them (batch size 1, greedy or sampling), as Hugging Face's
 * BaseStreamer: `put` with each new token, `end` once.
 */
export interface Streamer {
  put(tokenIds: readonly number[]): void;
  end(): void;
}

export type Decode = (tokenIds: readonly number[]) => string;

/**
 * Turns tokens into text pieces: decodes the tokens since the last line break and hands on what is new, holding
 * back a trailing U+FFFD (a multi-byte character split across tokens) until the next token completes it. Starting
 * afresh after each line keeps the decoding cost per token flat, as transformers' TextStreamer does.
 */
export class TextStreamer implements Streamer {
  private tokens: number[] = [];
  private printedLength = 0;

  constructor(private readonly decode: Decode, private readonly onText: (text: string, final: boolean) => void) {}

  put(tokenIds: readonly number[]): void {
    this.tokens.push(...tokenIds);
    const text = this.decode(this.tokens);
    if (text.endsWith('\uFFFD')) return;
    this.emit(text.slice(this.printedLength), false);
    if (text.endsWith('\n')) {
      this.tokens = [];
      this.printedLength = 0;
    } else {
      this.printedLength = text.length;
    }
  }

  end(): void {
    const text = this.tokens.length > 0 ? this.decode(this.tokens) : '';
    this.emit(text.slice(this.printedLength), true);
    this.tokens = [];
    this.printedLength = 0;
  }

  private emit(piece: string, final: boolean): void {
    if (piece.length > 0 || final) this.onText(piece, final);
  }
}

/** A TextStreamer read as an async iterator of text pieces (pair it with `generateAsync` to see them as they come). */
export class TextIteratorStreamer implements Streamer, AsyncIterable<string> {
  private readonly queue: string[] = [];
  private finished = false;
  private wake: (() => void) | null = null;
  private readonly inner: TextStreamer;

  constructor(decode: Decode) {
    this.inner = new TextStreamer(decode, (text, final) => {
      if (text) this.queue.push(text);
      if (final) this.finished = true;
      this.wake?.();
    });
  }

  put(tokenIds: readonly number[]): void {
    this.inner.put(tokenIds);
  }

  end(): void {
    this.inner.end();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<string> {
    for (;;) {
      if (this.queue.length > 0) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.finished) return;
      await new Promise<void>((resolve) => (this.wake = resolve));
      this.wake = null;
    }
  }
}
