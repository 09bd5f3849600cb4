import type { HasherFactory } from '../../util/hash.js';
import type { Storage } from '../../storage/types.js';
import { layout } from '../../repository/layout.js';
import { DebInspector } from './inspect.js';
import { poolPath, type DebRecord } from './record.js';

/**
 * Streams one uploaded `.deb` into storage while hashing it and reading its control member,
 * so memory stays flat whatever the package's size. A bad package is deleted before the error
 * propagates: nothing of it stays referenced.
 */
export async function ingestDeb(storage: Storage, createHasher: HasherFactory, repo: string, component: string, body: ReadableStream<Uint8Array>): Promise<DebRecord> {
  const key = layout.blob(repo, crypto.randomUUID());
  const hasher = createHasher();
  const inspector = new DebInspector();
  let size = 0;
  const inspect = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      size += chunk.length;
      hasher.update(chunk);
      inspector.push(chunk);
      controller.enqueue(chunk);
    },
  });
  try {
    await storage.put(key, body.pipeThrough(inspect));
    const info = await inspector.finish();
    const digests = hasher.digest();
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
  } catch (err) {
    await storage.delete(key).catch(() => {});
    throw err;
  }
}
