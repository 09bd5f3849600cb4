import type { z } from 'zod';
import type { Gunzip } from '../util/codecs/compress.js';
import type { HasherFactory } from '../util/hash.js';
import type { PackageReading } from './ingest.js';
import type { PublishContext } from './publish-context.js';
import type { PendingWrites } from './pending-writes.js';
import type { Change, DistributionSettings, FileEntry, RemoteObject, RepoSettings, Snapshot } from './snapshot.js';

/**
 * The contract a package format (deb, rpm, …) implements; `src/formats/index.ts` lists them.
 * The core (snapshots, lists, pool, publish, gc, fsck, file serving) works through it alone and
 * knows no format's records, files or URLs.
 */
export interface Format<R extends PackageRecord = PackageRecord, P = unknown> {
  /** The repository type users name (`deb`): stored in every snapshot. */
  readonly type: string;
  /** For people: `APT`, `YUM/DNF`. */
  readonly title: string;
  /** The package files it reads (`.deb`). */
  readonly extensions: readonly string[];
  readonly defaultArchitectures: readonly string[];
  /**
   * What a source publishes of this format: package files (release assets; the default), or
   * versions of a whole repository, one per tag (a Terraform module).
   */
  readonly fromSource?: 'files' | 'tags';
  /** The settings each distribution may have (checked when a repository is created or updated). */
  readonly distributionSettings: z.ZodType<DistributionSettings>;
  /** What `repo create --distribution` declares for a new distribution. */
  newDistribution(): DistributionSettings;

  /**
   * The placement of an upload, checked against the repository as it is (a 400 names what is
   * wrong; a distribution that exists is taken as it is, whatever rule was added since).
   */
  placement(coordinates: Coordinates, current: Snapshot): P;
  /** Reads one package file as it streams by into its record (bad input: a 4xx `PackyardError`). */
  reading(deps: ReadingDeps, placement: P): PackageReading<R>;
  /**
   * Reads a package kept elsewhere (a release asset) from the ranges it needs, its control data,
   * never the rest; the record's bytes stay at `file.remote`.
   */
  readRemote(deps: ReadingDeps, file: RemoteFile, placement: P): Promise<R>;

  /** What users see of a record: in listings, in answers, in the snapshot's changes. */
  describe(record: R): PackageInfo;
  /** A record's identity within its list, from what `describe` shows of it (or a removal names). */
  id(name: string, version: string, architecture: string): string;
  /** The list a placed record belongs in. */
  listOf(record: R, placement: P): ListAddress;
  /** The lists a removal of `name` looks in (checked as `placement` is), and how to name where it looked. */
  removalLists(coordinates: Coordinates, name: string, architecture: string, current: Snapshot): { lists: ListAddress[]; scope: string };
  /** The shard of a record within its list (also: how a list stored before sharding is split). */
  shardOf(record: R): string;
  /** The path its file has in the pool (one pool file may be listed in several lists). */
  poolPath(record: R, list: ListAddress): string;
  /** The order a stored list shard keeps its records in. */
  sort(records: R[]): R[];
  /** Where a list is, in the words of changes and listings. */
  where(list: ListAddress): Pick<Change, 'distribution' | 'component'>;
  /**
   * Where an upload with this placement goes, in the same words; absent for a format without
   * distributions (Terraform), whose uploads are not checked against the ones a repository has.
   */
  placeOf?(placement: P): { distribution: string; component?: string };
  /** The format's order of versions as `describe` shows them (negative, 0, positive); absent: retention does not apply. */
  compareVersions?(a: string, b: string): number;
  /** Takes a distribution's client-facing files, and what `rendered` kept of them, out of a draft (its lists are gone). */
  dropDistribution?(draft: Draft, distribution: string): void;

  /**
   * Renders the client-facing files of the next snapshot from its lists: only those whose
   * inputs changed (the format keeps what it needs to tell in `draft.rendered`).
   */
  render(ctx: PublishContext, draft: Draft): Promise<void>;
  /** What a client path of a snapshot is (null: not a file of this repository). */
  resolve(path: string, snapshot: Snapshot, client: ClientView): Resolution | null | Promise<Resolution | null>;
  /** Every client path of a snapshot, with what it is: for export, and checks of a whole tree. */
  clientPaths(snapshot: Snapshot, lists: ListReader, client: ClientView): AsyncIterable<ClientPath>;
  /** The lines a user runs on a client machine to use the repository. */
  clientSetup(url: string, snapshot: Snapshot, readToken?: string): string[];

  /** What copy and rollback need; absent where they do not apply (Terraform), and those requests are a 400. */
  readonly lifecycle?: Lifecycle;
}

