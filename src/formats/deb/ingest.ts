import type { Digests, HasherFactory } from '../../util/hash.js';
import type { Storage } from '../../storage/types.js';
import { layout } from '../../repository/layout.js';
import { PackyardError } from '../../util/errors.js';
import { concatBytes } from '../../util/bytes.js';
import { DebInspector } from './inspect.js';
import type { Gunzip } from './decompress.js';
import { poolPath, type DebRecord } from './record.js';

/**
 * Brings one uploaded `.deb` into storage while hashing it and reading its control member. A
 * stream is passed through chunk by chunk, so memory stays flat whatever the package's size;
 * bytes already in memory (small files read whole) skip the stream machinery. A bad package is
 * deleted before the error propagates: nothing of it stays referenced.
 */
interface IngestDeps {
  storage: Storage;
  createHasher: HasherFactory;
  gunzip?: Gunzip;
}

export async function ingestDeb(deps: IngestDeps, repo: string, component: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<DebRecord> {
  const { storage } = deps;
  const key = layout.blob(repo, crypto.randomUUID());
  const reading = readDeb(deps);
  try {
    if (body instanceof Uint8Array) {
      await reading.take(body);
      // Inspected before it is written: a bad package costs no write.
      const result = await reading.record(component, key);
      await storage.put(key, body, { fresh: true });
      return result;
    }
    await storage.put(key, body.pipeThrough(inspectInBatches(reading)), { fresh: true });
    return await reading.record(component, key);
  } catch (err) {
    await storage.delete(key).catch(() => {});
    throw err;
  }
}

/**
 * Reads a package already stored under `key` (a completed multipart upload) into its record;
 * the object stays where it is and becomes the package's blob.
 */
export async function ingestStoredDeb(deps: IngestDeps, component: string, key: string): Promise<DebRecord> {
  const obj = await deps.storage.get(key);
  if (!obj) throw new PackyardError(404, 'upload-not-found', `nothing is stored for this upload`);
  const reading = readDeb(deps);
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
  return reading.record(component, key);
}

/**
 * Passes a package's bytes on to storage in pieces of at least BATCH bytes, reading each on the
 * way. A Worker receives request bodies in 4 KiB chunks, and per-chunk costs (a hasher call per
 * digest, a promise per stream step) would otherwise take more CPU than the hashing itself.
 */
const BATCH = 1024 * 1024;

function inspectInBatches(reading: ReturnType<typeof readDeb>): TransformStream<Uint8Array, Uint8Array> {
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

/** Hashes a package's bytes and reads its control member as they go by, then makes its record. */
function readDeb({ createHasher, gunzip }: IngestDeps) {
  const hasher = createHasher();
  const inspector = new DebInspector(gunzip);
  let size = 0;
  return {
    take(chunk: Uint8Array): void | Promise<void> {
      size += chunk.length;
      inspector.push(chunk);
      return hasher.update(chunk);
    },
    async record(component: string, key: string): Promise<DebRecord> {
      const info = await inspector.finish();
      return record(info, component, key, size, await hasher.digest());
    },
  };
}

function record(info: Awaited<ReturnType<DebInspector['finish']>>, component: string, key: string, size: number, digests: Digests): DebRecord {
  return {
    package: info.package,
    version: info.version,
    architecture: info.architecture,
    source: info.source,
    control: info.control.text,
    filename: poolPath(component, info.source, info.package, info.version, info.architecture),
    size,
    key,
    ...digests,
  };
}
