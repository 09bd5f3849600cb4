import { PackyardError } from '../util/errors.js';
import { deleteAll, readJson, type Storage } from '../storage/types.js';
import { layout } from './layout.js';
import { streamBytes } from '../util/bytes.js';
import { KeyedQueue } from '../util/concurrency.js';
import { Lru } from '../util/lru.js';
import { readSnapshot, type Snapshot } from './snapshot.js';
import { CollectedDuringPublish, DEFAULT_GC_TIMING, PublishGuard, type GcTiming } from './gc-protocol.js';

interface Head {
  snapshot: string;
}

interface CachedHead {
  snapshot: Snapshot;
  etag: string;
  readAt: number;
}

export interface StoreOptions {
  /**
   * How long a head read may be reused for serving. Publishes made through this store are seen
   * at once; this bounds how late a publish from another process or isolate shows up.
   */
  headTtlMs?: number;
  now?: () => number;
  /** The publish/gc protocol's times (tests shorten them). */
  gcTiming?: GcTiming;
}

/** Reads and swaps repository heads; caches the immutable documents they point to. */
export class RepoStore {
  private readonly heads = new Map<string, CachedHead>();
  private readonly snapshots = new Lru<string, Snapshot>(64);
  // Lists and pool maps are sharded (dozens of small documents per repository): keep plenty.
  private readonly metas = new Lru<string, unknown>(1024);
  /** Content-addressed objects this process wrote where none was, by modification time. */
  private readonly written = new Lru<string, number>(4096);
  /** One publish at a time per repository within this process; compare-and-swap covers the rest. */
  private readonly publishes = new KeyedQueue();
  private readonly headReads = new Map<string, Promise<CachedHead | null>>();
  /** The guard of the publish attempt running for each repository (one at a time, see `publishes`). */
  private readonly guards = new Map<string, PublishGuard>();
  private readonly headTtlMs: number;
  private readonly now: () => number;
  readonly gcTiming: GcTiming;

  constructor(
    readonly storage: Storage,
    options: StoreOptions = {},
  ) {
    this.headTtlMs = options.headTtlMs ?? 1000;
    this.now = options.now ?? Date.now;
    this.gcTiming = options.gcTiming ?? DEFAULT_GC_TIMING;
  }

  /**
   * The current snapshot for serving, or null when the repository does not exist: the head read
   * within headTtlMs, or with `fresh`, one read now (not shared with a read begun before the
   * call, which could predate a publish the caller has seen elsewhere).
   */
  async current(repo: string, options: { fresh?: boolean } = {}): Promise<Snapshot | null> {
    if (options.fresh) return (await this.readHead(repo))?.snapshot ?? null;
    const cached = this.heads.get(repo);
    if (cached && this.now() - cached.readAt < this.headTtlMs) return cached.snapshot;
    // Under load, the many requests that find the head expired share one read of it.
    let reading = this.headReads.get(repo);
    if (!reading) {
      reading = this.readHead(repo).finally(() => this.headReads.delete(repo));
      this.headReads.set(repo, reading);
    }
    return (await reading)?.snapshot ?? null;
  }

  /** The head read fresh from storage, with its etag for a later compare-and-swap. */
  async readHead(repo: string): Promise<CachedHead | null> {
    const obj = await this.storage.get(layout.head(repo));
    if (!obj) {
      this.heads.delete(repo);
      return null;
    }
    const head = JSON.parse(new TextDecoder().decode(await streamBytes(obj.body))) as Head;
    const snapshot = await this.snapshot(repo, head.snapshot);
    if (!snapshot) throw new PackyardError(500, 'missing-snapshot', `repository ${repo}: head names missing snapshot ${head.snapshot}`);
    const entry = { snapshot, etag: obj.etag, readAt: this.now() };
    // A read that started before a publish finished must not put the older head back.
    const cached = this.heads.get(repo);
    if (!cached || snapshot.seq >= cached.snapshot.seq || entry.readAt - cached.readAt >= this.headTtlMs) this.heads.set(repo, entry);
    return entry;
  }

  async snapshot(repo: string, id: string): Promise<Snapshot | null> {
    const key = layout.snapshot(repo, id);
    const cached = this.snapshots.get(key);
    if (cached) return cached;
    const stored = await readJson<unknown>(this.storage, key);
    if (stored === null) return null;
    const snapshot = readSnapshot(stored, key);
    this.snapshots.set(key, snapshot);
    return snapshot;
  }

  async meta<T>(key: string): Promise<T> {
    const cached = this.metas.get(key);
    if (cached !== undefined) return cached as T;
    const value = await readJson<T>(this.storage, key);
    if (value === null) throw new PackyardError(500, 'missing-object', `stored document ${key} is missing`);
    this.metas.set(key, value);
    return value;
  }

  /**
   * Stores a JSON document under a new key and returns the key. Publishes write only the
   * documents they change, so naming them by content (hashing megabytes) would buy nothing.
   */
  async putMeta(repo: string, value: unknown): Promise<string> {
    const key = layout.meta(repo, crypto.randomUUID());
    const written = await this.storage.put(key, JSON.stringify(value), { fresh: true });
    if (written) this.guards.get(repo)?.wrote(written);
    this.metas.set(key, value);
    return key;
  }

