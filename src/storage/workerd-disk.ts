import { toHex } from '../util/hash.js';
import { KeyedQueue } from '../util/concurrency.js';
import { streamOf } from '../util/bytes.js';
import { PartsAsObjects } from './parts.js';
import { toBytes } from './body.js';
import { rewrite, type ByteRange, type ObjectInfo, type PutBody, type PutOptions, type Storage, type StoredObject } from './types.js';

/** What a Worker gets for a service binding: here, to a workerd `disk` service. */
export interface DiskServiceLike {
  fetch(request: Request): Promise<Response>;
}

/**
 * Objects are tagged by a digest of their content up to this size (the head pointers that
 * compare-and-swap works on are a few dozen bytes); larger ones, written once, by size and time.
 */
const TAGGED_BY_CONTENT = 64 * 1024;

/**
 * Objects as files under a directory that workerd serves as a writable `disk` service: the
 * storage of an on-prem workerd. The layout is the directory backend's (FsStorage), so one data
 * directory can move between `packyard serve` and workerd.
 *
 * The service writes a file to a temporary name and renames it into place, so readers never see
 * half an object, but it has no conditional writes and no version tags. Conditional writes are
 * therefore checked and made under a lock in this isolate: atomic for one workerd process, which
 * is the deployment this backend is for (publishes to a repository also queue in its Durable
 * Object). Do not point a second writer (another workerd, or `packyard add`) at the same
 * directory while this one runs.
 */
export class WorkerdDiskStorage extends PartsAsObjects implements Storage {
  /** Conditional writes to one key, one at a time (check, then write). */
  private readonly writes = new KeyedQueue();

  constructor(private readonly disk: DiskServiceLike) {
    super();
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const obj = await this.get(key);
    if (!obj) return null;
    await obj.body.cancel();
    const { body: _, range: __, ...rest } = obj;
    return rest;
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    // An empty range is no HTTP range: ask for the whole object and send none of it.
    const ranged = range !== undefined && range.length !== 0;
    const headers = ranged ? { range: `bytes=${range.offset}-${range.length === undefined ? '' : range.offset + range.length - 1}` } : undefined;
    let res = await this.request('GET', key, { headers });
    if (res.status === 404) return null;
    if (res.status === 416) {
      // Past the end: no bytes, but the object exists.
      await res.body?.cancel();
      const head = await this.head(key);
      return head && { ...head, body: streamOf(new Uint8Array(0)), range: { offset: range!.offset, length: 0 } };
    }
    await expectOk(res, 'GET', key);
    const total = res.status === 206 ? Number(res.headers.get('content-range')!.split('/')[1]) : Number(res.headers.get('content-length'));
    if (total > TAGGED_BY_CONTENT) {
      if (range && !ranged) {
        await res.body?.cancel();
        return { ...info(key, res, total), body: streamOf(new Uint8Array(0)), range: { offset: range.offset, length: 0 } };
      }
      return { ...info(key, res, total), body: res.body ?? streamOf(new Uint8Array(0)), range: range && { offset: range.offset, length: Number(res.headers.get('content-length')) } };
    }
    // Small: the content tag needs all of it, whatever range was asked for.
    if (res.status === 206) {
      await res.body?.cancel();
      res = await this.request('GET', key);
      if (res.status === 404) return null;
      await expectOk(res, 'GET', key);
    }
    const bytes = new Uint8Array(await res.arrayBuffer());
    const found = { key, size: bytes.length, etag: `c${toHex(await crypto.subtle.digest('SHA-256', bytes)).slice(0, 32)}`, lastModified: modified(res) };
    if (!range) return { ...found, body: streamOf(bytes) };
    const end = range.length === undefined ? bytes.length : Math.min(bytes.length, range.offset + range.length);
    const slice = bytes.subarray(Math.min(range.offset, bytes.length), end);
    return { ...found, body: streamOf(slice), range: { offset: range.offset, length: slice.length } };
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo | null> {
    if (options.ifMatch === undefined && options.ifNoneMatch === undefined) return this.write(key, body);
    // Read the body first: nothing slow may sit between the check and the write.
    const bytes = await toBytes(body);
    return this.writes.run(key, async () => {
      const current = await this.head(key);
      if (options.ifNoneMatch === '*' && current) return null;
      if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) return null;
      return this.write(key, bytes);
    });
  }

