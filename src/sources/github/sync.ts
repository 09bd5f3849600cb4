// One sync of a repository from a GitHub repository's releases: what the releases hold now
// becomes one snapshot. Assets already published and unchanged (same id, size, update time) are
// not read again; new or changed ones are read from their first ranges (never downloaded whole
// unless GitHub gives no digest: then streamed once through the hash). Packages uploaded by
// other means are left alone.
import type { AnyFormat, ListAddress, PackageRecord, RemoteFile } from '../../core/format.js';
import type { Removal } from '../../core/publish.js';
import type { RepositoryService } from '../../core/service.js';
import type { Snapshot, RemoteObject } from '../../core/snapshot.js';
import { listShards } from '../../core/package-lists.js';
import { PackyardError } from '../../util/errors.js';
import { forEachConcurrent } from '../../util/concurrency.js';
import type { HasherFactory } from '../../util/hash.js';
import type { Gunzip } from '../../util/codecs/compress.js';
import { GitHubError, assetSha256, type GitHubAsset, type GitHubClient, type GitHubRelease, type RateLimit } from './client.js';
import type { GitHubSettings } from './settings.js';

export const SOURCE = 'github';

export interface SyncDeps {
  service: RepositoryService;
  client: GitHubClient;
  createHasher: HasherFactory;
  gunzip?: Gunzip;
  now: () => Date;
  /** Assets read at once (default 8). */
  concurrency?: number;
}

/** A package as a sync report names it. */
export interface SyncedPackage {
  package: string;
  version: string;
  architecture: string;
  distribution: string;
  release: string;
  asset: string;
}

export interface SyncReport {
  repo: string;
  repository: string;
  /** The snapshot published, or null when nothing changed. */
  snapshot: string | null;
  added: SyncedPackage[];
  /** Assets whose bytes changed under the same release and name. */
  changed: SyncedPackage[];
  removed: SyncedPackage[];
  unchanged: number;
  /** Assets that are not packages of this repository's type (checksums, tarballs). */
  ignored: number;
  skipped: { release: string; asset?: string; reason: string }[];
  rateLimit: Pick<RateLimit, 'limit' | 'remaining' | 'used' | 'resource'> & { reset: string } | null;
  requests: { pages: number; notModified: number };
  /** Bytes read of assets (ranges, and whole assets without a digest). */
  bytesFetched: number;
}

/** What a published record keeps of its asset (RemoteObject.ref). */
export interface AssetRef {
  asset: number;
  /** The asset's file name and its release's tag, for reports. */
  name: string;
  release: string;
  api: string;
  updatedAt: string | null;
  private: boolean;
}

interface Wanted {
  release: GitHubRelease;
  asset: GitHubAsset;
  distribution: string;
}

interface Published {
  record: PackageRecord;
  at: ListAddress;
  ref: AssetRef;
  size: number;
}

export function assetRef(record: PackageRecord): AssetRef | undefined {
  return record.remote?.source === SOURCE ? (record.remote.ref as unknown as AssetRef) : undefined;
}

