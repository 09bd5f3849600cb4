import { PackyardError } from '../util/errors.js';
import { SizeCheck, partSizeMismatch } from './body.js';
import { deleteAll, type ByteRange, type MultipartStorage, type ObjectInfo, type PartInfo, type PutBody, type PutOptions, type Storage, type StoredObject } from './types.js';

/**
 * Where the parts of an upload wait: beside the object's key, so whatever cleans up that part of
 * the store (a repository's garbage collection) also removes abandoned parts.
 */
const partsPrefix = (key: string, uploadId: string) => `${key}.parts/${checkId(uploadId)}/`;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The base of backends without multipart uploads of their own (a directory, memory): each part
 * is an object of its own, and completing streams them, in order, into the final object.
 */
export abstract class PartsAsObjects implements MultipartStorage {
  abstract get(key: string, range?: ByteRange): Promise<StoredObject | null>;
  abstract put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo | null>;
  abstract delete(key: string): Promise<void>;
  abstract list(prefix: string): AsyncIterable<ObjectInfo>;

  async createMultipart(_key: string): Promise<string> {
    return crypto.randomUUID();
  }

  async putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo> {
    if (body instanceof Uint8Array && body.length !== size) throw partSizeMismatch(part, size);
    const info = await this.put(partKey(key, uploadId, part), body instanceof Uint8Array ? body : body.pipeThrough(new SizeCheck(part, size).stream));
    return { part, etag: info!.etag, size };
  }

  async completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo> {
    const storage: Pick<Storage, 'get'> = this;
    let index = 0;
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    const joined = new ReadableStream<Uint8Array>({
      async pull(controller) {
        for (;;) {
          if (!reader) {
            const next = parts[index++];
            if (!next) return controller.close();
            const obj = await storage.get(partKey(key, uploadId, next.part));
            if (!obj || obj.etag !== next.etag) throw new PackyardError(400, 'part-missing', `part ${next.part} of upload ${uploadId} is missing or was replaced`);
            reader = obj.body.getReader();
          }
          const { done, value } = await reader.read();
          if (!done) return controller.enqueue(value);
          reader = undefined;
        }
      },
    });
    const info = await this.put(key, joined, { fresh: true });
    await this.abortMultipart(key, uploadId);
    return info!;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    await deleteAll(this, partsPrefix(key, uploadId));
  }
}

function partKey(key: string, uploadId: string, part: number): string {
  if (!Number.isSafeInteger(part) || part < 1) throw new PackyardError(400, 'bad-part-number', `part numbers start at 1, not ${part}`);
  return `${partsPrefix(key, uploadId)}${part}`;
}

function checkId(uploadId: string): string {
  if (!UPLOAD_ID.test(uploadId)) throw new PackyardError(404, 'upload-not-found', `no upload ${uploadId}`);
  return uploadId;
}
