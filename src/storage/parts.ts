import { PackyardError } from '../util/errors.js';
import type { MultipartStorage, ObjectInfo, PartInfo, Storage } from './types.js';

type BasicStorage = Pick<Storage, 'get' | 'put' | 'delete' | 'list'>;

/**
 * Where the parts of an upload wait: beside the object's key, so whatever cleans up that part of
 * the store (a repository's garbage collection) also removes abandoned parts.
 */
const partsPrefix = (key: string, uploadId: string) => `${key}.parts/${checkId(uploadId)}/`;
const UPLOAD_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Multipart uploads for backends without their own (a directory, memory): each part is an object
 * of its own, and completing streams them, in order, into the final object.
 */
export class PartsAsObjects implements MultipartStorage {
  constructor(private readonly storage: BasicStorage) {}

  async createMultipart(_key: string): Promise<string> {
    return crypto.randomUUID();
  }

  async putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo> {
    const info = await this.storage.put(partKey(key, uploadId, part), body instanceof Uint8Array ? body : body.pipeThrough(exactly(size)));
    if (!info || info.size !== size) throw new PackyardError(400, 'part-size-mismatch', `part ${part} has ${info?.size ?? 0} bytes, not ${size}`);
    return { part, etag: info.etag, size };
  }

  async completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo> {
    const storage = this.storage;
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
    const info = await this.storage.put(key, joined, { fresh: true });
    await this.abortMultipart(key, uploadId);
    return info!;
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    for await (const obj of this.storage.list(partsPrefix(key, uploadId))) await this.storage.delete(obj.key);
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

/** Passes a stream through, failing it when it carries more or fewer than `size` bytes. */
function exactly(size: number): TransformStream<Uint8Array, Uint8Array> {
  let seen = 0;
  const mismatch = () => new PackyardError(400, 'part-size-mismatch', `the part is not ${size} bytes long`);
  return new TransformStream({
    transform(chunk, controller) {
      seen += chunk.length;
      if (seen > size) throw mismatch();
      controller.enqueue(chunk);
    },
    flush() {
      if (seen !== size) throw mismatch();
    },
  });
}