export async function syncGitHub(deps: SyncDeps, repo: string, settings: GitHubSettings): Promise<SyncReport> {
  const { service, client } = deps;
  const current = await service.getRepo(repo);
  const format = service.formats.of(current);
  const { private: isPrivate } = await client.getRepository(settings.repository);
  const listing = await client.listReleases(settings.repository);
  const report: SyncReport = {
    repo,
    repository: settings.repository,
    snapshot: null,
    added: [],
    changed: [],
    removed: [],
    unchanged: 0,
    ignored: 0,
    skipped: [],
    rateLimit: null,
    requests: { pages: listing.pages, notModified: listing.notModified },
    bytesFetched: 0,
  };

  const wanted: Wanted[] = [];
  for (const release of listing.releases) {
    if (release.prerelease && settings.prereleases === null) {
      report.skipped.push({ release: release.tag_name, reason: 'prerelease (source.github.prereleases is not set)' });
      continue;
    }
    const distribution = release.prerelease ? settings.prereleases! : settings.distribution;
    for (const asset of release.assets) {
      if (!format.extensions.some((ext) => asset.name.endsWith(ext))) report.ignored++;
      else if (asset.state !== undefined && asset.state !== 'uploaded') report.skipped.push({ release: release.tag_name, asset: asset.name, reason: `not uploaded yet (state ${asset.state})` });
      else wanted.push({ release, asset, distribution });
    }
  }

  const { published, holders, pathOwners } = await scan(service, current, format);
  const placements = new Map<string, unknown>();
  const placementOf = (distribution: string) => {
    if (!placements.has(distribution)) placements.set(distribution, format.placement({ distribution, component: settings.component }, current));
    return placements.get(distribution);
  };
  for (const w of wanted) placementOf(w.distribution);
  // A record stays as it is only where it would be placed now (a prerelease made a release, or
  // settings changed, moves it: read again, since a record may carry its place, as a .deb's pool path does).
  const reusable = (before: Published, w: Wanted) => unchanged(before, w) && sameList(before.at, format.listOf(before.record, placementOf(w.distribution)));

  // New and changed assets are read; the rest keep their records.
  const read = new Map<number, PackageRecord>();
  await forEachConcurrent(wanted, deps.concurrency ?? 8, async (w) => {
    const before = published.get(w.asset.id);
    if (before && reusable(before, w)) return;
    try {
      read.set(w.asset.id, await readAsset(deps, format, w, placementOf(w.distribution), isPrivate, (n) => (report.bytesFetched += n)));
    } catch (err) {
      // A package that cannot be read is skipped (and said why); GitHub failing is the sync's failure.
      if (!(err instanceof PackyardError) || err.status >= 500) throw err;
      report.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason: err.message });
    }
  });

  // What the releases hold now, newest release first: the first asset of a package wins.
  const kept = new Map<string, Wanted>();
  const add = new Map<string, PackageRecord[]>();
  for (const w of wanted) {
    const before = published.get(w.asset.id);
    const record = read.get(w.asset.id) ?? (before && reusable(before, w) ? before.record : undefined);
    if (!record) continue;
    const at = format.listOf(record, placementOf(w.distribution));
    const info = format.describe(record);
    const key = listKey(at, format.id(info.package, info.version, info.architecture));
    const first = kept.get(key);
    if (first) {
      report.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason: `the same package as ${first.asset.name} in ${first.release.tag_name}` });
      continue;
    }
    const holder = holders.get(key);
    if (holder && !assetRef(holder)) {
      report.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason: `${info.package} ${info.version} (${info.architecture}) was uploaded to ${at.distribution} by other means` });
      continue;
    }
    // File names may leave out part of a package's identity (Debian's and RPM's leave out the epoch).
    const path = format.poolPath(record, at);
    const rid = format.id(info.package, info.version, info.architecture);
    const owner = pathOwners.get(path);
    if (owner !== undefined && owner !== rid) {
      report.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason: `its pool file ${path} is another package's (${owner})` });
      continue;
    }
    pathOwners.set(path, rid);
    kept.set(key, w);
    const line = { package: info.package, version: info.version, architecture: info.architecture, distribution: at.distribution, release: w.release.tag_name, asset: w.asset.name };
    if (before && reusable(before, w)) {
      report.unchanged++;
      continue;
    }
    (holder ? report.changed : report.added).push(line);
    add.set(w.distribution, [...(add.get(w.distribution) ?? []), record]);
  }

  // Published assets no release holds any more (or not in that list) are taken back.
  const remove: Removal[] = [];
  for (const p of published.values()) {
    const info = format.describe(p.record);
    if (kept.has(listKey(p.at, format.id(info.package, info.version, info.architecture)))) continue;
    remove.push({ coordinates: { distribution: p.at.distribution, component: p.at.component }, package: info.package, version: info.version, architecture: info.architecture, ifPresent: true });
    report.removed.push({ package: info.package, version: info.version, architecture: info.architecture, distribution: p.at.distribution, release: p.ref.release, asset: p.ref.name });
  }

  if (add.size > 0 || remove.length > 0) {
    const result = await service.publish(repo, () => ({
      actor: `github:${settings.repository}`,
      replace: true,
      add: [...add].map(([distribution, records]) => ({ placement: placementOf(distribution), records })),
      remove,
    }));
    if (result.changed) report.snapshot = result.snapshot.id;
  }
  const rl = listing.rateLimit ?? client.rateLimit;
  report.rateLimit = rl ? { limit: rl.limit, remaining: rl.remaining, used: rl.used, resource: rl.resource, reset: rl.reset.toISOString() } : null;
  return report;
}

