import type { RepoStore } from './store.js';
import { poolShard, type PoolEntry, type PoolMap, type Snapshot } from './snapshot.js';
import { own } from '../util/own.js';

/** The pool-map shards a publish reads and changes, loaded lazily and written back once. */
export class PoolSet {
  private readonly loaded = new Map<string, { map: PoolMap; changed: boolean }>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
  ) {}

  private async shard(path: string): Promise<{ map: PoolMap; changed: boolean }> {
    const name = poolShard(path);
    let shard = this.loaded.get(name);
    if (!shard) {
      const key = own(this.current.pool, name);
      shard = { map: key ? { ...(await this.store.meta<PoolMap>(key)) } : {}, changed: false };
      this.loaded.set(name, shard);
    }
    return shard;
  }

  async get(path: string): Promise<PoolEntry | undefined> {
    const { map } = await this.shard(path);
    return Object.hasOwn(map, path) ? map[path] : undefined;
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

  async save(repo: string): Promise<Record<string, string>> {
    const next = { ...this.current.pool };
    for (const [name, { map, changed }] of this.loaded) {
      if (!changed) continue;
      if (Object.keys(map).length === 0) delete next[name];
      else next[name] = await this.store.putMeta(repo, map);
    }
    return next;
  }
}

