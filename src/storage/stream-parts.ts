import type { ObjectInfo } from './types.js';

const MiB = 1024 * 1024;
/**
 * The part size of a streamed put: R2 and S3 want every part but the last of one size and at
 * least 5 MiB. 8 MiB keeps a Worker's memory small and allows 78 GiB in 10,000 parts.
 */
export const STREAM_PART = 8 * MiB;
/** The buffer starts small and grows to a part: most bodies (indexes, small packages) are far smaller. */
const FIRST_BUFFER = 64 * 1024;

/** How a store takes a body in parts: a single put when it fits one, else a multipart upload. */
export interface PartSink<U, P> {
  single(bytes: Uint8Array): Promise<ObjectInfo | null>;
  /** Starts the multipart upload (a store may refuse it here, for a conditional write). */
  start(): Promise<U>;
  part(upload: U, number: number, bytes: Uint8Array): Promise<P>;
  complete(upload: U, parts: P[]): Promise<ObjectInfo>;
  abort(upload: U): Promise<void>;
}

/**
 * Writes a stream of unknown length to a store that takes only bodies of known length (R2, S3
 * without aws-chunked signing), with one part's memory: the body is cut into STREAM_PART parts of a
 * multipart upload, or sent as one put when it fits in one. The upload's object appears only on
 * complete, and any failure (the source erroring, the store refusing) aborts it, so nothing is
 * left under the key, nor parts waiting for a lifecycle rule.
 */
export async function putInParts<U, P>(body: ReadableStream<Uint8Array>, sink: PartSink<U, P>): Promise<ObjectInfo | null> {
  const reader = body.getReader();
  let buffer = new Uint8Array(FIRST_BUFFER);
  let filled = 0;
  let upload: U | undefined;
  let started = false;
  const parts: P[] = [];
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      let chunk = value;
      while (chunk.length > 0) {
        if (filled === STREAM_PART) {
          // More bytes after a full part: the body is bigger than one part. The part is sent (and
          // `buffer` reused) only now, so the last part is never empty.
          if (!started) {
            upload = await sink.start();
            started = true;
          }
          parts.push(await sink.part(upload!, parts.length + 1, buffer));
          filled = 0;
        }
        if (filled + chunk.length > buffer.length && buffer.length < STREAM_PART) {
          const grown = new Uint8Array(Math.min(STREAM_PART, Math.max(buffer.length * 2, filled + chunk.length)));
          grown.set(buffer.subarray(0, filled));
          buffer = grown;
        }
        const n = Math.min(chunk.length, buffer.length - filled);
        buffer.set(chunk.subarray(0, n), filled);
        filled += n;
        chunk = chunk.subarray(n);
      }
    }
    if (!started) return await sink.single(buffer.subarray(0, filled));
    parts.push(await sink.part(upload!, parts.length + 1, buffer.subarray(0, filled)));
    return await sink.complete(upload!, parts);
  } catch (err) {
    await reader.cancel(err).catch(() => {});
    if (started) await sink.abort(upload!).catch(() => {});
    throw err;
  }
}