/** A format's part in copy and rollback (src/core/promote.ts, src/core/rollback.ts). */
export interface Lifecycle {
  /** The distribution a client file of a snapshot, or a key of its `rendered`, belongs to; undefined for the repository's own. */
  distributionOf(path: string): string | undefined;
  /**
   * Signs a distribution's root files again (deb: Release, InRelease, Release.gpg; rpm: each
   * repomd.xml and its signature) dated `draft.date`, over its index files as they are: a
   * rollback re-renders nothing else.
   */
  resign(ctx: PublishContext, draft: Draft, distribution: string): Promise<void>;
}

/** Any format, its record and placement types erased (what registries hold). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFormat = Format<any, any>;

/** The formats a host serves, by type. */
export interface Formats {
  /** The format of `type` as a user names it; a 400 naming the known ones for any other. */
  get(type: string): AnyFormat;
  /** The format of a stored repository; a 500 for a type this build does not serve (a newer build's). */
  of(snapshot: Pick<Snapshot, 'repo' | 'type'>): AnyFormat;
  /** The type of a repository created without one. */
  readonly defaultType: string;
  /** The format whose package files these are, or undefined if they are not all of one. */
  forFiles(names: readonly string[]): AnyFormat | undefined;
  readonly types: readonly string[];
}

/** What the core needs of every record: where its bytes are. */
export interface PackageRecord {
  /** Storage key of the package bytes; empty when they are elsewhere. */
  key: string;
  /** Where they are instead (a package read with `readRemote`). */
  remote?: RemoteObject;
}

/** A package file kept elsewhere, as a source knows it: its size and SHA-256, and a way to read ranges of it. */
export interface RemoteFile {
  size: number;
  sha256: string;
  remote: RemoteObject;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface PackageInfo {
  package: string;
  version: string;
  architecture: string;
  /** Where clients fetch it, below the repository root or its distribution. */
  filename: string;
  size: number;
  sha256: string;
}

/** An upload's or removal's placement as given (query parameters, CLI flags). */
export type Coordinates = Readonly<Record<string, string | undefined>>;

export interface ReadingDeps {
  createHasher: HasherFactory;
  gunzip?: Gunzip;
  now: () => Date;
}

/**
 * A list in the snapshot's tree of lists: three levels and a shard. Debian uses them as
 * distribution, component and architecture; another format puts its own coordinates there.
 */
export interface ListAddress {
  distribution: string;
  component: string;
  architecture: string;
  shard: string;
}

/** The next snapshot while a publish renders it: its lists are saved, its files and state the format's to change. */
export interface Draft {
  repo: string;
  /** The current snapshot's files: an index rendered to the same bytes keeps its entry (storeIndex). */
  previous: Readonly<Record<string, FileEntry>>;
  settings: RepoSettings;
  lists: Snapshot['lists'];
  /** Client-facing files by path; starts as the current snapshot's. */
  files: Record<string, FileEntry>;
  /** The format's own record of what each rendered file was built from; starts as the current one's. */
  rendered: Record<string, string>;
  date: Date;
  /** Objects the format is still storing for the snapshot: settled before it is committed. */
  writes: PendingWrites;
}

/** Reads the records of list shards (by their stored keys). */
export type ListReader = <R>(key: string) => Promise<R[]>;

export interface ClientView {
  /** The repository's root URL as the client uses it (`https://host/<repo>`), for generated files. */
  base(): string;
  /**
   * The URL of a path below the repository that anyone may fetch for a few minutes, without
   * credentials (for clients that send none there: Terraform's archive and provider downloads).
   */
  signed?(path: string): Promise<string>;
  /** A stored document of the snapshot (a list shard, a format's own index), by key. */
  meta?<T>(key: string): Promise<T>;
  /** The request's query string (paging and searching a protocol's listings). */
  query?(): string;
  /** The server's public signing keys, each armored, with its fingerprint. */
  publicKeys?(): { fingerprint: string; armored: string }[];
}

/** What a client path is: a file of the snapshot, an immutable stored object, a pool file, or generated text. */
export type Resolution =
  | { kind: 'file'; entry: FileEntry; contentType: string }
  | { kind: 'object'; key: string; etag: string; contentType: string }
  | { kind: 'pool'; poolPath: string; contentType: string }
  | { kind: 'text'; body: string; contentType: string }
  /** An answer of the format's protocol: a status, headers, and a small body (Terraform's 204 with `X-Terraform-Get`). */
  | { kind: 'answer'; status: number; headers: Record<string, string>; body: string; contentType: string };

/** A path of a whole tree: answers of a protocol (`answer`) are made per request, not files a tree holds. */
export type ClientPath = Exclude<Resolution, { kind: 'answer' }> & { path: string; stage: PublishStage };

/**
 * When a copy of the tree (an export to a bucket) writes a path, so that a reader never meets a
 * file naming one not there yet: `content` first (package files, and indexes named by their hash),
 * then `index` (fetched by a name a root lists by hash, or standalone), `root` last (what clients
 * fetch by name first: InRelease, repomd.xml).
 */
export type PublishStage = 'content' | 'index' | 'root';
