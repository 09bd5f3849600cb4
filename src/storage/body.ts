import { PackyardError } from '../util/errors.js';
import { streamBytes } from '../util/bytes.js';
import type { PutBody } from './types.js';

export async function toBytes(body: PutBody): Promise<Uint8Array> {
  if (typeof body === 'string') return new TextEncoder().encode(body);
  if (body instanceof Uint8Array) return body;
  return streamBytes(body);
}

export function partSizeMismatch(part: number, size: number): PackyardError {
  return new PackyardError(400, 'part-size-mismatch', `part ${part} is not ${size} bytes long`);
}

/** Passes a part through, failing it (and remembering why) when it is not `size` bytes. */
export class SizeCheck {
  error: PackyardError | undefined;
  readonly stream: TransformStream<Uint8Array, Uint8Array>;

  constructor(part: number, size: number) {
    let seen = 0;
    const fail = () => (this.error = partSizeMismatch(part, size));
    this.stream = new TransformStream({
      transform(chunk, controller) {
        seen += chunk.length;
        if (seen > size) throw fail();
        controller.enqueue(chunk);
      },
      flush() {
        if (seen !== size) throw fail();
      },
    });
  }
}

/** Outside workerd (no FixedLengthStream) a streamed part is read into memory: at most this. */
const MAX_BUFFERED_PART = 64 * 1024 * 1024;

/**
 * A part's body as a store with parts of known length takes it (R2, S3): bytes as they are; a
 * stream through a size check, and fixed-length in workerd. Elsewhere a stream is read into
 * memory, unless the caller sends its length itself (`sendsLength`: an HTTP request with a
 * Content-Length header, as S3's), which keeps a node's memory flat however big the part.
 * `check` says why a stream of the wrong size failed.
 */
export async function partBody(part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number, options: { sendsLength?: boolean } = {}): Promise<{ value: ReadableStream<Uint8Array> | Uint8Array; check?: SizeCheck }> {
  if (body instanceof Uint8Array) {
    if (body.length !== size) throw partSizeMismatch(part, size);
    return { value: body };
  }
  const check = new SizeCheck(part, size);
  const FixedLength = (globalThis as { FixedLengthStream?: new (length: number) => TransformStream<Uint8Array, Uint8Array> }).FixedLengthStream;
  if (FixedLength) return { value: body.pipeThrough(check.stream).pipeThrough(new FixedLength(size)), check };
  if (options.sendsLength) return { value: body.pipeThrough(check.stream), check };
  if (size > MAX_BUFFERED_PART) throw new PackyardError(413, 'part-too-large', `parts outside workerd are read into memory: at most ${MAX_BUFFERED_PART} bytes, not ${size}`);
  return { value: await toBytes(body.pipeThrough(check.stream)).catch((err) => Promise.reject(check.error ?? err)), check };
}
