import type { Storage } from '../storage/types.js';
import type { Digests, HashName, HasherFactory } from '../util/hash.js';
import { PackyardError } from '../util/errors.js';
import { concatBytes } from '../util/bytes.js';
import { layout } from './layout.js';

/** A format's reading of one package file as its bytes go by: hashing and header parsing. */
export interface PackageReading<R> {
  /** Takes the next bytes; a promise means: wait before the next (an asynchronous hasher). */
  take(chunk: Uint8Array): void | Promise<void>;
  /** The package's record once all bytes were taken; `key` is where they are stored. */
  record(key: string): Promise<R>;
}

/**
 * A reading that counts and hashes the bytes (with the digests `names`) while `inspect` parses
 * them; `record` makes the format's record from the key, the size and the digests.
 */
export function hashedReading<R, N extends HashName>(
  createHasher: HasherFactory,
  names: readonly N[],
  inspect: (chunk: Uint8Array) => void,
  record: (key: string, size: number, digests: Pick<Digests, N>) => Promise<R>,
): PackageReading<R> {
  const hasher = createHasher(names);
  let size = 0;
  return {
    take(chunk) {
      size += chunk.length;
      inspect(chunk);
      return hasher.update(chunk);
    },
    async record(key) {
      return record(key, size, await hasher.digest());
    },
  };
}

/**
 * Brings one uploaded package into storage while `reading` hashes and parses it. A stream is
 * passed through in batches, so memory stays flat whatever the package's size; bytes already
 * in memory (small files read whole) skip the stream machinery and are inspected before they
 * are written. A bad package is deleted before the error propagates: nothing of it stays.
 */
export async function ingestPackage<R>(storage: Storage, repo: string, body: ReadableStream<Uint8Array> | Uint8Array, reading: PackageReading<R>): Promise<R> {
  const key = layout.blob(repo, crypto.randomUUID());
  try {
    if (body instanceof Uint8Array) {
      await reading.take(body);
      const result = await reading.record(key);
      await storage.put(key, body, { fresh: true });
      return result;
    }
    await storage.put(key, body.pipeThrough(inBatches(reading)), { fresh: true });
    return await reading.record(key);
  } catch (err) {
    await storage.delete(key).catch(() => {});
    throw err;
  }
}

/**
 * Reads a package already stored under `key` (a completed multipart upload) into its record;
 * the object stays where it is and becomes the package's blob.
 */
export async function ingestStoredPackage<R>(storage: Storage, key: string, reading: PackageReading<R>): Promise<R> {
  const obj = await storage.get(key);
  if (!obj) throw new PackyardError(404, 'upload-not-found', `nothing is stored for this upload`);
  const reader = obj.body.getReader();
  try {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      const hashed = reading.take(chunk.value);
      if (hashed) await hashed;
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return reading.record(key);
}

/**
 * Passes a package's bytes on to storage in pieces of at least BATCH bytes, reading each on the
 * way. A Worker receives request bodies in 4 KiB chunks, and per-chunk costs (a hasher call per
 * digest, a promise per stream step) would otherwise take more CPU than the hashing itself.
 */
const BATCH = 1024 * 1024;

function inBatches(reading: PackageReading<unknown>): TransformStream<Uint8Array, Uint8Array> {
  let pending: Uint8Array[] = [];
  let pendingBytes = 0;
  const pass = (controller: TransformStreamDefaultController<Uint8Array>) => {
    const batch = pending.length === 1 ? pending[0]! : concatBytes(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    const hashed = reading.take(batch);
    controller.enqueue(batch);
    return hashed; // the next chunk waits for the hasher
  };
  return new TransformStream({
    transform(chunk, controller) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= BATCH) return pass(controller);
    },
    flush(controller) {
      if (pendingBytes) return pass(controller);
    },
  });
}
