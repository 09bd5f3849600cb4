/** What a buffer starts with: larger than most headers, small enough that a lying one costs nothing. */
const INITIAL = 64 * 1024;
const EMPTY = new Uint8Array(0);

/**
 * Bytes collected toward a size a header announced. The buffer grows (doubling) with the bytes
 * that arrive and never to the announced size up front: a few bytes claiming 32 MiB get 64 KiB.
 */
export class GrowingBuffer {
  private buf: Uint8Array = EMPTY;
  private filled = 0;

  /** Nothing is allocated before bytes come: a piece one chunk holds whole is not copied at all (see append). */
  constructor(readonly size: number) {}

  get full(): boolean {
    return this.filled === this.size;
  }

  /** Takes from the start of `chunk` what is still missing; returns how many bytes it took. */
  append(chunk: Uint8Array): number {
    const n = Math.min(this.size - this.filled, chunk.length);
    // All of it in this chunk: a view of the chunk (chunks are never changed once handed on).
    if (this.filled === 0 && n === this.size) {
      this.buf = chunk.subarray(0, n);
      this.filled = n;
      return n;
    }
    const end = this.filled + n;
    if (end > this.buf.length) {
      const grown = new Uint8Array(Math.min(this.size, Math.max(end, this.buf.length * 2, INITIAL)));
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
