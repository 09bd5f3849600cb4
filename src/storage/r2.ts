import { STREAM_PART, putInParts } from './stream-parts.js';
import { PackyardError } from '../util/errors.js';
import { partBody } from './body.js';
import { completedBefore } from './parts.js';
import { rewrite, type ByteRange, type ObjectInfo, type PartInfo, type PutBody, type PutOptions, type Storage, type StoredObject } from './types.js';
import { streamOf } from '../util/bytes.js';

// The few parts of a Workers R2 binding this backend uses, declared structurally so that `src`
// needs neither @cloudflare/workers-types' globals (which clash with DOM and Node types) nor a
// runtime: a Worker passes `env.BUCKET`, a test Miniflare's `getR2Bucket()`.

export interface R2ObjectLike {
  readonly key: string;
  readonly size: number;
  /** Unquoted (`httpEtag` is the quoted form); `onlyIf.etagMatches` wants this one. */
  readonly etag: string;
  readonly uploaded: Date;
}

export interface R2ObjectBodyLike extends R2ObjectLike {
  readonly body: ReadableStream<Uint8Array>;
  /** The range returned, when one was asked for. */
  readonly range?: { offset?: number; length?: number; suffix?: number };
}

export interface R2ConditionalLike {
  etagMatches?: string;
  etagDoesNotMatch?: string;
}

export interface R2UploadedPartLike {
  partNumber: number;
  etag: string;
}

export interface R2MultipartUploadLike {
  readonly uploadId: string;
  uploadPart(partNumber: number, value: ReadableStream<Uint8Array> | Uint8Array): Promise<R2UploadedPartLike>;
  complete(parts: R2UploadedPartLike[]): Promise<R2ObjectLike>;
  abort(): Promise<void>;
}

export interface R2ObjectsLike {
  objects: R2ObjectLike[];
  delimitedPrefixes: string[];
  truncated: boolean;
  cursor?: string;
}

export interface R2BucketLike {
  head(key: string): Promise<R2ObjectLike | null>;
  get(key: string, options?: { range?: { offset: number; length?: number } }): Promise<R2ObjectBodyLike | null>;
  /** Null when `onlyIf` failed. */
  put(key: string, value: Uint8Array | string, options?: { onlyIf?: R2ConditionalLike }): Promise<R2ObjectLike | null>;
  delete(key: string): Promise<void>;
  list(options: { prefix: string; delimiter?: string; cursor?: string }): Promise<R2ObjectsLike>;
  createMultipartUpload(key: string): Promise<R2MultipartUploadLike>;
  resumeMultipartUpload(key: string, uploadId: string): R2MultipartUploadLike;
}


