import { PackyardError } from '../../util/errors.js';
import { layout } from '../../core/layout.js';
import { COMPONENT_NAME, distributionOf, distributionSettingsSchema } from '../../core/settings.js';
import type { Format, ListAddress } from '../../core/format.js';
import type { Snapshot } from '../../core/snapshot.js';
import { dropUnder, own } from '../../util/own.js';
import { listShards } from '../../core/package-lists.js';
import { readDeb, readRemoteDeb } from './ingest.js';
import { recordId, type DebRecord } from './record.js';
import { shardOf } from './package-lists.js';
import { sortRecords } from './packages-index.js';
import { renderDistributions, resignDistribution } from './render.js';
import { aptSetup } from './client-setup.js';
import { compareVersions } from './version.js';

/** Where an upload goes in an APT repository. */
export interface DebPlacement {
  distribution: string;
  component: string;
}

const BY_HASH = /^dists\/.+\/by-hash\/(SHA256|SHA512)\/([0-9a-f]{64}|[0-9a-f]{128})$/;
/** The per-directory files whose by-hash copies an exported tree carries (what `Release` lists). */
const HASHED = /\/Packages(\.gz)?$/;
/** What apt fetches by name before anything else; the rest it fetches by the hashes these list. */
const ROOT = /^dists\/.+\/(InRelease|Release|Release\.gpg)$/;

function contentType(path: string): string {
  if (path.endsWith('.deb')) return 'application/vnd.debian.binary-package';
  if (path.endsWith('.gz')) return 'application/gzip';
  if (path.endsWith('.gpg')) return 'application/pgp-signature';
  return 'text/plain; charset=utf-8';
}

function checkComponent(component: string): string {
  if (!COMPONENT_NAME.test(component)) throw new PackyardError(400, 'invalid-component', `invalid component name "${component}"`);
  return component;
}

/** APT repositories: `dists/<distribution>/…` indexes signed by `InRelease`, packages in Debian's pool. */
export const debFormat: Format<DebRecord, DebPlacement> = {
  type: 'deb',
  title: 'APT',
  extensions: ['.deb'],
  defaultArchitectures: ['amd64', 'arm64'],
  distributionSettings: distributionSettingsSchema,
  newDistribution: () => ({ components: ['main'] }),

  placement: (coordinates) => ({ distribution: distributionOf(coordinates), component: checkComponent(coordinates.component ?? 'main') }),
  reading: (deps, { component }) => readDeb(deps, component),
  readRemote: (deps, file, { component }) => readRemoteDeb(deps, file, component),

  describe: (r) => ({ package: r.package, version: r.version, architecture: r.architecture, filename: r.filename, size: r.size, sha256: r.sha256 }),
  id: (name, version, architecture) => recordId({ package: name, version, architecture }),
  listOf: (r, { distribution, component }) => ({ distribution, component, architecture: r.architecture, shard: shardOf(r.package) }),
  removalLists(coordinates, name, architecture, current) {
    const distribution = distributionOf(coordinates);
    const components = coordinates.component ? [checkComponent(coordinates.component)] : Object.keys(own(current.lists, distribution) ?? {});
    return { lists: components.map((component) => ({ distribution, component, architecture, shard: shardOf(name) })), scope: distribution };
  },
  shardOf: (r) => shardOf(r.package),
  // One pool file for every distribution that lists the package.
  poolPath: (r) => r.filename,
  sort: sortRecords,
  where: (at: ListAddress) => ({ distribution: at.distribution, component: at.component }),
  placeOf: ({ distribution, component }) => ({ distribution, component }),
  compareVersions,
  dropDistribution(draft, distribution) {
    dropUnder(draft.files, `dists/${distribution}/`);
    dropUnder(draft.rendered, `dists/${distribution}/`);
    delete draft.rendered[`dists/${distribution}`];
  },

  render: renderDistributions,

  resolve(path, snapshot) {
    const byHash = BY_HASH.exec(path);
    if (byHash) {
      const [, algorithm, hex] = byHash as unknown as [string, 'SHA256' | 'SHA512', string];
      // `Packages` is kept only as its `.gz`, so it has no object of its own under its hash: the
      // head's is found by its entry. apt fetches the compressed index, so an older one's need not be.
      const packages = own(snapshot.files, `${path.slice(0, path.indexOf('/by-hash/'))}/Packages`);
      if (packages?.encoding && packages[algorithm === 'SHA256' ? 'sha256' : 'sha512'] === hex) return { kind: 'file', entry: packages, contentType: 'application/octet-stream' };
      // The hash is the validator; the object is served whether or not the head still lists it,
      // which is what keeps clients holding an older InRelease working.
      return { kind: 'object', key: layout.byHash(snapshot.repo, algorithm, hex), etag: hex, contentType: 'application/octet-stream' };
    }
    const entry = own(snapshot.files, path);
    if (entry) return { kind: 'file', entry, contentType: contentType(path) };
    return path.startsWith('pool/') ? { kind: 'pool', poolPath: path, contentType: contentType(path) } : null;
  },

  async *clientPaths(snapshot: Snapshot, read) {
    for (const [path, entry] of Object.entries(snapshot.files)) {
      yield { path, kind: 'file', entry, contentType: contentType(path), stage: ROOT.test(path) ? 'root' : 'index' };
      if (!HASHED.test(path)) continue;
      const dir = path.slice(0, path.lastIndexOf('/'));
      yield { path: `${dir}/by-hash/SHA256/${entry.sha256}`, kind: 'file', entry, contentType: 'application/octet-stream', stage: 'content' };
      if (entry.sha512) yield { path: `${dir}/by-hash/SHA512/${entry.sha512}`, kind: 'file', entry, contentType: 'application/octet-stream', stage: 'content' };
    }
    for (const [, key] of listShards(snapshot.lists)) for (const r of await read<DebRecord>(key)) yield { path: r.filename, kind: 'pool', poolPath: r.filename, contentType: contentType(r.filename), stage: 'content' };
  },

  clientSetup: aptSetup,

  lifecycle: {
    distributionOf: (path) => /^dists\/([^/]+)(?:\/|$)/.exec(path)?.[1],
    resign: resignDistribution,
  },
};
