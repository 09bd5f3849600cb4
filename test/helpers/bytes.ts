import { concatBytes } from '../../src/util/bytes.js';

/** The parts one after another; strings are UTF-8 encoded. */
export function concat(...parts: (Uint8Array | string)[]): Uint8Array {
  return concatBytes(parts.map((p) => (typeof p === 'string' ? new TextEncoder().encode(p) : p)));
}

/** Hands `bytes` to `push` in chunks of `size`, or of random sizes up to 64 KiB: a streaming parser must not care. */
export function inChunks(bytes: Uint8Array, size: number | 'random', push: (chunk: Uint8Array) => void): void {
  for (let pos = 0; pos < bytes.length; ) {
    const n = size === 'random' ? 1 + Math.floor(Math.random() * 65536) : size;
    push(bytes.subarray(pos, pos + n));
    pos += n;
  }
}