/** Objects in a Cloudflare R2 bucket, through a Workers binding. */
export class R2Storage implements Storage {
  constructor(private readonly bucket: R2BucketLike) {}

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    checkKey(key);
    let obj: R2ObjectBodyLike | null;
    try {
      obj = await this.bucket.get(key, range && { range: range.length === undefined ? { offset: range.offset } : { offset: range.offset, length: range.length } });
    } catch (err) {
      // R2 refuses (10039, "not satisfiable") a range of no bytes: one starting at or past the
      // end, or of length 0. The other backends answer it with an empty body, so do the same.
      const current = range && (await this.head(key));
      if (!range || (current && range.offset < current.size && range.length !== 0)) throw err;
      if (!current) return null;
      return { ...current, body: streamOf(new Uint8Array(0)), range: { offset: range.offset, length: 0 } };
    }
    if (!obj) return null;
    let returned: StoredObject['range'];
    if (range) {
      const offset = typeof obj.range?.offset === 'number' ? obj.range.offset : range.offset;
      const length = Math.max(0, Math.min(obj.range?.length ?? range.length ?? Infinity, obj.size - offset));
      returned = { offset, length };
    }
    return { ...info(obj), body: obj.body, range: returned };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    checkKey(key);
    const obj = await this.bucket.head(key);
    return obj && info(obj);
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo | null> {
    checkKey(key);
    // Every R2 write is atomic (a multipart upload too shows up only on complete), so `fresh`
    // changes nothing. `'*'` as etagDoesNotMatch means "no object under the key" (If-None-Match).
    const onlyIf: R2ConditionalLike | undefined =
      options.ifMatch !== undefined ? { etagMatches: options.ifMatch } : options.ifNoneMatch === '*' ? { etagDoesNotMatch: '*' } : undefined;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const obj = await this.bucket.put(key, body, onlyIf && { onlyIf });
      return obj && info(obj);
    }
    return this.putStream(key, body, onlyIf);
  }

  private putStream(key: string, body: ReadableStream<Uint8Array>, onlyIf: R2ConditionalLike | undefined): Promise<ObjectInfo | null> {
    return putInParts<R2MultipartUploadLike, R2UploadedPartLike>(body, {
      single: async (bytes) => {
        const obj = await this.bucket.put(key, bytes, onlyIf && { onlyIf });
        return obj && info(obj);
      },
      start: () => {
        // Completing a multipart upload takes no precondition: no atomic compare-and-swap.
        if (onlyIf) throw new Error(`conditional writes to R2 take at most ${STREAM_PART} bytes (${key})`);
        return this.bucket.createMultipartUpload(key);
      },
      part: (upload, n, bytes) => upload.uploadPart(n, bytes),
      complete: async (upload, parts) => info(await upload.complete(parts)),
      abort: (upload) => upload.abort(),
    });
  }

  touch(key: string): Promise<ObjectInfo | null> {
    return rewrite(this, key);
  }

  async delete(key: string): Promise<void> {
    checkKey(key);
    await this.bucket.delete(key);
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, cursor });
      for (const obj of page.objects) yield info(obj);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    let cursor: string | undefined;
    do {
      const page = await this.bucket.list({ prefix, delimiter: '/', cursor });
      // Each is the prefix, a name and the slash after it.
      for (const folder of page.delimitedPrefixes) yield folder.slice(prefix.length, -1);
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
  }

  async createMultipart(key: string): Promise<string> {
    checkKey(key);
    return (await this.bucket.createMultipartUpload(key)).uploadId;
  }

  /**
   * A stream goes to R2 through a FixedLengthStream of `size` (workerd's way of giving a stream
   * a known length), with constant memory. Where there is none (Node, through Miniflare's
   * proxy) the part is read into memory first: `size` bytes, which the caller bounds (32 MiB
   * for resumable uploads), refused beyond MAX_BUFFERED_PART. Either way a body of other than
   * `size` bytes fails with part-size-mismatch.
   */
  async putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo> {
    checkKey(key);
    if (!Number.isSafeInteger(part) || part < 1 || part > 10_000) throw new PackyardError(400, 'bad-part-number', `part numbers go from 1 to 10000, not ${part}`);
    const { value, check } = await partBody(part, body, size);
    try {
      const uploaded = await this.bucket.resumeMultipartUpload(key, uploadId).uploadPart(part, value);
      return { part, etag: uploaded.etag, size };
    } catch (err) {
      throw check?.error ?? uploadError(err, uploadId);
    }
  }

  /**
   * Completing again (a caller that crashed before it heard the answer) finds the object: R2 then
   * no longer knows the upload, and a complete answers only once.
   */
  async completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo> {
    checkKey(key);
    const completed = await completedBefore(this, key, uploadId, parts);
    if (completed) return completed;
    const uploaded = [...parts].sort((a, b) => a.part - b.part).map((p) => ({ partNumber: p.part, etag: p.etag }));
    try {
      return info(await this.bucket.resumeMultipartUpload(key, uploadId).complete(uploaded));
    } catch (err) {
      if (r2Code(err) === 10025) throw new PackyardError(400, 'part-missing', `a part of upload ${uploadId} is missing or was replaced`);
      throw uploadError(err, uploadId);
    }
  }

  async abortMultipart(key: string, uploadId: string): Promise<void> {
    checkKey(key);
    try {
      await this.bucket.resumeMultipartUpload(key, uploadId).abort();
    } catch (err) {
      if (r2Code(err) !== 10024) throw err;
    }
  }
}

function info(obj: R2ObjectLike): ObjectInfo {
  return { key: obj.key, size: obj.size, etag: obj.etag, lastModified: obj.uploaded };
}

/** The same keys the directory backend takes, so that a store can move between backends. */
function checkKey(key: string): void {
  if (!key || key.split('/').some((part) => part === '' || part === '.' || part === '..')) throw new Error(`invalid storage key: ${key}`);
}

/** R2's errors end in their code: "… does not exist. (10024)". */
function r2Code(err: unknown): number | undefined {
  const match = err instanceof Error ? /\((\d{5})\)$/.exec(err.message) : null;
  return match ? Number(match[1]) : undefined;
}

function uploadError(err: unknown, uploadId: string): unknown {
  return r2Code(err) === 10024 ? new PackyardError(404, 'upload-not-found', `no upload ${uploadId}`) : err;
}
