import type { RepoStore } from '../../core/store.js';
import { LEGACY_SHARD } from '../../core/snapshot.js';
import type { DebRecord } from './record.js';
import { renderPackages } from './packages-index.js';
import { own as ownOf } from '../../util/own.js';

/** Package lists are split by name prefix (as the pool is): `lib` names by their first four letters. */
export function shardOf(name: string): string {
  return name.startsWith('lib') && name.length > 3 ? name.slice(0, 4) : name.slice(0, 1);
}

/** The `Packages` text of one architecture from its shards and the `all` shards. */
export async function renderShards(store: RepoStore, own: Record<string, string>, all: Record<string, string>): Promise<string> {
  const parts: string[] = [];
  const shards = [...new Set([...Object.keys(own), ...Object.keys(all)])].sort();
  // A list stored whole by an early build holds every shard's records: render them as one.
  if (shards.includes(LEGACY_SHARD)) {
    const read = async (keys: Record<string, string>) => (await Promise.all(Object.values(keys).map((key) => store.meta<DebRecord[]>(key)))).flat();
    return renderPackages(await read(own), await read(all));
  }
  for (const shard of shards) {
    const ownKey = ownOf(own, shard);
    const allKey = ownOf(all, shard);
    const ownRecords = ownKey ? await store.meta<DebRecord[]>(ownKey) : [];
    const allRecords = allKey ? await store.meta<DebRecord[]>(allKey) : [];
    const text = renderPackages(ownRecords, allRecords);
    if (text) parts.push(text);
  }
  return parts.join('\n');
}
