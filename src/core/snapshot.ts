import { PackyardError } from '../util/errors.js';
import { layout } from './layout.js';
import type { Digests } from '../util/hash.js';

/** A file clients fetch, stored under `key`, with the size and digests indexes list for it. */
export interface FileEntry extends Partial<Digests> {
  key: string;
  size: number;
  sha256: string;
  /** Other keys holding the same bytes (APT's by-hash under SHA512). Named since schema 2 (readSnapshot). */
  copies?: string[];
  /**
   * Since schema 3: `key` holds these bytes gzipped (another file's object, e.g. `Packages.gz`
   * for `Packages`), so the file is not stored twice; `size` and the digests are of the bytes
   * clients get, which are decompressed as they are served.
   */
  encoding?: 'gzip';
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
  /** Overrides the repository's retention in this distribution. */
  retention?: Retention;
}

/** How many versions of each package a place keeps (src/core/retention.ts); absent: all. */
export interface Retention {
  keepVersions: number;
}

export interface RepoSettings {
  architectures: string[];
  distributions: Record<string, DistributionSettings>;
  /** Readable without credentials. Absent (repositories made before access control): private. */
  public?: boolean;
  /**
   * Where packages come from besides uploads, as `{ <kind>: settings }` (`{ github: {...} }`):
   * checked by src/sources, opaque here. Its secrets are stored apart, never in a snapshot.
   */
  source?: SourceSettings;
  retention?: Retention;
}

export type SourceSettings = Readonly<Record<string, Readonly<Record<string, unknown>>>>;

export interface Change {
  action: 'add' | 'remove' | 'replace' | 'settings' | 'create' | 'rollback';
  distribution?: string;
  component?: string;
  package?: string;
  version?: string;
  architecture?: string;
  /** An 'add' that copied the package from another distribution (and repository). */
  from?: { distribution: string; repo?: string };
  /** A 'rollback': the snapshot whose content was published again. */
  snapshot?: string;
  /**
   * Why a removal nobody named happened: `retention` (pruned beyond keepVersions), or
   * `distribution` (its distribution was removed). A removal still, to everyone reading changes.
   */
  reason?: 'retention' | 'distribution';
}

/**
 * The snapshot schema this build writes. 1 (no `schema` field): every shape written before the
 * field, including the first ones (one pool map, lists not sharded); 2: pool entries may be
 * remote; 3: a file may be stored only gzipped (`FileEntry.encoding`). A build meets a newer
 * schema with a clear error, not a misreading (an older build would serve the gzip as the file).
 */
export const SNAPSHOT_SCHEMA = 3;

/** One published state of a repository. Immutable once written. */
export interface Snapshot {
  schema: number;
  id: string;
  repo: string;
  /** The format (`deb`, `rpm`): see src/formats/index.ts. */
  type: string;
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
  /**
   * Meta keys of the pool map (pool path → stored package), in shards by pool folder (`main/h`).
   * A repository made before the pool was sharded has one map, under LEGACY_SHARD.
   */
  pool: Record<string, string>;
  /**
   * Meta keys of package lists: distribution → component → architecture (or `all`) → shard (a
   * package-name prefix). Sharding keeps what one publish rewrites small in a large repository.
   * A list stored before lists were sharded is one shard, LEGACY_SHARD, split when next changed.
   */
  lists: Record<string, Record<string, Record<string, Record<string, string>>>>;
  /** What each rendered index was built from (and where repodata's pieces lie), so a publish re-renders only what changed. */
  rendered: Record<string, string>;
}

/**
 * A package's bytes in another place (a release asset, an upstream mirror). The source that put it
 * there says, when a client asks, how the bytes reach it (a redirect, or through Packyard).
 */
export interface RemoteObject {
  /** The kind of source (`github`). */
  source: string;
  /** Its address as published (a release asset's download URL). */
  url: string;
  /** What the source needs to find it again and to tell whether it changed (an asset's id and update time). */
  ref: Readonly<Record<string, string | number | boolean | null>>;
}

/** A file of the pool: a stored object (`key`) or a remote one. */
export type PoolEntry = ({ key: string; remote?: undefined } | { remote: RemoteObject; key?: undefined }) & {
  size: number;
  sha256: string;
  /** How many list entries point here; the entry goes when this reaches zero. */
  refs: number;
};

