import type { RepoStore } from './store.js';
import type { Snapshot } from './snapshot.js';
import { own, ownOrSet } from '../util/own.js';

/** How a format names and orders the records of its package lists. */
export interface RecordKind<R> {
  /** What identifies a record in its list (name, version, architecture). */
  id(record: R): string;
  /** The order a stored shard keeps its records in. */
  sort(records: R[]): R[];
}

/** One shard of a package list, by record id; knows if it changed. */
class PackageList<R> extends Map<string, R> {
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

/** The package-list shards a publish reads and changes, loaded lazily and written back once. */
export class ListSet<R> {
  private readonly loaded = new Map<string, PackageList<R>>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
    private readonly kind: RecordKind<R>,
  ) {}

  async get(distribution: string, component: string, arch: string, shard: string): Promise<PackageList<R>> {
    const id = [distribution, component, arch, shard].join(SEP);
    let list = this.loaded.get(id);
    if (!list) {
      const key = own(own(own(own(this.current.lists, distribution), component), arch), shard);
      list = PackageList.of(key ? await this.store.meta<R[]>(key) : [], this.kind.id);
      this.loaded.set(id, list);
    }
    return list;
  }

  /** One shard of an architecture in every list (a replaced pool file may be listed in any distribution). */
  async allFor(arch: string, shard: string): Promise<PackageList<R>[]> {
    const out = new Set<PackageList<R>>();
    for (const [distribution, components] of Object.entries(this.current.lists)) {
      for (const component of Object.keys(components)) out.add(await this.get(distribution, component, arch, shard));
    }
    for (const [id, list] of this.loaded) if (id.endsWith(`${SEP}${arch}${SEP}${shard}`)) out.add(list);
    return [...out];
  }

  architectures(): string[] {
    const seen = new Set<string>();
    for (const components of Object.values(this.current.lists)) for (const byArch of Object.values(components)) for (const a of Object.keys(byArch)) seen.add(a);
    for (const [id, list] of this.loaded) if (list.size > 0) seen.add(id.split(SEP)[2]!);
    return [...seen];
  }

  /** Writes the changed shards and returns the next snapshot's list keys. */
  async save(repo: string): Promise<Snapshot['lists']> {
    const next: Snapshot['lists'] = structuredClone(this.current.lists);
    for (const [id, list] of this.loaded) {
      if (!list.changed) continue;
      const [distribution, component, arch, shard] = id.split(SEP) as [string, string, string, string];
      const shards = ownOrSet(ownOrSet(ownOrSet(next, distribution, () => ({})), component, () => ({})), arch, (): Record<string, string> => ({}));
      if (list.size === 0) delete shards[shard];
      else shards[shard] = await this.store.putMeta(repo, this.kind.sort([...list.values()]));
    }
    return next;
  }
}
