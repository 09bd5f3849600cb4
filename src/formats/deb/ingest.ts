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

export async function ingestDeb({ storage, createHasher, gunzip }: IngestDeps, repo: string, component: string, body: ReadableStream<Uint8Array> | Uint8Array): Promise<DebRecord> {
  const key = layout.blob(repo, crypto.randomUUID());
  const hasher = createHasher();
  const inspector = new DebInspector(gunzip);
  let size = 0;
  const take = (chunk: Uint8Array) => {
    size += chunk.length;
    hasher.update(chunk);
    inspector.push(chunk);
  };
  try {
    if (body instanceof Uint8Array) {
      take(body);
      const info = await inspector.finish();
      await storage.put(key, body, { fresh: true });
      return record(info, component, key, size, hasher.digest());
    }
    const inspect = new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        take(chunk);
        controller.enqueue(chunk);
      },
    });
    await storage.put(key, body.pipeThrough(inspect), { fresh: true });
    return record(await inspector.finish(), component, key, size, hasher.digest());
  } catch (err) {
    await storage.delete(key).catch(() => {});
    throw err;
  }
}

/**
 * Reads a package already stored under `key` (a completed multipart upload) into its record;
 * the object stays where it is and becomes the package's blob.
 */
export async function ingestStoredDeb({ storage, createHasher, gunzip }: IngestDeps, component: string, key: string): Promise<DebRecord> {
  const obj = await storage.get(key);
  if (!obj) throw new PackyardError(404, 'upload-not-found', `nothing is stored for this upload`);
  const hasher = createHasher();
  const inspector = new DebInspector(gunzip);
  let size = 0;
  const reader = obj.body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      hasher.update(value);
      inspector.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  }
  return record(await inspector.finish(), component, key, size, hasher.digest());
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
