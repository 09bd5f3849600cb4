import { PackyardError } from '../util/errors.js';
import { ListSet, type PackageList } from './package-lists.js';
import { PoolSet } from './pool-set.js';
import { PendingWrites } from './pending-writes.js';
import type { PublishContext } from './publish-context.js';
import { nextSnapshot, type Change, type PoolEntry, type RemoteObject, type RepoSettings, type Snapshot } from './snapshot.js';
import type { AnyFormat, Coordinates, ListAddress, PackageRecord } from './format.js';
import { prune, PrunePlaces, tightened } from './retention.js';

export interface Removal {
  /** Where to look, as the format reads coordinates (Debian: distribution, and a component or all). */
  coordinates: Coordinates;
  package: string;
  version: string;
  architecture: string;
  /** Nothing to remove is not an error (a source taking back what it published, which may be gone). */
  ifPresent?: boolean;
}

export interface Mutation {
  /** Records to add, each batch read for one placement (the format's). */
  add?: { placement: unknown; records: PackageRecord[] }[];
  /** Allow a package whose name, version and architecture exist with other content to replace it. */
  replace?: boolean;
  remove?: Removal[];
  /** Distributions to take out whole: their lists and files (their settings go with `settings`). */
  dropDistributions?: string[];
  settings?: RepoSettings;
  actor: string;
  /**
   * An added version that retention prunes in the same publish (older than the newest N kept):
   * `record` (the default) adds and prunes it, both in the history, as the setting says;
   * `refuse` fails the publish with a 409 naming it (a move, which would otherwise lose the
   * package); `skip` leaves it out, as if never offered (a source re-offering the releases
   * retention pruned, at every sync).
   */
  prunedAdditions?: 'record' | 'refuse' | 'skip';
}

export interface MutationResult {
  /** Null when nothing changed. */
  snapshot: Snapshot | null;
  /** Blobs of this upload that the new snapshot does not use (copies of what was there). */
  unusedKeys: string[];
}

/**
 * The publish skeleton every format shares: the snapshot that follows `current` after
 * `mutation`, with every new object it needs written. Only the list and pool shards a change
 * touches are loaded; the format renders what their change makes stale.
 */