  /**
   * Stores an object named by its content. One already there is this very content and is used
   * as it is, unless it is too old for a publish to rely on (see gc-protocol.ts): then it is
   * touched, so that gc keeps it.
   */
  async putContentAddressed(repo: string, key: string, data: Uint8Array): Promise<void> {
    const guard = this.guards.get(repo);
    if (guard?.has(key)) return; // the same content twice in one publish
    if (this.storage.remote) {
      // New content, most likely (an index that changed): one request instead of two.
      const created = await this.storage.put(key, data, { ifNoneMatch: '*' });
      if (created) {
        this.written.set(key, created.lastModified.getTime());
        return guard?.wrote(created);
      }
    }
    const observedAt = this.now();
    const found = await this.storage.head(key);
    if (found && !guard?.isStale(found)) {
      // Written anew by this process (not touched): no gc can have it in view with an older time.
      if (this.written.get(key) === found.lastModified.getTime()) return guard?.wrote(found);
      return guard?.reused(found, observedAt);
    }
    const touched = found && (await this.storage.touch(key));
    if (touched) return guard?.reused(touched, this.now());
    const written = await this.storage.put(key, data);
    if (!written) return;
    this.written.set(key, written.lastModified.getTime());
    guard?.wrote(written);
  }

  /**
   * Publishes: `build` makes the next snapshot from the current one (or returns null for "no
   * change"); it is written, then the head is swapped to it. When another publisher swapped
   * first, `build` runs again on top of theirs, so no one's change is lost. `build` names the
   * objects stored for it beforehand (uploads) to the guard, which keeps gc from taking any new
   * object of the snapshot before the swap.
   */
  async commit(repo: string, build: (current: Snapshot | null, guard: PublishGuard) => Promise<Snapshot | null>, options: { create?: boolean } = {}): Promise<{ snapshot: Snapshot; changed: boolean; retries: number }> {
    return this.publishes.run(repo, async () => {
      for (let attempt = 0; ; attempt++) {
        // The first try builds on the head this process read within the last second, if any (a
        // round trip saved per publish on a bucket); if another process swapped it since, the
        // swap fails and the next try reads it fresh.
        const cached = this.heads.get(repo);
        const head = attempt === 0 && cached && this.now() - cached.readAt < this.headTtlMs ? cached : await this.readHead(repo);
        if (!head && !options.create) throw new PackyardError(404, 'repo-not-found', `repository "${repo}" does not exist`);
        if (head && options.create) throw new PackyardError(409, 'repo-exists', `repository "${repo}" already exists`);
        const guard = new PublishGuard(this.storage, this.gcTiming, this.now);
        this.guards.set(repo, guard);
        let swapped;
        let next: Snapshot | null;
        try {
          next = await build(head?.snapshot ?? null, guard);
          if (!next) return { snapshot: head!.snapshot, changed: false, retries: attempt };
          const snapshotKey = layout.snapshot(repo, next.id);
          // A new id nothing refers to until the head swap: no lock or atomic rename needed.
          const written = await this.storage.put(snapshotKey, JSON.stringify(next), { fresh: true });
          if (written) guard.wrote(written);
          await guard.secure();
          const body = JSON.stringify({ snapshot: next.id } satisfies Head);
          swapped = await this.storage.put(layout.head(repo), body, head ? { ifMatch: head.etag } : { ifNoneMatch: '*' });
        } catch (err) {
          // gc took an object this attempt wrote: build again (it writes what is missing).
          if (!(err instanceof CollectedDuringPublish)) throw err;
          swapped = null;
          next = null;
        } finally {
          this.guards.delete(repo);
        }
        if (swapped && next) {
          this.snapshots.set(layout.snapshot(repo, next.id), next);
          this.heads.set(repo, { snapshot: next, etag: swapped.etag, readAt: this.now() });
          // `retries`: head swaps lost to other publishers (or gc) before this one won.
          return { snapshot: next, changed: true, retries: attempt };
        }
        // Lost the race: the orphaned snapshot document is garbage for `gc`.
        if (attempt >= 50) throw new PackyardError(503, 'publish-contention', `repository ${repo}: too many concurrent publishes, try again`);
        await new Promise((r) => setTimeout(r, Math.random() * Math.min(1000, 10 * 2 ** attempt)));
      }
    });
  }

  async deleteRepo(repo: string): Promise<void> {
    await this.publishes.run(repo, async () => {
      const head = await this.readHead(repo);
      if (!head) throw new PackyardError(404, 'repo-not-found', `repository "${repo}" does not exist`);
      await this.storage.delete(layout.head(repo));
      this.heads.delete(repo);
      await deleteAll(this.storage, layout.repoPrefix(repo));
    });
  }

  async listRepos(): Promise<string[]> {
    const names: string[] = [];
    for await (const name of this.storage.listFolders(layout.reposPrefix)) if (await this.storage.head(layout.head(name))) names.push(name);
    return names.sort();
  }
}
