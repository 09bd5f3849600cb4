// A Terraform module synced from a GitHub repository's tags: each semver tag (`v1.2.3`,
// `1.3.0-beta.1`) is a version, its archive the tag's tarball, delivered through Packyard with the
// server's GitHub credentials. Like a release sync, everything that changed lands in one snapshot.
import semver from 'semver';
import type { AnyFormat, ListAddress, PackageRecord, RemoteFile } from '../../core/format.js';
import type { Removal } from '../../core/publish.js';
import type { Snapshot, RemoteObject } from '../../core/snapshot.js';
import { listShards } from '../../core/package-lists.js';
import { PackyardError } from '../../util/errors.js';
import { concatBytes } from '../../util/bytes.js';
import { forEachConcurrent } from '../../util/concurrency.js';
import { asPackyardError } from './errors.js';
import type { GitHubTag } from './client.js';
import type { GitHubSettings } from './settings.js';
import { hashThrough } from '../../util/hash.js';
import { publishPlan, type Plan, type SyncDeps, type SyncReport } from './report.js';
import { SOURCE } from './types.js';

/** A tarball larger than this is not a module: each is held whole while it is checked. */
const TARBALL_LIMIT = 64 * 1024 * 1024;

/** What a module version published from a tag keeps of it (RemoteObject.ref). */
export interface TagRef {
  tag: string;
  commit: string;
  private: boolean;
}

export function tagRef(record: Pick<PackageRecord, 'remote'>): TagRef | undefined {
  const ref = record.remote?.source === SOURCE ? record.remote.ref : undefined;
  return ref && typeof ref.tag === 'string' ? (ref as unknown as TagRef) : undefined;
}

/** `name/system` of the module: set, or read from a repository named as Terraform's registry names them, `terraform-<system>-<name>`. */
export function moduleOf(settings: GitHubSettings): { name: string; system: string } {
  const given = settings.module?.split('/');
  if (given?.length === 2) return { name: given[0]!, system: given[1]! };
  const m = /^terraform-([0-9A-Za-z]+)-([0-9A-Za-z][0-9A-Za-z_-]*)$/.exec(settings.repository.split('/')[1]!);
  if (!m) throw new PackyardError(400, 'no-module-name', `${settings.repository} is not named terraform-<system>-<name>: set source.github.module ("name/system")`);
  return { name: m[2]!, system: m[1]! };
}

export async function syncTags(deps: SyncDeps, repo: string, settings: GitHubSettings, format: AnyFormat): Promise<SyncReport> {
  const { service, client } = deps;
  const { name, system } = moduleOf(settings);
  const { private: isPrivate } = await client.getRepository(settings.repository);
  const listing = await client.listTags(settings.repository);
  const skipped: SyncReport['skipped'] = [];
  const versions = new Map<string, GitHubTag>();
  let ignored = 0;
  for (const tag of listing.tags) {
    const version = semver.valid(tag.name.replace(/^v/, ''));
    if (!version || version !== tag.name.replace(/^v/, '')) ignored++;
    else if (versions.has(version)) skipped.push({ release: tag.name, reason: `the same version as tag ${versions.get(version)!.name}` });
    else versions.set(version, tag);
  }

  let bytesFetched = 0;
  const read = new Map<string, PackageRecord>();
  // Tarballs are read before the publish (GitHub makes them on request: slow), the plan made on the head it lands on.
  const plan = async (head: Snapshot): Promise<Plan> => {
    const published = new Map<string, { record: PackageRecord; at: ListAddress; ref: TagRef }>();
    for (const [at, key] of listShards(head.lists)) {
      for (const record of await service.store.meta<PackageRecord[]>(key)) {
        const ref = tagRef(record);
        if (ref) published.set(format.describe(record).version, { record, at, ref });
      }
    }
    const wanted = [...versions].filter(([version, tag]) => published.get(version)?.ref.commit !== tag.commit.sha || published.get(version)?.ref.private !== isPrivate);
    await forEachConcurrent(wanted, 2, async ([version, tag]) => {
      if (read.has(version)) return;
      const placement = format.placement({ kind: 'module', name, system, version }, head);
      try {
        read.set(version, await readTarball(deps, format, tag, placement, isPrivate, (n) => (bytesFetched += n)));
      } catch (err) {
        if (!(err instanceof PackyardError) || err.status >= 500) throw err;
        skipped.push({ release: tag.name, reason: err.message });
        versions.delete(version);
      }
    });
    const remove: Removal[] = [];
    const removed: SyncReport['removed'] = [];
    for (const [version, p] of published) {
      if (versions.has(version)) continue;
      const info = format.describe(p.record);
      remove.push({ coordinates: { distribution: p.at.distribution, component: p.at.component }, package: info.package, version, architecture: info.architecture, ifPresent: true });
      removed.push({ package: info.package, version, architecture: info.architecture, distribution: p.at.distribution, release: p.ref.tag, asset: 'tarball' });
    }
    const added: SyncReport['added'] = [];
    const changed: SyncReport['changed'] = [];
    const add = [];
    for (const [version, tag] of wanted) {
      const record = read.get(version);
      if (!record) continue;
      add.push({ placement: format.placement({ kind: 'module', name, system, version }, head), records: [record] });
      (published.has(version) ? changed : added).push({ package: `${name}/${system}`, version, architecture: 'module', distribution: 'modules', release: tag.name, asset: 'tarball' });
    }
    return { add, remove, removed, added, changed, unchanged: versions.size - add.length, skipped: [] };
  };
  await plan(await service.getRepo(repo));
  return publishPlan(deps, repo, settings, plan, { ...listing, ignored, skipped, bytesFetched: () => bytesFetched });
}

/** A tag's tarball, fetched once (through the API with the credentials, then the URL it redirects to, without them), as a module record. */
async function readTarball(deps: SyncDeps, format: AnyFormat, tag: GitHubTag, placement: unknown, isPrivate: boolean, fetched: (bytes: number) => void): Promise<PackageRecord> {
  const { client } = deps;
  const asset = { id: 0, url: tag.tarball_url, browser_download_url: tag.tarball_url };
  let body: ReadableStream<Uint8Array>;
  try {
    ({ body } = await client.openAsset(await client.assetUrl(asset, { private: isPrivate || undefined })));
  } catch (err) {
    throw asPackyardError(err);
  }
  const chunks: Uint8Array[] = [];
  const { sha256, size } = await hashThrough(deps.createHasher, body, (chunk, before) => {
    if (before + chunk.length > TARBALL_LIMIT) throw new PackyardError(422, 'too-large', `the tarball of ${tag.name} is over ${TARBALL_LIMIT} bytes`);
    chunks.push(chunk);
  });
  fetched(size);
  const bytes = concatBytes(chunks.splice(0), size);
  const remote: RemoteObject = { source: SOURCE, url: tag.tarball_url, ref: { tag: tag.name, commit: tag.commit.sha, private: isPrivate } satisfies TagRef };
  const file: RemoteFile = { size, sha256, remote, read: async (offset, length) => bytes.subarray(offset, offset + length) };
  return format.readRemote({ createHasher: deps.createHasher, gunzip: deps.gunzip, now: deps.now }, file, placement);
}