/** The shard name of a pool map or list stored whole, before sharding (no real shard is empty). */
export const LEGACY_SHARD = '';

export type PoolMap = Record<string, PoolEntry>;

export function newSnapshotId(seq: number): string {
  const random = crypto.getRandomValues(new Uint8Array(4));
  return `${seq.toString().padStart(8, '0')}-${[...random].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The snapshot after `current`, made at `date` by `actor`: the parts a publish computed, the bookkeeping done here. */
export function nextSnapshot(current: Snapshot, date: Date, parts: Pick<Snapshot, 'actor' | 'changes' | 'settings' | 'files' | 'pool' | 'lists' | 'rendered'>): Snapshot {
  const seq = current.seq + 1;
  return { schema: SNAPSHOT_SCHEMA, id: newSnapshotId(seq), repo: current.repo, type: current.type, seq, parent: current.id, createdAt: date.toISOString(), parentCreatedAt: current.createdAt, ...parts };
}

/** A new repository's first snapshot, before anything is published in it. */
export function emptySnapshot(repo: string, type: string, settings: RepoSettings, actor: string, now: Date): Snapshot {
  return { schema: SNAPSHOT_SCHEMA, id: newSnapshotId(0), repo, type, seq: 0, parent: null, createdAt: now.toISOString(), parentCreatedAt: null, actor, changes: [{ action: 'create' }], settings, files: {}, pool: {}, lists: {}, rendered: {} };
}

/** The distributions a repository serves: those with packages and those its settings declare, sorted. */
export function distributionsOf(s: Pick<Snapshot, 'lists' | 'settings'>): string[] {
  return [...new Set([...Object.keys(s.lists), ...Object.keys(s.settings.distributions)])].sort();
}

/**
 * A snapshot document as stored, in the shape this build works with. Every schema this project
 * has written is read: the first ones kept one pool map (`pool`: its key, or null) and unsharded
 * lists (an architecture's list: one key), and had no `parentCreatedAt`.
 */
export function readSnapshot(stored: unknown, key: string): Snapshot {
  const s = stored as Omit<Snapshot, 'schema' | 'pool' | 'lists'> & { schema?: number; pool: Snapshot['pool'] | string | null; lists: Record<string, Record<string, Record<string, Record<string, string> | string>>> };
  const schema = s.schema ?? 1;
  if (!Number.isInteger(schema) || schema > SNAPSHOT_SCHEMA) {
    throw new PackyardError(500, 'newer-schema', `${key} has snapshot schema ${String(s.schema)}; this Packyard reads up to ${SNAPSHOT_SCHEMA}: upgrade Packyard`);
  }
  // Schema 3 only added a field.
  if (schema >= 2) return stored as Snapshot;
  const pool = typeof s.pool === 'string' ? { [LEGACY_SHARD]: s.pool } : (s.pool ?? {});
  const lists: Snapshot['lists'] = {};
  for (const [distribution, components] of Object.entries(s.lists ?? {})) {
    const d: Snapshot['lists'][string] = (lists[distribution] = {});
    for (const [component, byArch] of Object.entries(components)) {
      const c: Record<string, Record<string, string>> = (d[component] = {});
      for (const [arch, shards] of Object.entries(byArch)) c[arch] = typeof shards === 'string' ? { [LEGACY_SHARD]: shards } : shards;
    }
  }
  // Schema 1 did not name the copies of a file: a deb repository kept each under SHA512 too.
  const copied = SCHEMA_1_COPIES[s.type as keyof typeof SCHEMA_1_COPIES];
  const files: Snapshot['files'] = {};
  for (const [path, entry] of Object.entries(s.files)) files[path] = { ...entry, copies: copied && entry.sha512 ? [layout.byHash(s.repo, copied, entry.sha512)] : [] };
  return { ...s, schema, parentCreatedAt: s.parentCreatedAt ?? null, rendered: s.rendered ?? {}, pool, lists, files } as Snapshot;
}

/**
 * What schema 1 stored beside each index file, by repository type: a fact of data already
 * written (those were its only types), not a rule for formats, which name their copies.
 */
const SCHEMA_1_COPIES = { deb: 'SHA512' } as const;

/** The pool-map shard of a pool path: its component and prefix folders (`pool/main/h/…` → `main/h`). */
export function poolShard(path: string): string {
  return path.split('/').slice(1, 3).join('/');
}
