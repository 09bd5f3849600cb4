// Packyard's own stores in this process, through tsx (the sources, no build): a data directory,
// a bucket, copying one into the other, and S3 requests counted by method.
import { readBytes } from '../../src/storage/types.ts';
import { FsStorage } from '../../src/hosts/node/fs-storage.ts';
import { openStore } from '../../src/hosts/node/runtime.ts';
import { s3StorageAt } from '../../src/hosts/node/store-location.ts';

/** Requests S3Storage sent since the last `takeRequests()`, by method (it calls the global fetch). */
let counted = {};
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init) => {
  const method = (input instanceof Request ? input.method : init?.method) ?? 'GET';
  counted[method] = (counted[method] ?? 0) + 1;
  return realFetch(input, init);
};
export function takeRequests() {
  const taken = counted;
  counted = {};
  return taken;
}

/** A Runtime (service, storage…) over `dir` or an `s3://` URL (credentials from process.env). */
export function open(where) {
  return openStore(where.startsWith('s3://') ? { kind: 's3', url: where } : { kind: 'dir', path: where });
}

/** Copies every object of a data directory into a bucket, `concurrency` at a time; resolves with the count. */
export async function copyDirToBucket(dir, url, concurrency = 16) {
  const from = new FsStorage(dir);
  const to = s3StorageAt({ kind: 's3', url });
  const keys = [];
  for await (const info of from.list('')) keys.push(info.key);
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      await to.put(key, await readBytes(from, key));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return keys.length;
}
