import type { RepoStore } from './store.js';
import { LEGACY_SHARD, type Snapshot } from './snapshot.js';
import type { ListAddress } from './format.js';
import { own, ownOrSet } from '../util/own.js';

/** How a format names, shards and orders the records of its package lists. */
export interface RecordKind<R> {
  /** What identifies a record in its list (name, version, architecture). */
  id(record: R): string;
  shardOf(record: R): string;
  /** The order a stored shard keeps its records in. */
  sort(records: R[]): R[];
}

/** One shard of a package list, by record id; knows if it changed. */
export class PackageList<R> extends Map<string, R> {
  changed = false;

  static of<R>(records: readonly R[], id: (record: R) => string): PackageList<R> {
    const list = new PackageList<R>(records.map((r) => [id(r), r]));
    list.changed = false;
    return list;
  }

  override set(id: string, record: R): this {
    this.changed = true;
    return super.set(id, record);
  }

  override delete(id: string): boolean {
    const deleted = super.delete(id);
    this.changed ||= deleted;
    return deleted;
  }
}

const SEP = '\u0000';
const idOf = (a: ListAddress) => [a.distribution, a.component, a.architecture, a.shard].join(SEP);
const addressOf = (id: string): ListAddress => {
  const [distribution, component, architecture, shard] = id.split(SEP) as [string, string, string, string];
  return { distribution, component, architecture, shard };
};

/** The package-list shards a publish reads and changes, loaded lazily and written back once. */
export class ListSet<R> {
  private readonly loaded = new Map<string, PackageList<R>>();
  /** Lists stored whole before sharding whose records were split into shards here. */
  private readonly split = new Set<string>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
    private readonly kind: RecordKind<R>,
  ) {}

  async get(at: ListAddress): Promise<PackageList<R>> {
    const id = idOf(at);
    let list = this.loaded.get(id);
    if (!list) {
      await this.splitComponent(at);
      list = this.loaded.get(id);
    }
    if (!list) {
      const key = own(own(own(own(this.current.lists, at.distribution), at.component), at.architecture), at.shard);
      list = PackageList.of(key ? await this.store.meta<R[]>(key) : [], this.kind.id);
      this.loaded.set(id, list);
    }
    return list;
  }

  /**
   * Lists stored whole by an early build are split, every architecture of the component at once:
   * a format may render lists of a component together (Debian: each architecture's with `all`),
   * and must find them all sharded or all whole.
   */
  private async splitComponent(at: ListAddress): Promise<void> {
    const { distribution, component } = at;
    for (const [architecture, shards] of Object.entries(own(own(this.current.lists, distribution), component) ?? {})) {
      const whole = own(shards, LEGACY_SHARD);
      const leaf = { distribution, component, architecture, shard: LEGACY_SHARD };
      if (whole && !this.split.has(idOf(leaf))) await this.splitLegacy(leaf, whole);
    }
  }

  /** A list stored whole: its records go to their shards, all of which are then written. */
  private async splitLegacy(at: ListAddress, key: string): Promise<void> {
    this.split.add(idOf({ ...at, shard: LEGACY_SHARD }));
    for (const record of await this.store.meta<R[]>(key)) {
      const shard = this.kind.shardOf(record);
      const id = idOf({ ...at, shard });
      let list = this.loaded.get(id);
      if (!list) this.loaded.set(id, (list = new PackageList<R>()));
      list.set(this.kind.id(record), record);
    }
  }

  /** One shard of an architecture in every list (a replaced pool file may be listed in any distribution). */
  async allFor(architecture: string, shard: string): Promise<[ListAddress, PackageList<R>][]> {
    const out = new Map<string, PackageList<R>>();
    for (const [distribution, components] of Object.entries(this.current.lists)) {
      for (const component of Object.keys(components)) await this.get({ distribution, component, architecture, shard });
    }
    for (const [id, list] of this.loaded) if (id.endsWith(`${SEP}${architecture}${SEP}${shard}`)) out.set(id, list);
    return [...out].map(([id, list]) => [addressOf(id), list]);
  }

  /** Every shard of a distribution's lists (those an early build stored whole, split first). */
  async allOf(distribution: string): Promise<[ListAddress, PackageList<R>][]> {
    for (const [at] of listShards({ [distribution]: own(this.current.lists, distribution) ?? {} })) {
      if (at.shard === LEGACY_SHARD) await this.splitComponent(at);
      else await this.get(at);
    }
    const prefix = `${distribution}${SEP}`;
    return [...this.loaded].filter(([id]) => id.startsWith(prefix) && !id.endsWith(SEP)).map(([id, list]) => [addressOf(id), list]);
  }

  /** Writes the changed shards and returns the next snapshot's list keys. */
  async save(repo: string): Promise<Snapshot['lists']> {
    const next: Snapshot['lists'] = structuredClone(this.current.lists);
    const shardsOf = (at: ListAddress) => ownOrSet(ownOrSet(ownOrSet(next, at.distribution, () => ({})), at.component, () => ({})), at.architecture, (): Record<string, string> => ({}));
    for (const id of this.split) delete shardsOf(addressOf(id))[LEGACY_SHARD];
    for (const [id, list] of this.loaded) {
      if (!list.changed) continue;
      const at = addressOf(id);
      const shards = shardsOf(at);
      if (list.size === 0) delete shards[at.shard];
      else shards[at.shard] = await this.store.putMeta(repo, this.kind.sort([...list.values()]));
    }
    return next;
  }
}

/** Every shard key of a snapshot's lists, with the list it belongs to. */
export function* listShards(lists: Snapshot['lists']): Generator<[ListAddress, string]> {
  for (const [distribution, components] of Object.entries(lists)) {
    for (const [component, byArch] of Object.entries(components)) {
      for (const [architecture, shards] of Object.entries(byArch)) for (const [shard, key] of Object.entries(shards)) yield [{ distribution, component, architecture, shard }, key];
    }
  }
}
