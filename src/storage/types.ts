import { streamBytes } from '../util/bytes.js';

/**
 * The storage every backend provides. Keys are `/`-separated paths without a leading slash.
 * Objects are immutable by convention except the few pointers changed through `put` with a
 * precondition (compare-and-swap).
 */
export interface ObjectInfo {
  key: string;
  size: number;
  /** Opaque version tag: changes whenever the object's content changes. */
  etag: string;
  lastModified: Date;
}

export interface ByteRange {
  offset: number;
  /** Number of bytes; to the end of the object when omitted. */
  length?: number;
}

export interface StoredObject extends ObjectInfo {
  body: ReadableStream<Uint8Array>;
  /** The range actually returned, when a range was asked for. */
  range?: { offset: number; length: number };
}

export interface PutOptions {
  /** Write only if the current object's etag equals this. */
  ifMatch?: string;
  /** `'*'`: write only if no object exists under the key. */
  ifNoneMatch?: '*';
  /**
   * The key is new and nothing refers to it until this write has finished (an upload's blob), so
   * a backend may write in place instead of making the object appear atomically.
   */
  fresh?: boolean;
  /** The Content-Type a backend that serves objects to readers directly (S3) answers with. */
  contentType?: string;
}

export type PutBody = ReadableStream<Uint8Array> | Uint8Array | string;

/** A part written into a multipart upload; the list of them completes it. */
export interface PartInfo {
  /** 1-based. */
  part: number;
  etag: string;
  size: number;
}

/**
 * Writes one object in parts sent separately, possibly by different requests or processes (a
 * resumable upload too big for one request). Every part but the last has the same size, at
 * least 5 MiB (R2's and S3's rule). The object appears under its key only on `complete`.
 */
export interface MultipartStorage {
  /** Starts an upload of `key`; the returned id names it in later calls. */
  createMultipart(key: string): Promise<string>;
  /**
   * Writes (or rewrites) part `part` of exactly `size` bytes; a write that fails leaves no part.
   * The answer to an earlier sending of the same part still completes on the backends that keep
   * every sending (directory, memory, workerd disk), not on R2, which keeps one per number.
   */
  putPart(key: string, uploadId: string, part: number, body: ReadableStream<Uint8Array> | Uint8Array, size: number): Promise<PartInfo>;
  /**
   * Joins the parts, in order, into the object under `key`. Completing again (after a crash, or
   * over a join one cut short) answers the joined object.
   */
  completeMultipart(key: string, uploadId: string, parts: PartInfo[]): Promise<ObjectInfo>;
  /** Drops the upload and its parts; no error when it is already gone. */
  abortMultipart(key: string, uploadId: string): Promise<void>;
}

export interface Storage extends MultipartStorage {
  /**
   * Every call is a round trip over the network (a bucket): a create-only write of an object
   * that is probably new then costs less than looking first and writing after.
   */
  readonly remote?: boolean;
  get(key: string, range?: ByteRange): Promise<StoredObject | null>;
  head(key: string): Promise<ObjectInfo | null>;
  /** Returns the new object's info, or null when a precondition failed. */
  put(key: string, body: PutBody, options?: PutOptions): Promise<ObjectInfo | null>;
  delete(key: string): Promise<void>;
  /**
   * Sets an object's modification time to now, content unchanged (gc then keeps it for another
   * grace period); null when there is no such object.
   */
  touch(key: string): Promise<ObjectInfo | null>;
  /**
   * Every object whose key starts with `prefix`, in no particular order; with `leftovers`, also
   * what a write cut short by a crash left (a backend that writes temporary files: the
   * directory one), for gc to collect and fsck to count.
   */
  list(prefix: string, options?: { leftovers?: boolean }): AsyncIterable<ObjectInfo>;
  /**
   * The names one level below `prefix` (which ends in `/`) that have objects beneath them, like
   * the common prefixes of an S3 listing with a `/` delimiter; without walking everything below.
   */
  listFolders(prefix: string): AsyncIterable<string>;
  /**
   * Multipart uploads under `prefix` started before `before` and neither completed nor aborted
   * (a writer that crashed mid-stream), on a backend that keeps them outside any listing (S3);
   * absent where parts are ordinary objects, which the listing already shows.
   */
  incompleteWrites?(prefix: string, before: Date): AsyncIterable<IncompleteWrite>;
}

export interface IncompleteWrite {
  key: string;
  uploadId: string;
  started: Date;
}

export async function readBytes(storage: Storage, key: string): Promise<Uint8Array | null> {
  const obj = await storage.get(key);
  if (!obj) return null;
  return streamBytes(obj.body);
}

/** `length` bytes of an object from `offset`; null when it is missing or the range is not what came back. */
export async function readRange(storage: Storage, key: string, offset: number, length: number): Promise<Uint8Array | null> {
  const obj = await storage.get(key, { offset, length });
  if (!obj) return null;
  const bytes = await streamBytes(obj.body);
  // A backend that ignored the range sent the whole object.
  if (!obj.range && bytes.length === obj.size && offset + length <= bytes.length) return bytes.subarray(offset, offset + length);
  if (obj.range && obj.range.offset !== offset) return null;
  return bytes.length === length ? bytes : null;
}

export async function readText(storage: Storage, key: string): Promise<string | null> {
  const bytes = await readBytes(storage, key);
  return bytes && new TextDecoder().decode(bytes);
}

export async function readJson<T>(storage: Storage, key: string): Promise<T | null> {
  const text = await readText(storage, key);
  return text === null ? null : (JSON.parse(text) as T);
}

/** `touch` for a backend that cannot set a time: the object is written again from itself. */
export async function rewrite(storage: Storage, key: string): Promise<ObjectInfo | null> {
  const obj = await storage.get(key);
  return obj && storage.put(key, obj.body);
}

/** Deletes every object whose key starts with `prefix`. */
export async function deleteAll(storage: Pick<Storage, 'list' | 'delete'>, prefix: string): Promise<void> {
  for await (const obj of storage.list(prefix, { leftovers: true })) await storage.delete(obj.key);
}
