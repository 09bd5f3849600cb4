import type { HasherFactory } from '../../util/hash.js';
import type { Storage } from '../../storage/types.js';
import { layout } from '../../repository/layout.js';
import { PackyardError } from '../../util/errors.js';
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
      reading.take(body);
      // Inspected before it is written: a bad package costs no write.
      const result = await reading.record(component, key);
      await storage.put(key, body, { fresh: true });
      return result;
    }
    const inspect = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        reading.take(chunk);
        controller.enqueue(chunk);
      },
    });
    await storage.put(key, body.pipeThrough(inspect), { fresh: true });
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
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) reading.take(chunk.value);
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return reading.record(component, key);
}

/** Hashes a package's bytes and reads its control member as they go by, then makes its record. */
function readDeb({ createHasher, gunzip }: IngestDeps) {
  const hasher = createHasher();
  const inspector = new DebInspector(gunzip);
  let size = 0;
  return {
    take(chunk: Uint8Array) {
      size += chunk.length;
      hasher.update(chunk);
      inspector.push(chunk);
    },
    async record(component: string, key: string): Promise<DebRecord> {
      const info = await inspector.finish();
      return record(info, component, key, size, hasher.digest());
    },
  };
}

function record(info: Awaited<ReturnType<DebInspector['finish']>>, component: string, key: string, size: number, digests: ReturnType<ReturnType<HasherFactory>['digest']>): DebRecord {
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