export async function buildSnapshot(ctx: PublishContext, format: AnyFormat, current: Snapshot, mutation: Mutation): Promise<MutationResult> {
  const repo = current.repo;
  const id = (r: PackageRecord) => {
    const info = format.describe(r);
    return format.id(info.package, info.version, info.architecture);
  };
  const lists = new ListSet<PackageRecord>(ctx.store, current, { id, shardOf: (r) => format.shardOf(r), sort: (records) => format.sort(records) });
  const pool = new PoolSet(ctx.store, current);
  const changes: Change[] = [];
  const unusedKeys: string[] = [];
  const change = (action: Change['action'], at: ListAddress, r: PackageRecord, reason?: Change['reason']): Change => {
    const { package: name, version, architecture } = format.describe(r);
    return { action, ...format.where(at), package: name, version, architecture, ...(reason ? { reason } : {}) };
  };
  const settings = mutation.settings ?? current.settings;
  // Retention looks at the places an addition touched, for the names added.
  const pruned = new PrunePlaces();

  const addRef = (path: string, r: PackageRecord) =>
    pool.addRef(path, () => {
      const { size, sha256 } = format.describe(r);
      return { ...(r.remote ? { remote: r.remote } : { key: r.key }), size, sha256, refs: 1 };
    });
  const dropRef = (path: string) => pool.dropRef(path);

  const added = (mutation.add ?? []).flatMap(({ placement, records }) => records.map((record) => ({ placement, record })));
  for (const { placement, record } of added) {
    const at = format.listOf(record, placement);
    pruned.add(at, format.describe(record).package);
    const list = await lists.get(at);
    const rid = id(record);
    const { sha256 } = format.describe(record);
    const existing = list.get(rid);
    const path = format.poolPath(record, at);
    const pooled = await pool.get(path);
    if ((existing && format.describe(existing).sha256 === sha256) || (!existing && pooled?.sha256 === sha256)) {
      // Unless it is the very blob published (a resumable upload published again after a crash).
      if (record.key && record.key !== (existing ?? pooled)!.key) unusedKeys.push(record.key);
      if (existing) {
        // The same bytes at another address (a release asset uploaded again, a tag renamed): record and pool file move there.
        if (record.remote && !sameRemote(existing.remote, record.remote)) {
          list.set(rid, { ...record });
          if (pooled) pool.set(path, { ...pooled, remote: record.remote, key: undefined });
          changes.push(change('replace', at, record));
        }
        continue;
      }
      list.set(rid, locatedAt(record, pooled!));
      await addRef(path, record);
      changes.push(change('add', at, record));
      continue;
    }
    if (existing || pooled) {
      const otherBytes = pooled !== undefined && pooled.sha256 !== sha256;
      const holders = otherBytes ? await holdersOf(lists, format, path, at.architecture, at.shard) : [];
      // File names may leave out part of the identity (Debian's and RPM's leave out the epoch).
      if (holders.some(([, , r]) => id(r) !== rid)) throw new PackyardError(409, 'file-exists', `${format.describe(record).filename} is already in ${repo} for another package`);
      if (!mutation.replace) {
        const { package: name, version, architecture } = format.describe(record);
        throw new PackyardError(409, 'package-exists', `${name} ${version} (${architecture}) is already in ${repo} with different content; upload with replace=true to replace it`);
      }
      // A replaced pool file changes in every list that lists it.
      if (otherBytes) {
        for (const [, holder, r] of holders) holder.set(id(r), { ...record });
        const { size } = format.describe(record);
        pool.set(path, { ...pooled, ...(record.remote ? { remote: record.remote, key: undefined } : { key: record.key, remote: undefined }), size, sha256 });
      }
      if (existing && format.poolPath(existing, at) === path) {
        changes.push(change('replace', at, record));
        continue;
      }
      if (existing) await dropRef(format.poolPath(existing, at));
    }
    const entry = await pool.get(path);
    list.set(rid, entry ? locatedAt(record, entry) : record);
    await addRef(path, record);
    changes.push(change(existing ? 'replace' : 'add', at, record));
  }

  for (const spec of mutation.remove ?? []) {
    const { lists: candidates, scope } = format.removalLists(spec.coordinates, spec.package, spec.architecture, current);
    const rid = format.id(spec.package, spec.version, spec.architecture);
    let found = false;
    for (const at of candidates) {
      const list = await lists.get(at);
      const removed = list.get(rid);
      if (!removed) continue;
      list.delete(rid);
      await dropRef(format.poolPath(removed, at));
      changes.push(change('remove', at, removed));
      found = true;
    }
    if (!found && !spec.ifPresent) throw new PackyardError(404, 'package-not-found', `${spec.package} ${spec.version} (${spec.architecture}) is not in ${repo}/${scope}`);
  }

  const dropped = mutation.dropDistributions ?? [];
  if (dropped.length > 0 && !format.dropDistribution) throw new PackyardError(400, 'not-supported', `a ${format.type} repository has no distributions to remove`);
  for (const distribution of dropped) {
    for (const [at, list] of await lists.allOf(distribution)) {
      for (const [rid, r] of list) {
        list.delete(rid);
        await dropRef(format.poolPath(r, at));
        changes.push(change('remove', at, r, 'distribution'));
      }
    }
  }

  if (mutation.settings) {
    for (const distribution of tightened(current.settings, settings, Object.keys(current.lists))) {
      for (const [at] of await lists.allOf(distribution)) pruned.add(at, null);
    }
  }
  await prune(format, lists, settings, pruned, async (at, r, keep) => {
    await dropRef(format.poolPath(r, at));
    const gone = change('remove', at, r, 'retention');
    const added = changes.findIndex((c) => (c.action === 'add' || c.action === 'replace') && c.distribution === gone.distribution && c.component === gone.component && c.package === gone.package && c.version === gone.version && c.architecture === gone.architecture);
    if (added < 0 || !mutation.prunedAdditions || mutation.prunedAdditions === 'record') return void changes.push(gone);
    if (mutation.prunedAdditions === 'refuse') {
      throw new PackyardError(409, 'pruned-by-retention', `${gone.package} ${gone.version} (${gone.architecture}) is older than the ${keep} newest versions ${gone.distribution} keeps (retention): it would be removed in the same publish; raise keepVersions, or copy it instead of moving it`);
    }
    changes.splice(added, 1);
  });

  if (mutation.settings) changes.push({ action: 'settings' });
  if (changes.length === 0) return { snapshot: null, unusedKeys };

  const saved = await lists.save(repo);
  for (const distribution of dropped) delete saved[distribution];
  const draft = { repo, previous: current.files, settings, lists: saved, files: { ...current.files }, rendered: { ...current.rendered }, date: ctx.now(), writes: new PendingWrites() };
  for (const distribution of dropped) format.dropDistribution?.(draft, distribution);
  // The pool map is stored while the indexes render: on a bucket every write is a round trip.
  const [savedPool] = await Promise.all([pool.save(repo), format.render(ctx, draft).then(() => draft.writes.settle())]);
  const snapshot = nextSnapshot(current, draft.date, { actor: mutation.actor, changes, settings, files: draft.files, pool: savedPool, lists: draft.lists, rendered: draft.rendered });
  return { snapshot, unusedKeys };
}

function sameRemote(a: RemoteObject | undefined, b: RemoteObject): boolean {
  return a !== undefined && a.source === b.source && a.url === b.url && JSON.stringify(a.ref) === JSON.stringify(b.ref);
}

/** The record, its bytes where the pool already has them (the same content). */
function locatedAt(record: PackageRecord, entry: PoolEntry): PackageRecord {
  return { ...record, key: entry.key ?? '', remote: entry.remote };
}

/** The records, in any list of this architecture and shard, whose pool file is `path`. */
async function holdersOf(lists: ListSet<PackageRecord>, format: AnyFormat, path: string, architecture: string, shard: string): Promise<[ListAddress, PackageList<PackageRecord>, PackageRecord][]> {
  const out: [ListAddress, PackageList<PackageRecord>, PackageRecord][] = [];
  for (const [at, list] of await lists.allFor(architecture, shard)) for (const r of list.values()) if (format.poolPath(r, at) === path) out.push([at, list, r]);
  return out;
}
