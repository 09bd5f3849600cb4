// One sync of a repository from a GitHub repository's releases: what the releases hold now
// becomes one snapshot. Assets already published and unchanged (same id, size, update time) are
// not read again; new or changed ones are read from their first ranges (never downloaded whole
// unless GitHub gives no digest: then streamed once through the hash). Packages uploaded by
// other means are left alone.
import type { AnyFormat, ListAddress, PackageRecord, RemoteFile } from '../../core/format.js';
import type { RepositoryService } from '../../core/service.js';
import type { Snapshot, RemoteObject } from '../../core/snapshot.js';
import { listShards } from '../../core/package-lists.js';
import { PackyardError } from '../../util/errors.js';
import { forEachConcurrent } from '../../util/concurrency.js';
import { GitHubError, assetSha256, type GitHubAsset, type GitHubRelease } from './client.js';
import type { GitHubSettings } from './settings.js';
import { SOURCE } from './types.js';
import { asPackyardError } from './errors.js';
import { syncTags } from './tags.js';
import { hashThrough } from '../../util/hash.js';
import { publishPlan, type Plan, type SyncDeps, type SyncReport } from './report.js';

export type { SyncDeps, SyncReport, SyncedPackage } from './report.js';


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

export function assetRef(record: Pick<PackageRecord, 'remote'>): AssetRef | undefined {
  const ref = record.remote?.source === SOURCE ? record.remote.ref : undefined;
  return ref && typeof ref.asset === 'number' ? (ref as unknown as AssetRef) : undefined;
}

export async function syncGitHub(deps: SyncDeps, repo: string, settings: GitHubSettings): Promise<SyncReport> {
  const { service, client } = deps;
  const current = await service.getRepo(repo);
  const format = service.formats.of(current);
  // A format whose versions are tags of the whole repository (a Terraform module) syncs from the tags.
  if (format.fromSource === 'tags') return syncTags(deps, repo, settings, format);
  const { private: isPrivate } = await client.getRepository(settings.repository);
  const listing = await client.listReleases(settings.repository);
  let ignored = 0;
  const listed: SyncReport['skipped'] = [];
  const wanted: Wanted[] = [];
  for (const release of listing.releases) {
    if (release.prerelease && settings.prereleases === null) {
      listed.push({ release: release.tag_name, reason: 'prerelease (source.github.prereleases is not set)' });
      continue;
    }
    const distribution = release.prerelease ? settings.prereleases! : settings.distribution;
    for (const asset of release.assets) {
      if (!format.extensions.some((ext) => asset.name.endsWith(ext))) ignored++;
      else if (asset.state !== undefined && asset.state !== 'uploaded') listed.push({ release: release.tag_name, asset: asset.name, reason: `not uploaded yet (state ${asset.state})` });
      else if (!asset.browser_download_url.startsWith('https:') && settings.apiUrl.startsWith('https:')) listed.push({ release: release.tag_name, asset: asset.name, reason: 'its download URL is not https (clients must never be sent from https to http)' });
      else wanted.push({ release, asset, distribution });
    }
  }

  const reader = new AssetReader(deps, format, settings, isPrivate);
  // Assets are read before the publish (it holds the repository's publishes back); the plan is
  // made again from the head the publish lands on, reading only what that head needs besides.
  await plan(service, format, current, wanted, reader, isPrivate);
  return publishPlan(deps, repo, settings, (head) => plan(service, format, head, wanted, reader, isPrivate), { ...listing, ignored, skipped: listed, bytesFetched: () => reader.bytesFetched });
}


