/**
 * Streamers receive tokens as generation produces them (batch size 1, greedy or sampling), as Hugging Face's
 * BaseStreamer: `put` first with the prompt (the decoder start for encoder–decoder models), then with each new
 * token, and `end` once.
 */
export interface Streamer {
  put(tokenIds: readonly number[]): void;
  end(): void;
}

export type Decode = (tokenIds: readonly number[]) => string;

/** What a TextStreamer decodes with: a tokenizer, or anything with its `decode`. */
export interface StreamDecoder {
  decode(ids: number[], options?: { skipSpecialTokens?: boolean }): string;
}

export interface TextStreamerOptions {
  /** Leave the prompt out and stream only new text (transformers' `skip_prompt`). Default false. */
  skipPrompt?: boolean;
  /** Leave special tokens (</s>, <|endoftext|>) out of the text. Default false, as transformers. */
  skipSpecialTokens?: boolean;
  /** Gets each new piece of text, and `final` true once at the end. Default: writes the text to standard output. */
  callback?: (text: string, final: boolean) => void;
}

/**
 * Turns tokens into text pieces, as transformers' and transformers.js' TextStreamer:
 * `new TextStreamer(tokenizer, { skipPrompt: true, callback })`. It decodes the tokens since the last line break
 * and hands on what is new, holding back a trailing U+FFFD (a multi-byte character split across tokens) until the
 * next token completes it; starting afresh after each line keeps the decoding cost per token flat.
 */
export class TextStreamer implements Streamer {
  private tokens: number[] = [];
  private printedLength = 0;
  private promptPending: boolean;
  private readonly decode: Decode;
  private readonly callback: (text: string, final: boolean) => void;

  constructor(tokenizer: StreamDecoder, options: TextStreamerOptions = {}) {
    const skipSpecialTokens = options.skipSpecialTokens ?? false;
    this.decode = (ids) => tokenizer.decode([...ids], { skipSpecialTokens });
    this.callback = options.callback ?? ((text, final) => process.stdout.write(final ? `${text}\n` : text));
    this.promptPending = options.skipPrompt ?? false;
  }

  put(tokenIds: readonly number[]): void {
    if (this.promptPending) {
      this.promptPending = false;
      return;
    }
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
    if (piece.length > 0 || final) this.callback(piece, final);
  }
}

/** A TextStreamer read as an async iterator of text pieces (pair it with `generateAsync` to see them as they come). */
export class TextIteratorStreamer implements Streamer, AsyncIterable<string> {
  private readonly queue: string[] = [];
  private finished = false;
  private wake: (() => void) | null = null;
  private readonly inner: TextStreamer;

  constructor(tokenizer: StreamDecoder, options: Omit<TextStreamerOptions, 'callback'> = {}) {
    this.inner = new TextStreamer(tokenizer, {
      ...options,
      callback: (text, final) => {
        if (text) this.queue.push(text);
        if (final) this.finished = true;
        this.wake?.();
      },
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
