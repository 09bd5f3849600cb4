import { z } from 'zod';
import type { Format } from '../../core/format.js';
import type { DistributionSettings } from '../../core/snapshot.js';
import { badPackage } from '../../util/errors.js';
import { own } from '../../util/own.js';
import semver from 'semver';
import { terraformPlacement, type TerraformPlacement } from './placement.js';
import { readTerraform } from './reading.js';
import { renderTerraform } from './render.js';
import { mirrorIndex, mirrorVersion, resolveProtocol } from './protocol.js';
import { LISTS, nameOf, platformOf, poolPathOf, type MirrorRecord, type TerraformRecord } from './record.js';
import { terraformSetup } from './client-setup.js';
import { readModuleArchive } from './module-archive.js';

const ZIP = 'application/zip';

/** The files a publish writes: SHA256SUMS, and its binary signature. */
const fileType = (path: string) => (path.endsWith('.sig') ? 'application/octet-stream' : 'text/plain; charset=utf-8');

/**
 * A private Terraform registry: modules, providers, and a provider network mirror. The Terraform
 * namespace is the repository's name. Lists: `modules/<name>/<system>/module`,
 * `providers/<type>/<os>_<arch>`, `mirror/<hostname>/<namespace>/<type>/<os>_<arch>`.
 */
export const terraformFormat: Format<TerraformRecord, TerraformPlacement> = {
  type: 'terraform',
  title: 'Terraform registry',
  extensions: ['.tar.gz', '.tgz', '.zip'],
  defaultArchitectures: ['linux_amd64', 'linux_arm64', 'darwin_amd64', 'darwin_arm64', 'windows_amd64'],
  // No distributions: a Terraform repository has modules and providers, not suites.
  distributionSettings: z.never({ error: 'a Terraform repository has no distributions' }) as unknown as z.ZodType<DistributionSettings>,
  newDistribution: () => ({}),

  placement: (coordinates) => terraformPlacement(coordinates),
  reading: (deps, placement) => readTerraform(deps, placement),
  fromSource: 'tags',
  // A tag's archive (GitHub's tarball of the repository at the tag) as a module version.
  async readRemote(_deps, file, placement) {
    if (placement.kind !== 'module') throw badPackage('not-supported', 'only modules are published from a source (providers are uploaded)');
    return { key: '', remote: file.remote, ...placement, archive: readModuleArchive(await file.read(0, file.size)).kind, size: file.size, sha256: file.sha256 };
  },

  describe: (r) => ({ package: nameOf(r), version: r.version, architecture: platformOf(r), filename: poolPathOf(r), size: r.size, sha256: r.sha256 }),
  id: (name, version, architecture) => `${name} ${version} ${architecture}`,
  listOf: (r) => ({ distribution: LISTS[r.kind], component: nameOf(r), architecture: platformOf(r), shard: '' }),
  removalLists: (coordinates, name, architecture) => {
    const distribution = coordinates.distribution ?? LISTS.module;
    return { lists: [{ distribution, component: name, architecture, shard: '' }], scope: `${distribution}/${name}` };
  },
  shardOf: () => '',
  poolPath: (r) => poolPathOf(r),
  sort: (records) => [...records].sort((a, b) => semver.compare(a.version, b.version)),
  where: (at) => ({ distribution: at.distribution, component: at.component }),

  render: renderTerraform,

  resolve(path, snapshot, client) {
    const file = own(snapshot.files, path);
    if (file) return { kind: 'file', entry: file, contentType: fileType(path) };
    if (/^(modules|providers|mirror)\//.test(path) && /\.(tar\.gz|zip)$/.test(path)) return { kind: 'pool', poolPath: path, contentType: path.endsWith('.zip') ? ZIP : 'application/gzip' };
    return resolveProtocol(path, snapshot, client);
  },

  async *clientPaths(snapshot, read) {
    for (const [path, entry] of Object.entries(snapshot.files)) yield { path, kind: 'file', entry, contentType: fileType(path), stage: 'index' };
    for (const [kind, names] of Object.entries(snapshot.lists)) {
      for (const [name, byPlatform] of Object.entries(names)) {
        const records: TerraformRecord[] = [];
        for (const shards of Object.values(byPlatform)) for (const key of Object.values(shards)) records.push(...(await read<TerraformRecord>(key)));
        for (const r of records) yield { path: poolPathOf(r), kind: 'pool', poolPath: poolPathOf(r), contentType: r.kind === 'module' && r.archive === 'tar.gz' ? 'application/gzip' : ZIP, stage: 'content' };
        // A mirror exported is a static network mirror: its index and version documents, with relative URLs.
        if (kind === LISTS.mirror) {
          const mirrored = records as MirrorRecord[];
          yield { path: `mirror/${name}/index.json`, kind: 'text', body: JSON.stringify(mirrorIndex(mirrored)), contentType: 'application/json', stage: 'index' };
          for (const version of new Set(mirrored.map((r) => r.version))) {
            const body = await mirrorVersion(mirrored.filter((r) => r.version === version), (r) => r.filename);
            yield { path: `mirror/${name}/${version}.json`, kind: 'text', body: JSON.stringify(body), contentType: 'application/json', stage: 'index' };
          }
        }
      }
    }
  },

  clientSetup: terraformSetup,
};
