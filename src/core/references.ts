import { PackyardError } from '../util/errors.js';
import { layout } from './layout.js';
import type { RepoStore } from './store.js';
import type { PoolEntry, PoolMap, Snapshot } from './snapshot.js';
import { poolEntry } from './pool-set.js';

export interface Retention {
  /** Superseded snapshots younger than this stay fully served (by-hash, pool). */
  graceMs: number;
  /** ...and so do at least this many generations before the head. */
  generations: number;
}

export const DEFAULT_RETENTION: Retention = { graceMs: 24 * 3600 * 1000, generations: 3 };

/** The head and the superseded snapshots still inside the grace period, newest first. */
export async function retainedSnapshots(store: RepoStore, repo: string, retention: Retention, now: number): Promise<Snapshot[]> {
  const head = await store.readHead(repo);
  if (!head) return [];
  const out = [head.snapshot];
  let previous = head.snapshot;
  while (previous.parent) {
    const parent = await store.snapshot(repo, previous.parent);
    if (!parent) break;
    // A snapshot stopped being current when its successor was published.
    const supersededAt = Date.parse(previous.createdAt);
    if (out.length > retention.generations && now - supersededAt > retention.graceMs) break;
    out.push(parent);
    previous = parent;
  }
  return out;
}

/** How many superseded snapshots a request for a file the head no longer lists looks through. */
const RECENT_LOOKBACK = 20;

/**
 * A pool file the served snapshot no longer lists (pruned by retention, removed, rolled back),
 * from the superseded snapshots gc keeps by default: a client that read the indexes just before
 * the change still gets what they named, until gc collects it (then its object is gone, and the
 * caller answers 404). The newest snapshot listing it wins; at most RECENT_LOOKBACK are read.
 */
export async function recentPoolEntry(store: RepoStore, served: Snapshot, path: string, now = Date.now(), retention: Retention = DEFAULT_RETENTION): Promise<PoolEntry | undefined> {
  let previous = served;
  for (let n = 0; n < RECENT_LOOKBACK && previous.parent; n++) {
    if (n >= retention.generations && now - Date.parse(previous.createdAt) > retention.graceMs) return undefined;
    const parent = await store.snapshot(served.repo, previous.parent);
    if (!parent) return undefined;
    const entry = await poolEntry(store, parent, path);
    if (entry) return entry;
    previous = parent;
  }
  return undefined;
}

/** What a snapshot expects of an object it references. */
export interface Reference {
  size?: number;
  sha256?: string;
  path?: string;
}

/**
 * Every storage key a snapshot needs, with the size and SHA-256 expected where known. A pool map
 * that cannot be read fails the call (gc must not guess what it referenced) unless `onMissing`
 * takes it (fsck reports it and goes on).
 */
export async function snapshotReferences(store: RepoStore, snapshot: Snapshot, onMissing?: (key: string) => void): Promise<Map<string, Reference>> {
  const repo = snapshot.repo;
  const refs = new Map<string, Reference>();
  refs.set(layout.snapshot(repo, snapshot.id), {});
  for (const [path, entry] of Object.entries(snapshot.files)) {
    // A file kept gzipped names another file's object, whose own entry gives its size and hash.
    if (entry.encoding) {
      if (!refs.has(entry.key)) refs.set(entry.key, { path });
      continue;
    }
    refs.set(entry.key, { size: entry.size, sha256: entry.sha256, path });
    for (const copy of entry.copies ?? []) refs.set(copy, { size: entry.size, path });
  }
  for (const components of Object.values(snapshot.lists)) for (const byArch of Object.values(components)) for (const shards of Object.values(byArch)) for (const key of Object.values(shards)) refs.set(key, {});
  for (const key of Object.values(snapshot.pool)) {
    refs.set(key, {});
    let map: PoolMap;
    try {
      map = await store.meta<PoolMap>(key);
    } catch (err) {
      if (!onMissing || !(err instanceof PackyardError) || err.code !== 'missing-object') throw err;
      onMissing(key);
      continue;
    }
    // A remote pool file is no object of this repository's.
    for (const [path, entry] of Object.entries(map)) if (entry.key !== undefined) refs.set(entry.key, { size: entry.size, sha256: entry.sha256, path });
  }
  return refs;
}
