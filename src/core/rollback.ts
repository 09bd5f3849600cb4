import { z } from 'zod';
import { PackyardError } from '../util/errors.js';
import { parseInput } from '../util/input.js';
import { forEachConcurrent } from '../util/concurrency.js';
import { own } from '../util/own.js';
import { DISTRIBUTION_NAME } from './settings.js';
import { distributionsOf, nextSnapshot, type Change, type FileEntry, type RepoSettings, type Snapshot } from './snapshot.js';
import { PoolSet, poolEntry } from './pool-set.js';
import { PendingWrites } from './pending-writes.js';
import { listShards } from './package-lists.js';
import { changedRecords, collected, SNAPSHOT_ID } from './diff.js';
import { lifecycleFormat } from './promote.js';
import type { PublishGuard } from './gc-protocol.js';
import type { Draft, ListAddress, PackageRecord } from './format.js';
import type { RepositoryService } from './service.js';
import type { RepoStore } from './store.js';

export const rollbackSchema = z
  .object({
    snapshot: z.string().regex(SNAPSHOT_ID, 'is not a snapshot id'),
    distribution: z.string().regex(DISTRIBUTION_NAME, 'is not a distribution name').optional(),
  })
  .strict();

/**
 * Publishes again what snapshot `spec.snapshot` had (of one distribution, or of all, with their
 * settings): a new snapshot on top of the head, so history only grows. Nothing stored is
 * rendered again: the target's list shards, index files and what their rendering kept are
 * reused, and only the roots (Release and InRelease, repomd.xml) are signed anew with a fresh
 * date, which clients that saw a newer one need. Pool references move by the records that
 * differ. An object the target needs that gc collected is a 409, and nothing is published.
 */
export async function rollback(service: RepositoryService, repo: string, input: unknown, actor: string): Promise<{ snapshot: Snapshot; changed: boolean }> {
  const spec = parseInput(rollbackSchema, input);
  const format = lifecycleFormat(service, await service.getRepo(repo), 'rollback');
  const store = service.store;
  const target = await store.snapshot(repo, spec.snapshot);
  if (!target) throw new PackyardError(404, 'snapshot-not-found', `repository ${repo} has no snapshot ${spec.snapshot}`);
  if (spec.distribution && !distributionsOf(target).includes(spec.distribution)) {
    throw new PackyardError(404, 'distribution-not-found', `snapshot ${target.id} of ${repo} has no distribution "${spec.distribution}" (it has: ${distributionsOf(target).join(', ') || 'none'})`);
  }
  const { distributionOf, resign } = format.lifecycle;

  return store.commit(repo, async (current, guard) => {
    const base = current!;
    const scope = new Set(spec.distribution ? [spec.distribution] : [...distributionsOf(base), ...distributionsOf(target)]);
    const inScope = (path: string) => {
      const d = distributionOf(path);
      return d !== undefined && scope.has(d);
    };
    const lists: Snapshot['lists'] = { ...base.lists };
    const distributions: RepoSettings['distributions'] = { ...base.settings.distributions };
    for (const d of scope) {
      const list = own(target.lists, d);
      if (list) lists[d] = list;
      else delete lists[d];
      const settings = own(target.settings.distributions, d);
      if (settings) distributions[d] = settings;
      else delete distributions[d];
    }
    // Who may read it and where it syncs from are the repository's now, not the snapshot's.
    const settings: RepoSettings = { ...base.settings, distributions };
    const files = splice(base.files, target.files, inScope);
    const rendered = splice(base.rendered, target.rendered, inScope);

    // The pool follows the records that differ: the head's references dropped, the target's taken.
    const pool = new PoolSet(store, base);
    const taken: [ListAddress, PackageRecord][] = [];
    for await (const { at, before, after } of changedRecords(store, format, base, target, [...scope])) {
      if (before) await pool.dropRef(format.poolPath(before, at));
      if (after) taken.push([at, after]);
    }
    const blobs: string[] = [];
    for (const [at, record] of taken) {
      const path = format.poolPath(record, at);
      const { sha256, filename } = format.describe(record);
      const entry = await pool.get(path);
      if (entry) {
        // Another distribution still lists the file at this path, with other bytes since.
        if (entry.sha256 !== sha256) throw new PackyardError(409, 'pool-conflict', `${filename} was replaced since snapshot ${target.id} and is still listed elsewhere in ${repo}: roll back all distributions, or remove it there first`);
        await pool.addRef(path, () => entry);
        continue;
      }
      const then = await targetPoolEntry(store, target, path);
      if (!then) throw collected(`the pool entry of ${filename}`);
      await pool.addRef(path, () => then);
      if (then.key !== undefined) blobs.push(then.key);
    }

    await reuse(store, guard, reusedKeys(base, { files, lists }, blobs));

    const date = service.ctx.now();
    // The files taken are stored and guarded (above) as the head's are: a render may keep their entries.
    const draft: Draft = { repo, previous: { ...files }, settings, lists, files, rendered, date, writes: new PendingWrites() };
    // Anything the target's rendering does not fit (the repository's architectures changed since) is rendered as any publish would.
    await format.render(service.ctx, draft);
    const roots = distributionsOf({ lists, settings }).filter((d) => scope.has(d));
    await Promise.all(roots.map((d) => resign(service.ctx, draft, d)));
    const [savedPool] = await Promise.all([pool.save(repo), draft.writes.settle()]);
    const change: Change = { action: 'rollback', snapshot: target.id, ...(spec.distribution ? { distribution: spec.distribution } : {}) };
    return nextSnapshot(base, date, { actor, changes: [change], settings, files: draft.files, pool: savedPool, lists, rendered: draft.rendered });
  });
}

