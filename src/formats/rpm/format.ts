import { PackyardError } from '../../util/errors.js';
import { layout } from '../../core/layout.js';
import { distributionOf, distributionSettingsSchema } from '../../core/settings.js';
import { distributionsOf, type Snapshot } from '../../core/snapshot.js';
import type { Coordinates, Format } from '../../core/format.js';
import { dropUnder, own } from '../../util/own.js';
import { readRemoteRpm, readRpm } from './ingest.js';
import type { RpmRecord } from './record.js';
import { sortRecords } from './repodata.js';
import { compareEvr, formatEvr, parseEvr } from './version.js';
import { archFolders, LISTS, renderRepodata, resignRepodata } from './render.js';
import { dnfSetup } from './client-setup.js';

/** Where an upload goes in an RPM repository: a distribution (its architecture folders follow from the packages). */
export interface RpmPlacement {
  distribution: string;
}

const REPODATA = /^[^/]+\/[^/]+\/repodata\/(?<hash>[0-9a-f]{64})-[a-z_]+\.xml\.gz$/;
const PACKAGE = /^(?<dist>[^/]+)\/[^/]+\/(?<location>Packages\/[^/]+\/[^/]+\.rpm)$/;
const REPO_FILE = /^(?<dist>[^/]+)\.repo$/;
const TEXT = 'text/plain; charset=utf-8';

const shardOf = (name: string) => name.slice(0, 1).toLowerCase();

/** The stored file of a package: one per distribution, whatever architecture folders list it. */
function poolPath(distribution: string, location: string): string {
  return `pool/${distribution}/${location.slice('Packages/'.length)}`;
}

/** A distribution to publish into; a new one's folder sits beside the `.repo` files and the keys, so it cannot be named like them. */
function rpmDistribution(coordinates: Coordinates, current: Snapshot): string {
  const distribution = distributionOf(coordinates);
  if (/\.(repo|key|gpg)$/.test(distribution) && !distributionsOf(current).includes(distribution)) {
    throw new PackyardError(400, 'invalid-distribution', `invalid distribution name "${distribution}": an RPM distribution's name cannot end in .repo, .key or .gpg`);
  }
  return distribution;
}

/**
 * What a dnf user drops into /etc/yum.repos.d/. dnf checks repomd.xml's signature, and repomd.xml
 * the checksum of every package; packages themselves are as their builders signed them, or not.
 */
function dnfRepoFile(base: string, snapshot: Snapshot, distribution: string): string {
  const lines = [
    `[${snapshot.repo}-${distribution}]`,
    `name=${snapshot.repo} ${distribution}`,
    `baseurl=${base}/${distribution}/$basearch`,
    'enabled=1',
    'repo_gpgcheck=1',
    'gpgcheck=0',
    `gpgkey=${base}/public.key`,
  ];
  if (!snapshot.settings.public) lines.push('# private: a read token (packyard token create --repo ' + snapshot.repo + ' --scope read)', 'username=dnf', 'password=<token>');
  return `${lines.join('\n')}\n`;
}

function contentType(path: string): string {
  if (path.endsWith('.rpm')) return 'application/x-rpm';
  if (path.endsWith('.gz')) return 'application/gzip';
  return TEXT;
}

/** YUM/DNF repositories: `<distribution>/<arch>/repodata/` with a signed repomd.xml, and a `.repo` file per distribution. */
export const rpmFormat: Format<RpmRecord, RpmPlacement> = {
  type: 'rpm',
  title: 'YUM/DNF',
  extensions: ['.rpm'],
  defaultArchitectures: ['x86_64', 'aarch64'],
  distributionSettings: distributionSettingsSchema,
  newDistribution: () => ({}),

  placement: (coordinates, current) => ({ distribution: rpmDistribution(coordinates, current) }),
  reading: (deps) => readRpm(deps),
  readRemote: (deps, file) => readRemoteRpm(deps, file),

  describe: (r) => ({ package: r.name, version: formatEvr(r), architecture: r.arch, filename: r.location, size: r.packageSize, sha256: r.sha256 }),
  id: (name, version, architecture) => `${name}-${version}.${architecture}`,
  listOf: (r, { distribution }) => ({ distribution, component: LISTS, architecture: r.arch, shard: shardOf(r.name) }),
  removalLists: (coordinates, name, architecture) => {
    const distribution = distributionOf(coordinates);
    return { lists: [{ distribution, component: LISTS, architecture, shard: shardOf(name) }], scope: distribution };
  },
  shardOf: (r) => shardOf(r.name),
  // File names leave out the epoch: two epochs of one version would share a file (the core refuses that).
  poolPath: (r, at) => poolPath(at.distribution, r.location),
  sort: (records) => sortRecords(records),
  where: (at) => ({ distribution: at.distribution }),
  placeOf: ({ distribution }) => ({ distribution }),
  compareVersions: (a, b) => compareEvr(parseEvr(a), parseEvr(b)),
  dropDistribution(draft, distribution) {
    dropUnder(draft.files, `${distribution}/`);
    dropUnder(draft.rendered, `${distribution}/`);
  },

  render: renderRepodata,

  resolve(path, snapshot, client) {
    const repodata = REPODATA.exec(path);
    if (repodata) return { kind: 'object', key: layout.byHash(snapshot.repo, 'SHA256', repodata.groups!.hash!), etag: repodata.groups!.hash!, contentType: 'application/gzip' };
    const repoFile = REPO_FILE.exec(path);
    if (repoFile) return distributionsOf(snapshot).includes(repoFile.groups!.dist!) ? { kind: 'text', body: dnfRepoFile(client.base(), snapshot, repoFile.groups!.dist!), contentType: TEXT } : null;
    const pkg = PACKAGE.exec(path);
    if (pkg) return { kind: 'pool', poolPath: poolPath(pkg.groups!.dist!, pkg.groups!.location!), contentType: 'application/x-rpm' };
    const entry = own(snapshot.files, path);
    return entry ? { kind: 'file', entry, contentType: contentType(path) } : null;
  },

  async *clientPaths(snapshot, read, client) {
    // repomd.xml (and its signature) names the other repodata files, whose names carry their hashes.
    for (const [path, entry] of Object.entries(snapshot.files)) yield { path, kind: 'file', entry, contentType: contentType(path), stage: REPODATA.test(path) ? 'content' : /\/repomd\.xml(\.asc)?$/.test(path) ? 'root' : 'index' };
    for (const distribution of distributionsOf(snapshot)) {
      yield { path: `${distribution}.repo`, kind: 'text', body: dnfRepoFile(client.base(), snapshot, distribution), contentType: TEXT, stage: 'index' };
      for (const [arch, shards] of archFolders(snapshot.settings, own(own(snapshot.lists, distribution), LISTS) ?? {})) {
        for (const keys of shards) {
          for (const key of Object.values(keys)) {
            for (const r of await read<RpmRecord>(key)) yield { path: `${distribution}/${arch}/${r.location}`, kind: 'pool', poolPath: poolPath(distribution, r.location), contentType: 'application/x-rpm', stage: 'content' };
          }
        }
      }
    }
  },

  clientSetup: dnfSetup,

  lifecycle: {
    // Files and what renders them sit below `<distribution>/<arch>/`.
    distributionOf: (path) => (path.includes('/') ? path.slice(0, path.indexOf('/')) : undefined),
    resign: resignRepodata,
  },
};
