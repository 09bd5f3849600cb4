import { closeSync, createReadStream, fstatSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join, relative, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { Stats } from 'node:fs';
import lockfile from 'proper-lockfile';
import type { ByteRange, ObjectInfo, PutBody, PutOptions, Storage, StoredObject } from '../../storage/types.js';
import { PartsAsObjects } from '../../storage/parts.js';
import { streamOf } from '../../util/bytes.js';
import { PackyardError } from '../../util/errors.js';
import { log } from './log.js';

const TMP_MARK = '.tmp-';
/** A temporary file's name: the object's, the mark, a random UUID. */
const TEMPORARY = /\.tmp-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/**
 * A temporary file no write has touched for this long is what a crash left of one: `list`
 * reports it under its own name, so that gc's sweep collects it and fsck counts it.
 */
const LEFTOVER_MS = 3_600_000;

/**
 * Objects as files under a directory. Every write goes to a temporary file that is renamed
 * into place, so a reader (or a crash) never sees half an object; conditional writes take a
 * lock file around check-and-rename, which also serialises separate processes (the server and
 * `packyard add`) sharing one data directory.
 */
export class FsStorage extends PartsAsObjects implements Storage {
  constructor(readonly root: string) {
    super();
  }

  /** The file holding an object (for hosts that stream files themselves). */
  filePath(key: string): string {
    if (!key || INVALID_KEY.test(key) || key.includes(TMP_MARK)) throw new Error(`invalid storage key: ${key}`);
    return join(this.root, key);
  }

  /**
   * Makes the folders that the keys `folders` name (`a/b/` for `a/b/x`) ahead of writes into
   * them, synchronously: the ingest pool does it for the blob folders while its threads start.
   * Writes make missing folders anyway; this only takes the work off their way.
   */
  makeFolders(folders: readonly string[]): void {
    for (const folder of folders) mkdirSync(this.folderOf(folder), { recursive: true });
  }

  /** The directory a listing prefix names whole (its part up to the last `/`), never outside the root. */
  private folderOf(prefix: string): string {
    const parts = prefix.split('/').slice(0, -1).filter(Boolean);
    if (prefix.startsWith('/') || parts.some((part) => part === '.' || part === '..')) throw new Error(`invalid storage prefix: ${prefix}`);
    return join(this.root, ...parts);
  }

  private info(key: string, st: Stats): ObjectInfo {
    // A rename always brings a new inode, so inode+mtime+size changes on every write.
    return { key, size: st.size, etag: `${st.ino.toString(36)}-${st.mtimeMs.toString(36)}-${st.size.toString(36)}`, lastModified: st.mtime };
  }

  async head(key: string): Promise<ObjectInfo | null> {
    try {
      // A leftover is listed, and its time read, only to be deleted.
      const st = await stat(this.pathOf(key));
      return st.isFile() ? this.info(key, st) : null;
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async get(key: string, range?: ByteRange): Promise<StoredObject | null> {
    // A leftover is listed only to be deleted: it is no object.
    if (isLeftover(key)) return null;
    const path = this.filePath(key);
    let handle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    const st = await handle.stat();
    const offset = range?.offset ?? 0;
    const length = range ? Math.max(0, Math.min(range.length ?? st.size - offset, st.size - offset)) : st.size;
    let body: ReadableStream<Uint8Array>;
    if (length <= SMALL_READ) {
      // One read: a file stream costs more than reading a head pointer or an index shard.
      let bytes = new Uint8Array(length);
      try {
        if (length) bytes = bytes.subarray(0, (await handle.read(bytes, 0, length, offset)).bytesRead);
      } finally {
        await handle.close();
      }
      body = streamOf(bytes);
    } else {
      const stream = createReadStream('', { fd: handle, start: offset, end: offset + length - 1, highWaterMark: 1024 * 1024 });
      body = Readable.toWeb(stream) as ReadableStream<Uint8Array>;
    }
    return { ...this.info(key, st), body, range: range ? { offset, length } : undefined };
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<ObjectInfo | null> {
    try {
      return await this.place(key, body, options);
    } catch (err) {
      throw isFull(err) ? storageFull(this.root, err) : err;
    }
  }

  private async place(key: string, body: PutBody, options: PutOptions): Promise<ObjectInfo | null> {
    const path = this.filePath(key);
    const unconditional = options.ifMatch === undefined && options.ifNoneMatch === undefined;
    // A fresh key is written in place: creating and renaming a temporary file doubles the
    // directory updates, the main cost of ingesting many small packages.
    const tmp = unconditional && options.fresh ? path : `${path}${TMP_MARK}${randomUUID()}`;
    if (unconditional && isSmall(body)) return this.info(key, writeSmallSync(tmp, path, body));
    let placed = false;
    try {
      const written = await writeFile(tmp, body).catch((err) => {
        // A fresh key taken already: that object is not this write's to remove.
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') placed = true;
        throw err;
      });
      if (unconditional) {
        if (tmp !== path) await rename(tmp, path);
        placed = true;
        return this.info(key, written);
      }
      const release = await lockfile.lock(path, { realpath: false, stale: 5_000, retries: { retries: 400, minTimeout: 5, maxTimeout: 50 } });
      try {
        const current = await this.head(key);
        if (options.ifNoneMatch === '*' && current) return null;
        if (options.ifMatch !== undefined && current?.etag !== options.ifMatch) return null;
        await rename(tmp, path);
        placed = true;
        return this.info(key, written);
      } finally {
        await release();
      }
    } finally {
      if (!placed) await unlink(tmp).catch(() => {});
    }
  }

  /** The file of an object, or of a leftover temporary file (named by its object's key and its mark). */
  private pathOf(key: string): string {
    const mark = TEMPORARY.exec(key)?.[0];
    return mark ? this.filePath(key.slice(0, -mark.length)) + mark : this.filePath(key);
  }

  async delete(key: string): Promise<void> {
    await unlink(this.pathOf(key)).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  async touch(key: string): Promise<ObjectInfo | null> {
    const path = this.filePath(key);
    const now = new Date();
    try {
      await utimes(path, now, now);
      return this.info(key, await stat(path));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  async *listFolders(prefix: string): AsyncIterable<string> {
    let entries;
    try {
      entries = await readdir(this.folderOf(prefix.endsWith('/') ? prefix : `${prefix}/`), { withFileTypes: true });
    } catch (err) {
      if (isNotFound(err)) return;
      throw err;
    }
    for (const entry of entries) if (entry.isDirectory()) yield entry.name;
  }

  async *list(prefix: string, options: { leftovers?: boolean } = {}): AsyncIterable<ObjectInfo> {
    // Walk only the deepest directory the prefix names completely.
    for await (const file of walk(this.folderOf(prefix))) {
      const key = relative(this.root, file).split(sep).join('/');
      if (!key.startsWith(prefix) || key.endsWith('.lock')) continue;
      const temporary = key.includes(TMP_MARK);
      if (temporary && !(options.leftovers && isLeftover(key))) continue;
      try {
        const st = await stat(file);
        if (temporary && Date.now() - st.mtimeMs <= LEFTOVER_MS) continue;
        if (st.isFile()) yield this.info(key, st);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
  }
}

/** A key with an empty, `.` or `..` part (a leading or trailing `/` makes an empty one). */
const INVALID_KEY = /^\/|\/\/|\/$|(^|\/)\.\.?(\/|$)/;

const SMALL_WRITE = 256 * 1024;
const SMALL_READ = 64 * 1024;

function isSmall(body: PutBody): body is string | Uint8Array {
  return (typeof body === 'string' || body instanceof Uint8Array) && body.length <= SMALL_WRITE;
}

/**
 * Small objects are written with synchronous calls: a handful of microseconds of blocking,
 * against several thread-pool round trips each; ingesting thousands of small packages is
 * bound by exactly this.
 */
function writeSmallSync(tmp: string, path: string, body: string | Uint8Array): Stats {
  let fd: number;
  try {
    fd = openSync(tmp, 'wx');
  } catch (err) {
    // Its folder does not exist yet: made on the first write into it (see writeFile).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    mkdirSync(dirname(path), { recursive: true });
    fd = openSync(tmp, 'wx');
  }
  try {
    try {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      // A full disk takes part of a write and refuses only the next: write until all is taken.
      for (let done = 0; done < bytes.length; ) done += writeSync(fd, bytes, done);
      const st = fstatSync(fd);
      if (tmp !== path) renameSync(tmp, path);
      return st;
    } finally {
      closeSync(fd);
    }
  } catch (err) {
    try {
      unlinkSync(tmp);
    } catch {}
    throw err;
  }
}

/** Writes a new file and returns its stat (a rename keeps inode and times, so it describes the placed object). */
async function writeFile(path: string, body: PutBody): Promise<Stats> {
  const handle = await open(path, 'wx').catch(async (err) => {
    // Its folder does not exist yet: made on the first write into it (no mkdir per write, no cache of folders).
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx');
  });
  try {
    if (typeof body === 'string' || body instanceof Uint8Array) await handle.writeFile(body);
    else {
      for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        // As above: a short write is followed by the one that fails, never left at that.
        for (let done = 0; done < chunk.length; ) done += (await handle.write(chunk, done)).bytesWritten;
      }
    }
    return await handle.stat();
  } finally {
    await handle.close();
  }
}

async function* walk(dir: string): AsyncIterable<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) yield* walk(full);
    else if (entry.isFile()) yield full;
  }
}

function isLeftover(key: string): boolean {
  return TEMPORARY.test(key);
}

/** Out of space, or of the user's quota, on the data directory's filesystem. */
function isFull(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

const FULL_LOG_MS = 60_000;
let fullLoggedAt = -Infinity;

/** The 507 a write on a full disk is answered with; logged at most once a minute, not per request. */
function storageFull(root: string, err: unknown): PackyardError {
  const now = Date.now();
  if (now - fullLoggedAt >= FULL_LOG_MS) {
    fullLoggedAt = now;
    log({ level: 'error', msg: 'storage full', data: root, error: (err as Error).message });
  }
  return new PackyardError(507, 'insufficient-storage', 'the server’s disk is full: nothing was written or published; reads still work');
}

function isNotFound(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
