/** What a buffer starts with: larger than most headers, small enough that a lying one costs nothing. */
const INITIAL = 64 * 1024;

/**
 * Bytes collected toward a size a header announced. The buffer grows (doubling) with the bytes
 * that arrive and never to the announced size up front: a few bytes claiming 32 MiB get 64 KiB.
 */
export class GrowingBuffer {
  private buf: Uint8Array;
  private filled = 0;

  constructor(readonly size: number) {
    this.buf = new Uint8Array(Math.min(size, INITIAL));
  }

  get full(): boolean {
    return this.filled === this.size;
  }

  /** Takes from the start of `chunk` what is still missing; returns how many bytes it took. */
  append(chunk: Uint8Array): number {
    const n = Math.min(this.size - this.filled, chunk.length);
    const end = this.filled + n;
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.size, Math.max(end, this.buf.length * 2)));
      grown.set(this.buf.subarray(0, this.filled));
      this.buf = grown;
    }
    this.buf.set(chunk.subarray(0, n), this.filled);
    this.filled = end;
    return n;
  }

  /** The bytes so far (all `size` of them, in one array of that length, once full). */
  bytes(): Uint8Array {
    return this.filled === this.buf.length ? this.buf : this.buf.subarray(0, this.filled);
  }
}
