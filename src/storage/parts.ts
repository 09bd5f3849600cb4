import { PackyardError } from '../util/errors.js';
import { SizeCheck, partSizeMismatch } from './body.js';
import { deleteAll, type ByteRange, type MultipartStorage, type ObjectInfo, type PartInfo, type PutBody, type PutOptions, type Storage, type StoredObject } from './types.js';

/**
 * Where the parts of an upload wait: beside the object's key, so whatever cleans up that part of
 * the store (a repository's garbage collection) also removes abandoned parts.
 */
const partsPrefix = (key: string, uploadId: string) => `${key}.parts/${checkId(uploadId, 'upload-not-found')}/`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The base of backends without multipart uploads of their own (a directory, memory): each part
 * is an object of its own, and completing streams them, in order, into the final object.
 *
 * Every sending of a part is written, in place, under a name of its own (the part number and a
 * new id, which is the part's etag) and never changed after: a part sent again does not touch
 * the one an earlier answer names, and what a crash cuts short lies under an ordinary key, where
 * abort, complete and garbage collection find it at once (a temporary file, only after an hour).
 */
export abstract class PartsAsObjects implements MultipartStorage {
  abstract get(key: string, range?: ByteRange): Promise<StoredObject | null>;
  abstract head(key: string): Promise<ObjectInfo | null>;
  abstract put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo | null>;
  abstract delete(key: string): Promise<void>;
  abstract list(prefix: string): AsyncIterable<ObjectInfo>;

  async createMultipart(_key: string): Promise<string> {
    return crypto.randomUUID();
  }

  async putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo> {
    if (body instanceof Uint8Array && body.length !== size) throw partSizeMismatch(part, size);
    const etag = crypto.randomUUID();
    const at = partKey(key, uploadId, part, etag);
    await this.stored(at, await this.put(at, body instanceof Uint8Array ? body : body.pipeThrough(new SizeCheck(part, size).stream), { fresh: true }), size);
    return { part, etag, size };
  }

  /**
   * Joins the parts in place (no second copy of a package-sized object on disk), then drops them.
   * Completing again, after a crash, finds the joined object (the parts may be gone by then), or
   * the start of one that the crash cut short, which it replaces.
   */
  async completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo> {
    const completed = await completedBefore(this, key, uploadId, parts);
    if (completed) return completed;
    const storage: Pick<Storage, 'get'> = this;
    let index = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const joined = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          if (!reader) {
            const next = parts[index++];
            if (!next) return controller.close();
            const obj = await storage.get(partKey(key, uploadId, next.part, next.etag));
            if (!obj || obj.size !== next.size) throw new PackyardError(400, 'part-missing', `part ${next.part} of upload ${uploadId} is missing`);
            reader = obj.body.getReader();
          }
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          reader = undefined;
        }
      },
    });
    // What lies under the key is the start of a join cut short; a fresh write must not find it.
    await this.delete(key);
    const info = await this.stored(key, await this.put(key, joined, { fresh: true }), joinedSize(parts));
    await this.abortMultipart(key, uploadId);
    return info;
  }

  /**
   * The info of a write that stored all its bytes. A backend whose writes a full disk can cut
   * short without an error would leave what passes for a part received, or a joined upload.
   */
  private async stored(key: string, info: ObjectInfo | null, size: number): Promise<ObjectInfo> {
    if (info?.size === size) return info;
    await this.delete(key);
    throw new PackyardError(507, 'insufficient-storage', `storage kept ${info?.size ?? 0} of the ${size} bytes of ${key}: is the disk full? Nothing was published; send it again`);
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await deleteAll(this, partsPrefix(key, uploadId));
  }
}

/**
 * The object a completed upload left under `key`, its parts dropped; null if it has not completed.
 * The object has the parts' size only once the join has finished (a write cut short is shorter).
 */
export async function completedBefore(storage: Pick<Storage, 'head' | 'abortMultipart'>, key: string, uploadId: string, parts: readonly PartInfo[]): Promise<ObjectInfo | null> {
  const current = await storage.head(key);
  if (!current || current.size !== joinedSize(parts)) return null;
  await storage.abortMultipart(key, uploadId);
  return current;
}

function joinedSize(parts: readonly PartInfo[]): number {
  return parts.reduce((sum, p) => sum + p.size, 0);
}

function partKey(key: string, uploadId: string, part: number, etag: string): string {
  if (!Number.isSafeInteger(part) || part < 1) throw new PackyardError(400, 'bad-part-number', `part numbers start at 1, not ${part}`);
  return `${partsPrefix(key, uploadId)}${part}.${checkId(etag, 'part-missing')}`;
}

/** Ids become key segments: only the ones this module makes pass. */
function checkId(id: string, code: 'upload-not-found' | 'part-missing'): string {
  if (!UUID.test(id)) throw code === 'upload-not-found' ? new PackyardError(404, code, `no upload ${id}`) : new PackyardError(400, code, `no part sent as ${id}`);
  return id;
}
