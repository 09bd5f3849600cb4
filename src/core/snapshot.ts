import type { Digests } from '../util/hash.js';

/** A file clients fetch, stored under `key`, with the size and digests indexes list for it. */
export interface FileEntry extends Digests {
  key: string;
  size: number;
}

export interface DistributionSettings {
  origin?: string;
  label?: string;
  suite?: string;
  codename?: string;
  description?: string;
  /** Components published even while empty, so apt can use the distribution before the first upload. */
  components?: string[];
  /** Seconds after `Date` for `Valid-Until`; omitted means no `Valid-Until`. */
  validFor?: number;
}

export interface RepoSettings {
  architectures: string[];
  distributions: Record<string, DistributionSettings>;
  /** Readable without credentials. Absent (repositories made before access control): private. */
  public?: boolean;
}

export interface Change {
  action: 'add' | 'remove' | 'replace' | 'settings' | 'create';
  distribution?: string;
  component?: string;
  package?: string;
  version?: string;
  architecture?: string;
}

export type RepoType = 'deb' | 'rpm';

/** One published state of a repository. Immutable once written. */
export interface Snapshot {
  id: string;
  repo: string;
  type: RepoType;
  seq: number;
  parent: string | null;
  createdAt: string;
  /** When the previous snapshot was made: HTTP validators need to tell them apart. */
  parentCreatedAt: string | null;
  actor: string;
  changes: Change[];
  settings: RepoSettings;
  /** Client-facing index files by path below the repository root (e.g. `dists/stable/InRelease`). */
  files: Record<string, FileEntry>;
  /** Meta keys of the pool map (pool path → stored package), in shards by pool folder (`main/h`). */
  pool: Record<string, string>;
  /**
   * Meta keys of package lists: distribution → component → architecture (or `all`) → shard (a
   * package-name prefix). Sharding keeps what one publish rewrites small in a large repository.
   */
  lists: Record<string, Record<string, Record<string, Record<string, string>>>>;
  /** What each rendered index was built from (and where repodata's pieces lie), so a publish re-renders only what changed. */
  rendered: Record<string, string>;
}

export interface PoolEntry {
  key: string;
  size: number;
  sha256: string;
  /** How many list entries point here; the entry goes when this reaches zero. */
  refs: number;
}

export type PoolMap = Record<string, PoolEntry>;

export function newSnapshotId(seq: number): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `${seq.toString().padStart(8, '0')}-${[...random].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The snapshot after `current`, made at `date` by `actor`: the parts a publish computed, the bookkeeping done here. */
export function nextSnapshot(current: Snapshot, date: Date, parts: Pick<Snapshot, 'actor' | 'changes' | 'settings' | 'files' | 'pool' | 'lists' | 'rendered'>): Snapshot {
  const seq = current.seq + 1;
  return { id: newSnapshotId(seq), repo: current.repo, type: current.type, seq, parent: current.id, createdAt: date.toISOString(), parentCreatedAt: current.createdAt, ...parts };
}

/** A new repository's first snapshot, before anything is published in it. */
export function emptySnapshot(repo: string, type: RepoType, settings: RepoSettings, actor: string, now: Date): Snapshot {
  return { id: newSnapshotId(0), repo, type, seq: 0, parent: null, createdAt: now.toISOString(), parentCreatedAt: null, actor, changes: [{ action: 'create' }], settings, files: {}, pool: {}, lists: {}, rendered: {} };
}

/** The distributions a repository serves: those with packages and those its settings declare, sorted. */
export function distributionsOf(s: Pick<Snapshot, 'lists' | 'settings'>): string[] {
  return [...new Set([...Object.keys(s.lists), ...Object.keys(s.settings.distributions)])].sort();
}

/** The pool-map shard of a pool path: its component and prefix folders (`pool/main/h/…` → `main/h`). */
export function poolShard(path: string): string {
  return path.split('/').slice(1, 3).join('/');
}
