import type { RepoStore } from '../../repository/store.js';
import type { Snapshot } from '../../repository/snapshot.js';
import { recordId, type DebRecord } from './record.js';
import { renderPackages, sortRecords } from './packages-index.js';

/** Package lists are split by name prefix (as the pool is): `lib` names by their first four letters. */
export function shardOf(name: string): string {
  return name.startsWith('lib') && name.length > 3 ? name.slice(0, 4) : name.slice(0, 1);
}

/** The `Packages` text of one architecture from its shards and the `all` shards. */
export async function renderShards(store: RepoStore, own: Record<string, string>, all: Record<string, string>): Promise<string> {
  const parts: string[] = [];
  for (const shard of [...new Set([...Object.keys(own), ...Object.keys(all)])].sort()) {
    const ownRecords = own[shard] ? await store.meta<DebRecord[]>(own[shard]) : [];
    const allRecords = all[shard] ? await store.meta<DebRecord[]>(all[shard]) : [];
    const text = renderPackages(ownRecords, allRecords);
    if (text) parts.push(text);
  }
  return parts.join('\n');
}

/** One shard of a package list, by record id; knows if it changed. */
class PackageList extends Map<string, DebRecord> {
  changed = false;

  static of(records: readonly DebRecord[]): PackageList {
    const list = new PackageList(records.map((r) => [recordId(r), r]));
    list.changed = false;
    return list;
  }

  override set(id: string, record: DebRecord): this {
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
export class ListSet {
  private readonly loaded = new Map<string, PackageList>();
  constructor(
    private readonly store: RepoStore,
    private readonly current: Snapshot,
  ) {}

  async get(distribution: string, component: string, arch: string, shard: string): Promise<PackageList> {
    const id = [distribution, component, arch, shard].join(SEP);
    let list = this.loaded.get(id);
    if (!list) {
      const key = this.current.lists[distribution]?.[component]?.[arch]?.[shard];
      list = PackageList.of(key ? await this.store.meta<DebRecord[]>(key) : []);
      this.loaded.set(id, list);
    }
    return list;
  }

  /** One shard of an architecture in every list (a replaced pool file may be listed in any distribution). */
  async allFor(arch: string, shard: string): Promise<PackageList[]> {
    const out = new Set<PackageList>();
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
      const shards = (((next[distribution] ??= {})[component] ??= {})[arch] ??= {});
      if (list.size === 0) delete shards[shard];
      else shards[shard] = await this.store.putMeta(repo, sortRecords([...list.values()]));
    }
    return next;
  }
}
