import { PackyardError } from '../../util/errors.js';
import { ListSet } from '../../core/package-lists.js';
import { PoolSet } from '../../core/pool-set.js';
import { storeIndex, type PublishContext } from '../../core/publish-context.js';
import { distributionsOf, nextSnapshot, type Change, type RepoSettings, type Snapshot } from '../../core/snapshot.js';
import { buildRepodata, REPODATA_TYPES, sortRecords, type PieceTable, type PreviousDocument, type RepodataType } from './repodata.js';
import { readBytes } from '../../storage/types.js';
import type { RpmRecord } from './record.js';
import { formatEvr } from './version.js';
import { own } from '../../util/own.js';

export interface RpmMutation {
  add?: { distribution: string; record: RpmRecord }[];
  remove?: { distribution: string; name: string; version: string; arch: string }[];
  /** Allow a package whose name, version and architecture exist with other content to replace it. */
  replace?: boolean;
  settings?: RepoSettings;
  actor: string;
}

/** RPM lists live under one pseudo-component in the snapshot's lists. */
const LISTS = 'rpm';
/** Packages for every architecture, listed in each architecture's repodata. */
const NOARCH = 'noarch';

const idOf = (r: RpmRecord) => `${r.name}-${formatEvr(r)}.${r.arch}`;
const shardOf = (name: string) => name.slice(0, 1).toLowerCase();

/** The stored file of a package: one per distribution, whatever architecture folders list it. */
export function rpmPoolPath(distribution: string, location: string): string {
  return `pool/${distribution}/${location.slice('Packages/'.length)}`;
}

const piecesTag = (dir: string, type: RepodataType) => `${dir}/repodata/${type}`;

/** The repodata documents `dir` has published, for buildRepodata to reuse their pieces. */
function previousDocuments(ctx: PublishContext, files: Snapshot['files'], rendered: Snapshot['rendered'], dir: string): Partial<Record<RepodataType, PreviousDocument>> {
  const previous: Partial<Record<RepodataType, PreviousDocument>> = {};
  for (const type of REPODATA_TYPES) {
    const table = rendered[piecesTag(dir, type)];
    const path = Object.keys(files).find((p) => p.startsWith(`${dir}/repodata/`) && p.endsWith(`-${type}.xml.gz`));
    if (table && path) previous[type] = { table: JSON.parse(table) as PieceTable, bytes: () => readBytes(ctx.store.storage, files[path]!.key) };
  }
  return previous;
}

/**
 * Builds the snapshot that follows `current` after `mutation`: package lists per distribution
 * and architecture, and for every architecture whose packages changed, its repodata (primary,
 * filelists, other, a signed repomd.xml). Superseded repodata stays reachable by its
 * checksum-prefixed name (stored by hash) for the grace period, as APT's by-hash files do.
 */
export async function buildRpmSnapshot(ctx: PublishContext, repo: string, current: Snapshot, mutation: RpmMutation): Promise<{ snapshot: Snapshot | null; unusedKeys: string[] }> {
  const lists = new ListSet<RpmRecord>(ctx.store, current, { id: idOf, sort: sortRecords });
  const pool = new PoolSet(ctx.store, current);
  const changes: Change[] = [];
  const unusedKeys: string[] = [];
  const change = (action: Change['action'], distribution: string, r: RpmRecord): Change => ({ action, distribution, package: r.name, version: formatEvr(r), architecture: r.arch });

  for (const { distribution, record } of mutation.add ?? []) {
    const list = await lists.get(distribution, LISTS, record.arch, shardOf(record.name));
    const path = rpmPoolPath(distribution, record.location);
    const existing = list.get(idOf(record));
    if (existing?.sha256 === record.sha256) {
      // Unless it is the very blob published (a resumable upload published again after a crash).
      if (record.key !== existing.key) unusedKeys.push(record.key);
      continue;
    }
    if (existing && !mutation.replace) {
      throw new PackyardError(409, 'package-exists', `${idOf(record)} is already in ${repo}/${distribution} with different content; upload with replace=true to replace it`);
    }
    // File names leave out the epoch: two epochs of one version would share a file.
    const pooled = await pool.get(path);
    if (!existing && pooled) throw new PackyardError(409, 'file-exists', `${record.location} is already in ${repo}/${distribution} for another package`);
    list.set(idOf(record), record);
    pool.set(path, { key: record.key, size: record.packageSize, sha256: record.sha256, refs: 1 });
    changes.push(change(existing ? 'replace' : 'add', distribution, record));
  }

  for (const spec of mutation.remove ?? []) {
    const list = await lists.get(spec.distribution, LISTS, spec.arch, shardOf(spec.name));
    const id = `${spec.name}-${spec.version}.${spec.arch}`;
    const removed = list.get(id);
    if (!removed) throw new PackyardError(404, 'package-not-found', `${id} is not in ${repo}/${spec.distribution}`);
    list.delete(id);
    const path = rpmPoolPath(spec.distribution, removed.location);
    await pool.get(path);
    pool.delete(path);
    changes.push(change('remove', spec.distribution, removed));
  }

  const settings = mutation.settings ?? current.settings;
  if (mutation.settings) changes.push({ action: 'settings' });
  if (changes.length === 0) return { snapshot: null, unusedKeys };

  const nextLists = await lists.save(repo);
  const files = { ...current.files };
  const rendered = { ...current.rendered };
  const date = ctx.now();
  for (const distribution of distributionsOf({ lists: nextLists, settings })) {
    const byArch = own(own(nextLists, distribution), LISTS) ?? {};
    const folders = [...new Set([...settings.architectures, ...Object.keys(byArch)])].filter((a) => a !== NOARCH).sort();
    for (const arch of folders) {
      const shards = [own(byArch, arch) ?? {}, arch === 'src' ? {} : (own(byArch, NOARCH) ?? {})];
      const dir = `${distribution}/${arch}`;
      const inputs = JSON.stringify(shards);
      if (own(rendered, dir) === inputs) continue;
      const records: RpmRecord[] = [];
      for (const keys of shards) for (const key of Object.values(keys)) records.push(...(await ctx.store.meta<RpmRecord[]>(key)));
      const previous = previousDocuments(ctx, files, rendered, dir);
      const repodata = await buildRepodata(records, { gzip: ctx.gzip, gunzip: ctx.gunzip, createHasher: ctx.createHasher, signer: ctx.signer, now: () => date }, { previous });
      for (const path of Object.keys(files)) if (path.startsWith(`${dir}/repodata/`)) delete files[path];
      const stored = await Promise.all(repodata.files.map((file) => storeIndex(ctx, repo, 'rpm', file.bytes)));
      repodata.files.forEach((file, i) => (files[`${dir}/${file.path}`] = stored[i]!));
      rendered[dir] = inputs;
      for (const type of REPODATA_TYPES) rendered[piecesTag(dir, type)] = JSON.stringify(repodata.pieces[type]);
    }
  }

  const snapshot = nextSnapshot(current, date, { actor: mutation.actor, changes, settings, files, pool: await pool.save(repo), lists: nextLists, rendered });
  return { snapshot, unusedKeys };
}