/** The change that makes `head` hold what the releases hold, newest release first (the first asset of a package wins). */
async function plan(service: RepositoryService, format: AnyFormat, head: Snapshot, wanted: Wanted[], reader: AssetReader, isPrivate: boolean): Promise<Plan> {
  const { published, holders, pathOwners } = await scan(service, head, format);
  const out: Plan = { add: [], remove: [], added: [], changed: [], removed: [], unchanged: 0, skipped: [] };
  const placementOf = (distribution: string) => reader.placement(distribution, head);
  // A record stays as it is only where it would be placed now (a prerelease made a release, or
  // settings changed, moves it: read again, since a record may carry its place, as a .deb's pool
  // path does), and while the repository's visibility on GitHub is what it was.
  const reusable = (before: Published | undefined, w: Wanted): before is Published =>
    before !== undefined && unchanged(before, w) && before.ref.private === isPrivate && sameList(before.at, format.listOf(before.record, placementOf(w.distribution)));

  // New and changed assets are read; the rest keep their records.
  await forEachConcurrent(wanted, reader.concurrency, async (w) => {
    if (!reusable(published.get(w.asset.id), w)) await reader.read(w, placementOf(w.distribution));
  });

  const kept = new Map<string, Wanted>();
  const add = new Map<string, PackageRecord[]>();
  for (const w of wanted) {
    const before = published.get(w.asset.id);
    const reuse = reusable(before, w);
    const got = reuse ? { record: before.record } : reader.result(w);
    if ('skip' in got) {
      out.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason: got.skip });
      continue;
    }
    const { record } = got;
    const at = format.listOf(record, placementOf(w.distribution));
    const info = format.describe(record);
    const rid = format.id(info.package, info.version, info.architecture);
    const key = listKey(at, rid);
    const skip = (reason: string) => out.skipped.push({ release: w.release.tag_name, asset: w.asset.name, reason });
    const first = kept.get(key);
    if (first) {
      skip(`the same package as ${first.asset.name} in ${first.release.tag_name}`);
      continue;
    }
    const holder = holders.get(key);
    if (holder && !assetRef(holder)) {
      skip(`${info.package} ${info.version} (${info.architecture}) was uploaded to ${at.distribution} by other means`);
      continue;
    }
    // File names may leave out part of a package's identity (Debian's and RPM's leave out the epoch).
    const path = format.poolPath(record, at);
    const owner = pathOwners.get(path);
    if (owner !== undefined && owner !== rid) {
      skip(`its pool file ${path} is another package's (${owner})`);
      continue;
    }
    pathOwners.set(path, rid);
    kept.set(key, w);
    if (reuse) {
      out.unchanged++;
      continue;
    }
    (holder ? out.changed : out.added).push({ package: info.package, version: info.version, architecture: info.architecture, distribution: at.distribution, release: w.release.tag_name, asset: w.asset.name });
    add.set(w.distribution, [...(add.get(w.distribution) ?? []), record]);
  }
  out.add = [...add].map(([distribution, records]) => ({ placement: placementOf(distribution), records }));

  // Published assets no release holds any more (or not in that list) are taken back.
  for (const p of published.values()) {
    const info = format.describe(p.record);
    if (kept.has(listKey(p.at, format.id(info.package, info.version, info.architecture)))) continue;
    out.remove.push({ coordinates: { distribution: p.at.distribution, component: p.at.component }, package: info.package, version: info.version, architecture: info.architecture, ifPresent: true });
    out.removed.push({ package: info.package, version: info.version, architecture: info.architecture, distribution: p.at.distribution, release: p.ref.release, asset: p.ref.name });
  }
  return out;
}

/** Reads assets into records, each once per place (a sync's plan may be made again), and counts the bytes. */
class AssetReader {
  bytesFetched = 0;
  readonly concurrency: number;
  private readonly results = new Map<string, Promise<{ record: PackageRecord } | { skip: string }>>();
  private readonly settled = new Map<string, { record: PackageRecord } | { skip: string }>();
  private readonly placements = new Map<string, unknown>();

  constructor(
    private readonly deps: SyncDeps,
    private readonly format: AnyFormat,
    private readonly settings: GitHubSettings,
    private readonly isPrivate: boolean,
  ) {
    this.concurrency = deps.concurrency ?? 8;
  }

  placement(distribution: string, head: Snapshot): unknown {
    if (!this.placements.has(distribution)) this.placements.set(distribution, this.format.placement({ distribution, component: this.settings.component }, head));
    return this.placements.get(distribution);
  }

  async read(w: Wanted, placement: unknown): Promise<void> {
    const key = `${w.asset.id}\u0000${w.distribution}`;
    let result = this.results.get(key);
    if (!result) {
      result = readAsset(this.deps, this.format, w, placement, this.isPrivate, (n) => (this.bytesFetched += n)).then(
        (record) => ({ record }),
        (err: unknown) => {
          // A package that cannot be read is skipped (and said why); GitHub failing is the sync's failure.
          if (!(err instanceof PackyardError) || err.status >= 500) throw err;
          return { skip: err.message };
        },
      );
      this.results.set(key, result);
    }
    this.settled.set(key, await result);
  }

  /** What `read` made of the asset. */
  result(w: Wanted): { record: PackageRecord } | { skip: string } {
    return this.settled.get(`${w.asset.id}\u0000${w.distribution}`)!;
  }
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
  const { client } = deps;
  const open = async () => client.openAsset(await client.assetUrl(asset, { private: isPrivate }));
  const { body } = await githubRead(async () => {
    try {
      return await open();
    } catch (err) {
      // A signed URL that expired under the cache: asked for again, once.
      if (!(err instanceof GitHubError) || err.status !== 403) throw err;
      client.forgetAssetUrl(asset);
      return open();
    }
  });
  const start = new Uint8Array(Math.min(KEPT_START, asset.size));
  const { sha256, size } = await hashThrough(deps.createHasher, body, (chunk, before) => {
    if (before < start.length) start.set(chunk.subarray(0, start.length - before), before);
  });
  if (size !== asset.size) throw new PackyardError(422, 'asset-size', `${asset.name}: GitHub says ${asset.size} bytes, the download had ${size}`);
  return { sha256, start };
}

/** A GitHub failure reading one asset: a 404 (deleted meanwhile) skips it; anything else stops the sync. */
async function githubRead<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (err instanceof GitHubError && (err.status === 404 || err.status === 410)) throw new PackyardError(422, 'asset-gone', `the asset is gone (${err.status})`);
    throw asPackyardError(err);
  }
}
