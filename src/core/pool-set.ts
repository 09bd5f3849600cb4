import type { RepoStore } from './store.js';
import { LEGACY_SHARD, poolShard, type PoolEntry, type PoolMap, type Snapshot } from './snapshot.js';
import { own } from '../util/own.js';

/** The pool-map shards a publish reads and changes, loaded lazily and written back once. */
export class PoolSet {
  private readonly loaded = new Map<string, { map: PoolMap; changed: boolean }>();
  /** A pool map stored whole (before sharding), split into shards on first use. */
  private legacy: 'none' | 'stored' | 'split';
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
  ) {
    this.legacy = own(current.pool, LEGACY_SHARD) ? 'stored' : 'none';
  }

  private async shard(path: string): Promise<{ map: PoolMap; changed: boolean }> {
    if (this.legacy === 'stored') await this.splitLegacy();
    const name = poolShard(path);
    let shard = this.loaded.get(name);
    if (!shard) {
      const key = own(this.current.pool, name);
      shard = { map: key ? { ...(await this.store.meta<PoolMap>(key)) } : {}, changed: false };
      this.loaded.set(name, shard);
    }
    return shard;
  }

  private async splitLegacy(): Promise<void> {
    this.legacy = 'split';
    for (const [path, entry] of Object.entries(await this.store.meta<PoolMap>(this.current.pool[LEGACY_SHARD]!))) {
      const name = poolShard(path);
      let shard = this.loaded.get(name);
      if (!shard) this.loaded.set(name, (shard = { map: {}, changed: true }));
      shard.map[path] = entry;
    }
  }

  async get(path: string): Promise<PoolEntry | undefined> {
    const { map } = await this.shard(path);
    return own(map, path);
  }

  /** Only after `get` of the same path (which loads its shard). */
  set(path: string, entry: PoolEntry): void {
    const shard = this.loaded.get(poolShard(path))!;
    shard.map[path] = entry;
    shard.changed = true;
  }

  delete(path: string): void {
    const shard = this.loaded.get(poolShard(path))!;
    delete shard.map[path];
    shard.changed = true;
  }

  // Entries are replaced, never changed in place: the previous maps are shared with caches.

  /** One more list names the file at `path`: `fresh` is its entry when none is there yet. */
  async addRef(path: string, fresh: () => PoolEntry): Promise<void> {
    const entry = await this.get(path);
    this.set(path, entry ? { ...entry, refs: entry.refs + 1 } : { ...fresh(), refs: 1 });
  }

  /** One list fewer names it: the last one takes the entry out. */
  async dropRef(path: string): Promise<void> {
    const entry = await this.get(path);
    if (!entry) return;
    if (entry.refs <= 1) this.delete(path);
    else this.set(path, { ...entry, refs: entry.refs - 1 });
  }

  async save(repo: string): Promise<Record<string, string>> {
    const next = { ...this.current.pool };
    if (this.legacy === 'split') delete next[LEGACY_SHARD];
    for (const [name, { map, changed }] of this.loaded) {
      if (!changed) continue;
      if (Object.keys(map).length === 0) delete next[name];
      else next[name] = await this.store.putMeta(repo, map);
    }
    return next;
  }
}


/** A pool file's entry in a snapshot, from the pool-map shard that holds it (or the map stored whole). */
export async function poolEntry(store: RepoStore, snapshot: Snapshot, path: string): Promise<PoolEntry | undefined> {
  const key = own(snapshot.pool, poolShard(path)) ?? own(snapshot.pool, LEGACY_SHARD);
  if (!key) return undefined;
  return own(await store.meta<PoolMap>(key), path);
}
