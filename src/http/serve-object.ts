import { readBytes, type Storage } from '../storage/types.js';
import type { Credentials } from '../auth/access.js';
import { Lru } from '../util/lru.js';
import { PackyardError } from '../util/errors.js';
import { streamBytes } from '../util/bytes.js';
import { gunzipStream } from '../util/codecs/gunzip-stream.js';

export type Log = (entry: Record<string, unknown>) => void;

/** What serving needs of a request: its method and a few headers (read lazily, since building a
 * whole Headers object is the most expensive part of a small response on some hosts). */
export interface RequestView extends Credentials {
  method: string;
  /** `scheme://host[:port]` as the client addressed the server, for absolute URLs in answers. */
  origin(): string;
}

export interface LastModified {
  /** As sent in `Last-Modified`. */
  http: string;
  /** Whole seconds since the epoch. */
  seconds: number;
  /**
   * HTTP dates have whole seconds: when the object's previous version was made in the same
   * second, If-Modified-Since cannot tell the two apart and must not produce a 304.
   */
  ambiguous: boolean;
}

export interface ObjectResponseOptions {
  /** Strong validator, known without touching storage (the content's SHA-256). */
  etag: string;
  contentType: string;
  /** Immutable objects (pool files, by-hash indexes) may be cached for a year. */
  immutable: boolean;
  /** An answer to a credential (a private repository's file): no shared cache may keep it. */
  private?: boolean;
  lastModified?: LastModified;
  /** Size when known (lets small objects be served from memory). */
  size?: number;
  /** Never from memory, however small: the host writes the object by its key (e.g. as a redirect). */
  byKey?: boolean;
  /** The object is the file gzipped (`FileEntry.encoding`): served decompressed, `size` being the file's. */
  gunzip?: boolean;
}

// Up to this size objects are read whole and kept in memory: every Packages.gz of a 10,000-package
// repository fits, so index downloads are answered without touching storage.
const SMALL = 4 * 1024 * 1024;
const IMMUTABLE = 'max-age=31536000, immutable';
const SHORT = 'max-age=30, must-revalidate';

/**
 * What to answer, decided without committing to a runtime's Response: the web-standard app turns
 * it into a Response, and a host may write it out its own faster way.
 */
export interface ResponsePlan {
  status: number;
  headers: Record<string, string>;
  /** Bytes at hand, a stored object (or a range of it) to stream, a stream from elsewhere (a proxied file), or no body. */
  body: { bytes: Uint8Array } | { key: string; size: number; range?: { offset: number; length: number } } | { stream: ReadableStream<Uint8Array> } | null;
}

/** Serves stored objects with validators, conditional requests and single byte ranges. */
export class ObjectServer {
  /**
   * Bytes of small objects by storage key (every object served is immutable under its key),
   * bounded at 32 MiB so it fits a Worker's 128 MB as well.
   */
  private readonly cache = new Lru<string, Uint8Array>(4096, (bytes) => bytes.length, 32 * 1024 * 1024);

  constructor(
    readonly storage: Storage,
    private readonly log?: Log,
  ) {}

  /**
   * A snapshot names an object that storage does not hold: the client gets a 404, the operator
   * one log line with the key (the one place such events are counted).
   */
  missing(key: string): PackyardError {
    this.log?.({ level: 'error', msg: 'storage inconsistency: object missing', key });
    return new PackyardError(404, 'not-found', 'file not found');
  }

