import type { ByteRange, ObjectInfo, PutBody, PutOptions, Storage, StoredObject } from './types.js';
import { PartsAsObjects } from './parts.js';
import { toBytes } from './body.js';
import { streamOf } from '../util/bytes.js';

/** Keeps objects in a Map: for tests and throwaway servers. */
export class MemoryStorage extends PartsAsObjects implements Storage {
  private readonly objects = new Map<string, { data: Uint8Array; info: ObjectInfo }>();
  private version = 0;

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    const entry = this.objects.get(key);
    if (!entry) return null;
    let data = entry.data;
    let returned: StoredObject['range'];
    if (range) {
      const end = range.length === undefined ? data.length : Math.min(data.length, range.offset + range.length);
      data = data.subarray(range.offset, end);
      returned = { offset: range.offset, length: data.length };
    }
    // A copy: the caller may keep or change what it reads.
    return { ...entry.info, body: streamOf(data.slice()), range: returned };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    return this.objects.get(key)?.info ?? null;
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo | null> {
    // Read the body before checking preconditions: the check and the write must not be
    // separated by an await, which is what makes them atomic here.
    const data = await toBytes(body);
    const current = this.objects.get(key);
    if (options.ifNoneMatch === '*' && current) return null;
    if (options.ifMatch !== undefined && current?.info.etag !== options.ifMatch) return null;
    const info: ObjectInfo = { key, size: data.length, etag: `m${++this.version}`, lastModified: new Date() };
    this.objects.set(key, { data, info });
    return info;
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async touch(key: string): Promise<ObjectInfo | null> {
    const entry = this.objects.get(key);
    if (!entry) return null;
    entry.info = { ...entry.info, lastModified: new Date() };
    return entry.info;
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    const seen = new Set<string>();
    for (const key of [...this.objects.keys()]) {
      if (!key.startsWith(prefix)) continue;
      const rest = key.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash > 0 && !seen.has(rest.slice(0, slash))) {
        seen.add(rest.slice(0, slash));
        yield rest.slice(0, slash);
      }
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    for (const [key, { info }] of [...this.objects]) if (key.startsWith(prefix)) yield info;
  }
}