/** `base` with the entries `inScope` taken from `from` instead. */
function splice<T>(base: Record<string, T>, from: Record<string, T>, inScope: (path: string) => boolean): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [path, value] of Object.entries(base)) if (!inScope(path)) out[path] = value;
  for (const [path, value] of Object.entries(from)) if (inScope(path)) out[path] = value;
  return out;
}

async function targetPoolEntry(store: RepoStore, target: Snapshot, path: string) {
  try {
    return await poolEntry(store, target, path);
  } catch (err) {
    if (err instanceof PackyardError && err.code === 'missing-object') throw collected(`a pool map of snapshot ${target.id}`);
    throw err;
  }
}

/** The stored objects the next snapshot takes from the target that the head does not reference, by what they are. */
function reusedKeys(base: Snapshot, next: { files: Record<string, FileEntry>; lists: Snapshot['lists'] }, blobs: string[]): Map<string, string> {
  const held = new Set<string>();
  for (const entry of Object.values(base.files)) for (const key of [entry.key, ...(entry.copies ?? [])]) held.add(key);
  for (const [, key] of listShards(base.lists)) held.add(key);
  const out = new Map<string, string>();
  for (const [path, entry] of Object.entries(next.files)) for (const key of [entry.key, ...(entry.copies ?? [])]) if (!held.has(key)) out.set(key, path);
  for (const [at, key] of listShards(next.lists)) if (!held.has(key)) out.set(key, `the package list of ${[at.distribution, at.component, at.architecture].join('/')}`);
  for (const key of blobs) out.set(key, `package file ${key}`);
  return out;
}

/**
 * Each object checked to be there and handed to the publish guard as re-used (touched when too
 * old to rely on), as a publish that finds an index already stored does: gc cannot take it
 * between here and the head swap. Any missing: a 409 naming them.
 */
async function reuse(store: RepoStore, guard: PublishGuard, keys: Map<string, string>): Promise<void> {
  const missing: string[] = [];
  await forEachConcurrent([...keys], 16, async ([key, what]) => {
    const observedAt = Date.now();
    const found = await store.storage.head(key);
    const info = found && guard.isStale(found) ? await store.storage.touch(key) : found;
    if (!info) return void missing.push(what);
    guard.reused(info, info === found ? observedAt : Date.now());
  });
  if (missing.length) throw collected(missing.sort().slice(0, 10).join(', ') + (missing.length > 10 ? ` and ${missing.length - 10} more` : ''));
}
