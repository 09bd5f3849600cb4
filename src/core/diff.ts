import { PackyardError } from '../util/errors.js';
import { own } from '../util/own.js';
import type { RepoStore } from './store.js';
import { LEGACY_SHARD, type Change, type Snapshot } from './snapshot.js';
import type { AnyFormat, ListAddress, PackageRecord } from './format.js';

/** What `newSnapshotId` makes (checked before an id given by a user names a storage key). */
export const SNAPSHOT_ID = /^\d{8,}-[0-9a-f]{8}$/;

/** A record that differs between two snapshots at one list address: gone, new, or other content under the same identity. */
export interface RecordChange {
  at: ListAddress;
  before?: PackageRecord;
  after?: PackageRecord;
}

/**
 * The records that differ between snapshots `a` and `b` (of the distributions named, or all).
 * Shards under the same stored key hold the same records, so only shards whose keys differ are
 * read: the cost follows the difference, not the repository's size. A place whose list an early
 * build stored whole (LEGACY_SHARD) on either side is compared whole.
 */
export async function* changedRecords(store: RepoStore, format: AnyFormat, a: Snapshot, b: Snapshot, distributions?: readonly string[]): AsyncGenerator<RecordChange> {
  const id = (r: PackageRecord) => {
    const info = format.describe(r);
    return format.id(info.package, info.version, info.architecture);
  };
  for (const distribution of distributions ?? [...new Set([...Object.keys(a.lists), ...Object.keys(b.lists)])].sort()) {
    const left = own(a.lists, distribution) ?? {};
    const right = own(b.lists, distribution) ?? {};
    for (const component of [...new Set([...Object.keys(left), ...Object.keys(right)])].sort()) {
      const l = own(left, component) ?? {};
      const r = own(right, component) ?? {};
      for (const architecture of [...new Set([...Object.keys(l), ...Object.keys(r)])].sort()) {
        const before = own(l, architecture) ?? {};
        const after = own(r, architecture) ?? {};
        const names = [...new Set([...Object.keys(before), ...Object.keys(after)])];
        const whole = own(before, LEGACY_SHARD) !== undefined || own(after, LEGACY_SHARD) !== undefined;
        const differing = whole ? names : names.filter((shard) => own(before, shard) !== own(after, shard));
        if (differing.length === 0) continue;
        const read = async (shards: Record<string, string>) => {
          const records = new Map<string, PackageRecord>();
          for (const shard of differing) {
            const key = own(shards, shard);
            if (key) for (const record of await readShard(store, key)) records.set(id(record), record);
          }
          return records;
        };
        const [old, next] = await Promise.all([read(before), read(after)]);
        const at = (record: PackageRecord): ListAddress => ({ distribution, component, architecture, shard: format.shardOf(record) });
        for (const [rid, record] of old) {
          const other = next.get(rid);
          if (!other) yield { at: at(record), before: record };
          else if (format.describe(other).sha256 !== format.describe(record).sha256) yield { at: at(record), before: record, after: other };
        }
        for (const [rid, record] of next) if (!old.has(rid)) yield { at: at(record), after: record };
      }
    }
  }
}

/** A list shard of a snapshot; one gc collected is a 409 naming it (the snapshot is older than gc keeps). */
export async function readShard(store: RepoStore, key: string): Promise<PackageRecord[]> {
  try {
    return await store.meta<PackageRecord[]>(key);
  } catch (err) {
    if (err instanceof PackyardError && err.code === 'missing-object') throw collected(key);
    throw err;
  }
}

export function collected(what: string): PackyardError {
  return new PackyardError(409, 'snapshot-collected', `${what} is no longer stored: gc collected it (the snapshot is older than gc keeps)`);
}

export interface VersionRef {
  package: string;
  version: string;
  architecture: string;
}

/** The packages of one place (deb: distribution, component, architecture; rpm: distribution, architecture) that differ. */
export interface PlaceDiff extends Pick<Change, 'distribution' | 'component'> {
  architecture: string;
  added: VersionRef[];
  removed: VersionRef[];
  /** One version of a name and architecture replaced by another, or the same version with other content (`from.version` = `to.version`). */
  changed: { package: string; architecture: string; from: { version: string; sha256: string }; to: { version: string; sha256: string } }[];
}

/** What changed from snapshot `a` to snapshot `b`, per place, in the words users see. */
export async function diffSnapshots(store: RepoStore, format: AnyFormat, a: Snapshot, b: Snapshot): Promise<PlaceDiff[]> {
  const places = new Map<string, { place: PlaceDiff; byName: Map<string, { before: PackageRecord[]; after: PackageRecord[] }> }>();
  for await (const { at, before, after } of changedRecords(store, format, a, b)) {
    const key = [at.distribution, at.component, at.architecture].join('\u0000');
    let entry = places.get(key);
    if (!entry) places.set(key, (entry = { place: { ...format.where(at), architecture: at.architecture, added: [], removed: [], changed: [] }, byName: new Map() }));
    const info = format.describe((after ?? before)!);
    const nameKey = `${info.package}\u0000${info.architecture}`;
    let name = entry.byName.get(nameKey);
    if (!name) entry.byName.set(nameKey, (name = { before: [], after: [] }));
    if (before) name.before.push(before);
    if (after) name.after.push(after);
  }
  const out: PlaceDiff[] = [];
  for (const { place, byName } of places.values()) {
    for (const { before, after } of byName.values()) {
      const [old, next] = [before.map((r) => format.describe(r)), after.map((r) => format.describe(r))];
      const ref = (i: { package: string; version: string; architecture: string }): VersionRef => ({ package: i.package, version: i.version, architecture: i.architecture });
      // Same version, other content; or the one version of a name swapped for another.
      const pairs = old.flatMap((o) => next.filter((n) => n.version === o.version).map((n) => [o, n] as const));
      if (pairs.length === 0 && old.length === 1 && next.length === 1) pairs.push([old[0]!, next[0]!]);
      for (const [o, n] of pairs) place.changed.push({ package: o.package, architecture: o.architecture, from: { version: o.version, sha256: o.sha256 }, to: { version: n.version, sha256: n.sha256 } });
      for (const o of old) if (!pairs.some(([p]) => p === o)) place.removed.push(ref(o));
      for (const n of next) if (!pairs.some(([, p]) => p === n)) place.added.push(ref(n));
    }
    out.push(place);
  }
  return out;
}
