import type { Storage } from '../storage/types.js';
import { Lru } from '../repository/lru.js';

export interface ObjectResponseOptions {
  /** Strong validator, known without touching storage (the content's SHA-256). */
  etag: string;
  contentType: string;
  /** Immutable objects (pool files, by-hash indexes) may be cached for a year. */
  immutable: boolean;
  lastModified?: Date;
  /**
   * HTTP dates have whole seconds: when the object's previous version was made in the same
   * second, If-Modified-Since cannot tell the two apart and must not produce a 304.
   */
  lastModifiedAmbiguous?: boolean;
  /** Size when known (lets small objects be served from memory). */
  size?: number;
}

const SMALL = 1024 * 1024;
const IMMUTABLE = 'public, max-age=31536000, immutable';
const SHORT = 'public, max-age=30, must-revalidate';

/** Serves stored objects with validators, conditional requests and single byte ranges. */
export class ObjectServer {
  /**
   * Bytes of small objects by storage key (every object served is immutable under its key),
   * bounded at 32 MiB so it fits a Worker's 128 MB as well.
   */
  private readonly cache = new Lru<string, Uint8Array>(4096, (bytes) => bytes.length, 32 * 1024 * 1024);

  constructor(private readonly storage: Storage) {}

  async respond(request: Request, key: string, options: ObjectResponseOptions): Promise<Response> {
    const etag = `"${options.etag}"`;
    const headers = new Headers({
      'content-type': options.contentType,
      etag,
      'cache-control': options.immutable ? IMMUTABLE : SHORT,
      'accept-ranges': 'bytes',
    });
    if (options.lastModified) headers.set('last-modified', options.lastModified.toUTCString());
    if (notModified(request, etag, options.lastModifiedAmbiguous ? undefined : options.lastModified)) return new Response(null, { status: 304, headers });
    const head = request.method === 'HEAD';

    const rangeHeader = request.headers.get('range');
    const ifRange = request.headers.get('if-range');
    const wantsRange = rangeHeader !== null && (ifRange === null || ifRange === etag);

    const cached = this.cache.get(key);
    if (cached && !wantsRange) {
      headers.set('content-length', String(cached.length));
      return new Response(head ? null : (cached as Uint8Array<ArrayBuffer>), { status: 200, headers });
    }

    const size = options.size ?? (await this.storage.head(key))?.size;
    if (size === undefined) return missing();
    if (wantsRange) {
      const range = parseRange(rangeHeader, size);
      if (range === 'invalid') {
        // A syntactically bad Range header is ignored, as RFC 9110 says.
      } else if (range === null) {
        headers.set('content-range', `bytes */${size}`);
        return new Response(null, { status: 416, headers });
      } else {
        headers.set('content-range', `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`);
        headers.set('content-length', String(range.length));
        if (head) return new Response(null, { status: 206, headers });
        const obj = await this.storage.get(key, range);
        if (!obj) return missing();
        return new Response(obj.body, { status: 206, headers });
      }
    }
    headers.set('content-length', String(size));
    if (head) return new Response(null, { status: 200, headers });
    const obj = await this.storage.get(key);
    if (!obj) return missing();
    if (size <= SMALL) {
      const bytes = new Uint8Array(await new Response(obj.body).arrayBuffer());
      this.cache.set(key, bytes);
      return new Response(bytes, { status: 200, headers });
    }
    return new Response(obj.body, { status: 200, headers });
  }
}

function missing(): Response {
  return Response.json({ error: { code: 'not-found', message: 'file not found' } }, { status: 404 });
}

function notModified(request: Request, etag: string, lastModified?: Date): boolean {
  const inm = request.headers.get('if-none-match');
  if (inm !== null) return inm.split(',').some((t) => t.trim() === etag || t.trim() === `W/${etag}` || t.trim() === '*');
  const ims = request.headers.get('if-modified-since');
  if (ims && lastModified) {
    const since = Date.parse(ims);
    return !Number.isNaN(since) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(since / 1000);
  }
  return false;
}

/** One `bytes=` range; null when unsatisfiable, 'invalid' when not understood (then ignored). */
export function parseRange(header: string, size: number): { offset: number; length: number } | null | 'invalid' {
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