  private async write(key: string, body: PutBody): Promise<ObjectInfo> {
    // A fetch whose body fails says only that it failed; keep the body's own error to throw.
    let bodyError: unknown;
    const sent = body instanceof ReadableStream ? watchErrors(body, (err) => (bodyError ??= err)) : body;
    let res: Response;
    try {
      res = await this.request('PUT', key, { body: sent, duplex: 'half' } as RequestInit);
    } catch (err) {
      throw bodyError ?? err;
    }
    await expectOk(res, 'PUT', key);
    const written = await this.head(key);
    if (!written) throw new Error(`storage: ${key} vanished right after it was written`);
    return written;
  }

  touch(key: string): Promise<ObjectInfo | null> {
    return rewrite(this, key);
  }

  async delete(key: string): Promise<void> {
    const res = await this.request('DELETE', key);
    if (res.status !== 404) await expectOk(res, 'DELETE', key);
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    for (const entry of await this.listDirectory(prefix.replace(/\/$/, ''))) if (entry.type === 'directory') yield entry.name;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Walk only the deepest directory the prefix names completely.
    const slash = prefix.lastIndexOf('/');
    for await (const key of this.walk(slash < 0 ? '' : prefix.slice(0, slash))) {
      if (!key.startsWith(prefix)) continue;
      const found = await this.head(key);
      if (found) yield found;
    }
  }

  private async *walk(dir: string): AsyncIterable<string> {
    for (const entry of await this.listDirectory(dir)) {
      // Dot names are the service's temporary files; `.tmp-` and `.lock` ones are the directory backend's.
      if (entry.name.startsWith('.') || entry.name.includes('.tmp-') || entry.name.endsWith('.lock')) continue;
      const path = dir ? `${dir}/${entry.name}` : entry.name;
      if (entry.type === 'directory') yield* this.walk(path);
      else if (entry.type === 'file') yield path;
    }
  }

  private async listDirectory(dir: string): Promise<{ name: string; type: string }[]> {
    const res = await this.disk.fetch(new Request(`http://disk/${dir ? `${encodeKey(dir)}/` : ''}`));
    if (res.status === 404) return [];
    await expectOk(res, 'GET', `${dir}/`);
    return (await res.json()) as { name: string; type: string }[];
  }

  private request(method: string, key: string, init: RequestInit = {}): Promise<Response> {
    return this.disk.fetch(new Request(`http://disk/${encodeKey(key)}`, { ...init, method }));
  }

}

function encodeKey(key: string): string {
  const parts = key.split('/');
  // Dot names are the service's own (and refused by it); the rest would leave the directory.
  if (!key || parts.some((part) => part === '' || part.startsWith('.'))) throw new Error(`invalid storage key: ${key}`);
  return parts.map(encodeURIComponent).join('/');
}

function info(key: string, res: Response, size: number): ObjectInfo {
  const lastModified = modified(res);
  return { key, size, etag: `t${size.toString(36)}-${lastModified.getTime().toString(36)}`, lastModified };
}

function modified(res: Response): Date {
  const header = res.headers.get('last-modified');
  return header ? new Date(header) : new Date(0);
}

async function expectOk(res: Response, method: string, key: string): Promise<void> {
  if (res.ok) return;
  const detail = await res.text().catch(() => '');
  throw new Error(`storage: ${method} ${key} failed: ${res.status} ${detail}`.trim());
}

function watchErrors(body: ReadableStream<Uint8Array>, onError: (err: unknown) => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        onError(err);
        throw err;
      }
    },
    cancel: (reason) => reader.cancel(reason),
  });
}