/** Whether a published record still stands for the asset as GitHub lists it: then it is not read again. */
function unchanged(before: Published, w: Wanted): boolean {
  return before.ref.updatedAt === (w.asset.updated_at ?? null) && before.record.remote?.url === w.asset.browser_download_url && before.size === w.asset.size;
}

const listKey = (at: ListAddress, id: string) => `${at.distribution}\u0000${at.component}\u0000${at.architecture}\u0000${id}`;
const sameList = (a: ListAddress, b: ListAddress) => a.distribution === b.distribution && a.component === b.component && a.architecture === b.architecture;

/**
 * What the snapshot holds: the records this source published, by asset id; every record by list
 * and identity, and the pool paths of the others (what a release asset would collide with).
 */
async function scan(service: RepositoryService, snapshot: Snapshot, format: AnyFormat): Promise<{ published: Map<number, Published>; holders: Map<string, PackageRecord>; pathOwners: Map<string, string> }> {
  const published = new Map<number, Published>();
  const holders = new Map<string, PackageRecord>();
  // Pool paths of packages not from this source: those keep their files.
  const pathOwners = new Map<string, string>();
  for (const [at, key] of listShards(snapshot.lists)) {
    for (const record of await service.store.meta<PackageRecord[]>(key)) {
      const info = format.describe(record);
      holders.set(listKey(at, format.id(info.package, info.version, info.architecture)), record);
      const ref = assetRef(record);
      if (ref) published.set(ref.asset, { record, at, ref, size: info.size });
      else pathOwners.set(format.poolPath(record, at), format.id(info.package, info.version, info.architecture));
    }
  }
  return { published, holders, pathOwners };
}

/** Reads an asset's record from its first ranges; its SHA-256 from GitHub's digest, or the asset hashed once. */
async function readAsset(deps: SyncDeps, format: AnyFormat, w: Wanted, placement: unknown, isPrivate: boolean, fetched: (bytes: number) => void): Promise<PackageRecord> {
  const { client } = deps;
  const { asset } = w;
  const digest = assetSha256(asset);
  // Without a digest the asset is streamed through the hash, and its start kept for the reading.
  const hashed = digest ? undefined : await hashAsset(deps, asset, isPrivate);
  if (hashed) fetched(asset.size);
  const remote: RemoteObject = { source: SOURCE, url: asset.browser_download_url, ref: { asset: asset.id, name: asset.name, release: w.release.tag_name, api: asset.url, updatedAt: asset.updated_at ?? null, private: isPrivate } satisfies AssetRef };
  const file: RemoteFile = {
    size: asset.size,
    sha256: digest ?? hashed!.sha256,
    remote,
    async read(offset, length) {
      if (hashed && offset + length <= hashed.start.length) return hashed.start.subarray(offset, offset + length);
      const { bytes } = await githubRead(() => client.readAssetRange(asset, offset, length, { private: isPrivate }));
      fetched(bytes.length);
      return bytes;
    },
  };
  return format.readRemote({ createHasher: deps.createHasher, gunzip: deps.gunzip, now: deps.now }, file, placement);
}

/** What of an asset is kept while it is hashed: enough for a package's control data, nearly always. */
const KEPT_START = 1024 * 1024;

/** An asset GitHub gives no digest for, streamed once through the hash, never held whole: its SHA-256 and its first bytes. */
async function hashAsset(deps: SyncDeps, asset: GitHubAsset, isPrivate: boolean): Promise<{ sha256: string; start: Uint8Array }> {
  const { body } = await githubRead(async () => deps.client.openAsset(await deps.client.assetUrl(asset, { private: isPrivate })));
  const hasher = deps.createHasher(['sha256']);
  const start = new Uint8Array(Math.min(KEPT_START, asset.size));
  let size = 0;
  const reader = body.getReader();
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    if (size < start.length) start.set(chunk.value.subarray(0, start.length - size), size);
    size += chunk.value.length;
    await hasher.update(chunk.value);
  }
  if (size !== asset.size) throw new PackyardError(422, 'asset-size', `${asset.name}: GitHub says ${asset.size} bytes, the download had ${size}`);
  return { sha256: (await hasher.digest()).sha256, start };
}

/** A GitHub failure reading one asset: a 404 (deleted meanwhile) skips it; anything else stops the sync. */
async function githubRead<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof GitHubError) {
      if (err.status === 404 || err.status === 410) throw new PackyardError(422, 'asset-gone', `the asset is gone (${err.status})`);
      throw new PackyardError(502, 'github-error', err.message);
    }
    throw err;
  }
}