  /** The plan for a GET or HEAD of the object under `key`; null when it is not stored. */
  async plan(request: RequestView, key: string, options: ObjectResponseOptions): Promise<ResponsePlan | null> {
    const etag = `"${options.etag}"`;
    // A plain record, not a Headers object: this is the hot path.
    const headers: Record<string, string> = {
      'content-type': options.contentType,
      etag,
      'cache-control': `${options.private ? 'private' : 'public'}, ${options.immutable ? IMMUTABLE : SHORT}`,
      'accept-ranges': 'bytes',
    };
    if (options.lastModified) headers['last-modified'] = options.lastModified.http;
    if (notModified(request, etag, options.lastModified)) return { status: 304, headers, body: null };
    const head = request.method === 'HEAD';
    if (options.gunzip) return this.planDecompressed(key, options, headers, head);

    const rangeHeader = request.header('range');
    const ifRange = request.header('if-range');
    const wantsRange = rangeHeader !== undefined && (ifRange === undefined || ifRange === etag);

    const cached = options.byKey ? undefined : this.cache.get(key);
    if (cached && !wantsRange) {
      headers['content-length'] = String(cached.length);
      return { status: 200, headers, body: head ? null : { bytes: cached } };
    }

    // A size from the snapshot saves a storage read, but a HEAD must not vouch for a missing object.
    const size = options.size !== undefined && !head ? options.size : (await this.storage.head(key))?.size;
    if (size === undefined) {
      if (options.size !== undefined) throw this.missing(key);
      return null;
    }
    if (wantsRange) {
      const range = parseRange(rangeHeader, size);
      if (range === null) {
        headers['content-range'] = `bytes */${size}`;
        return { status: 416, headers, body: null };
      }
      // A syntactically bad Range header is ignored, as RFC 9110 says.
      if (range !== 'invalid') {
        headers['content-range'] = `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`;
        headers['content-length'] = String(range.length);
        return { status: 206, headers, body: head ? null : { key, size, range } };
      }
    }
    headers['content-length'] = String(size);
    if (head) return { status: 200, headers, body: null };
    if (size <= SMALL && !options.byKey) {
      const bytes = await readBytes(this.storage, key);
      if (!bytes) throw this.missing(key);
      this.cache.set(key, bytes);
      return { status: 200, headers, body: { bytes } };
    }
    return { status: 200, headers, body: { key, size } };
  }

  /**
   * A file kept only gzipped, whole: byte ranges of it would mean decompressing up to them, and
   * nothing fetches it in pieces (apt takes the compressed index), so Range is ignored, as RFC 9110
   * allows. Decompressed bytes are cached like small objects.
   */
  private async planDecompressed(key: string, options: ObjectResponseOptions, headers: Record<string, string>, head: boolean): Promise<ResponsePlan> {
    const size = options.size;
    if (size === undefined) throw new Error(`the size of the decompressed ${key} is needed`);
    headers['accept-ranges'] = 'none';
    headers['content-length'] = String(size);
    const cacheKey = `gunzip:${key}`;
    const cached = this.cache.get(cacheKey);
    if (cached) return { status: 200, headers, body: head ? null : { bytes: cached } };
    if (head) {
      if (!(await this.storage.head(key))) throw this.missing(key);
      return { status: 200, headers, body: null };
    }
    const obj = await this.storage.get(key);
    if (!obj) throw this.missing(key);
    const stream = obj.body.pipeThrough(gunzipStream(size));
    if (size > SMALL) return { status: 200, headers, body: { stream } };
    const bytes = await streamBytes(stream);
    this.cache.set(cacheKey, bytes);
    return { status: 200, headers, body: { bytes } };
  }

  /** The plan as a web-standard Response; a 404 when the object has gone from storage since. */
  async toResponse(plan: ResponsePlan): Promise<Response> {
    const { status, headers, body } = plan;
    if (body === null) return new Response(null, { status, headers });
    if ('bytes' in body) return new Response(body.bytes as Uint8Array<ArrayBuffer>, { status, headers });
    if ('stream' in body) return new Response(body.stream, { status, headers });
    const obj = await this.storage.get(body.key, body.range);
    if (!obj) throw this.missing(body.key);
    return new Response(obj.body, { status, headers });
  }
}

function notModified(request: RequestView, etag: string, lastModified?: LastModified): boolean {
  const inm = request.header('if-none-match');
  if (inm !== undefined) return inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*');
  const ims = request.header('if-modified-since');
  if (ims && lastModified && !lastModified.ambiguous) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && lastModified.seconds <= Math.floor(since / 1000);
  }
  return false;
}

/** One `bytes=` range; null when unsatisfiable, 'invalid' when not understood (then ignored). */
function parseRange(header: string, size: number): { offset: number; length: number } | null | 'invalid' {
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'invalid';
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return null;
    const length = Math.min(suffix, size);
    return size === 0 ? null : { offset: size - length, length };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return match[2] !== '' && Number(match[2]) < start ? 'invalid' : null;
  return { offset: start, length: end - start + 1 };
}
