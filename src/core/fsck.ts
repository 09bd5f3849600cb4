import type { HasherFactory } from '../util/hash.js';
import { isBookkeeping, layout } from './layout.js';
import { DEFAULT_RETENTION, retainedSnapshots, snapshotReferences, type Reference, type Retention } from './references.js';
import type { RepoStore } from './store.js';

export interface FsckProblem {
  key: string;
  path?: string;
  problem: 'missing' | 'size-mismatch' | 'hash-mismatch';
  detail?: string;
}

export interface FsckReport {
  repo: string;
  snapshot: string | null;
  checked: number;
  problems: FsckProblem[];
  garbage: { objects: number; bytes: number };
}

/**
 * Checks that every object the retained snapshots reference exists with the right size and
 * SHA-256, and counts stored objects nothing references (what `gc` would collect).
 */
export async function fsck(store: RepoStore, createHasher: HasherFactory, repo: string, options: { verifyContent?: boolean; retention?: Retention } = {}): Promise<FsckReport> {
  const snapshots = await retainedSnapshots(store, repo, options.retention ?? DEFAULT_RETENTION, Date.now());
  const expected = new Map<string, Reference>();
  const problems: FsckProblem[] = [];
  // A pool map gone (a gc ran with a shorter retention than this check's): report it, go on.
  const unreadable = new Set<string>();
  for (const snapshot of snapshots) {
    for (const [key, ref] of await snapshotReferences(store, snapshot, (key) => unreadable.add(key))) if (!expected.has(key) || ref.sha256) expected.set(key, ref);
  }
  for (const key of unreadable) {
    problems.push({ key, problem: 'missing', detail: 'a pool map: the packages it lists could not be checked (was gc run with a shorter --grace or fewer --generations than this check?)' });
    expected.delete(key);
  }

  for (const [key, ref] of expected) {
    const info = await store.storage.head(key);
    if (!info) {
      problems.push({ key, path: ref.path, problem: 'missing' });
      continue;
    }
    if (ref.size !== undefined && info.size !== ref.size) {
      problems.push({ key, path: ref.path, problem: 'size-mismatch', detail: `stored ${info.size} bytes, expected ${ref.size}` });
      continue;
    }
    if (ref.sha256 && options.verifyContent !== false) {
      const actual = await hashObject(store, createHasher, key);
      if (actual !== ref.sha256) problems.push({ key, path: ref.path, problem: 'hash-mismatch', detail: `SHA256 ${actual}, expected ${ref.sha256}` });
    }
  }

  const garbage = { objects: 0, bytes: 0 };
  for await (const info of store.storage.list(layout.repoPrefix(repo), { leftovers: true })) {
    if (expected.has(info.key) || unreadable.has(info.key) || isBookkeeping(repo, info.key)) continue;
    garbage.objects++;
    garbage.bytes += info.size;
  }
  return { repo, snapshot: snapshots[0]?.id ?? null, checked: expected.size, problems, garbage };
}

async function hashObject(store: RepoStore, createHasher: HasherFactory, key: string): Promise<string> {
  const obj = await store.storage.get(key);
  if (!obj) return '';
  const hasher = createHasher(['sha256']);
  const reader = obj.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    const hashed = hasher.update(value);
    if (hashed) await hashed;
  }
  return (await hasher.digest()).sha256;
}
