// Retention (keepVersions), typo protection of distributions and components, and removing a
// distribution: each one atomic publish, for deb and rpm.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MemoryStorage } from '../../src/storage/memory.js';
import { readBytes } from '../../src/storage/types.js';
import { fsck } from '../../src/core/fsck.js';
import { gc } from '../../src/core/gc.js';
import { listShards } from '../../src/core/package-lists.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import type { RepositoryService } from '../../src/core/service.js';
import { packyardError } from '../helpers/errors.js';
import { copyPackages } from '../../src/core/promote.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { fileText, fileUpload, testService } from '../helpers/service.js';

/** Uploaded in this order: the fifth is older than the newest two when it arrives. */
const DEB_VERSIONS = ['1.0-1', '1.10-1', '1.2-1', '2:0.1-1', '1.9-1'];
const RPM_VERSIONS = [
  { version: '1.0', release: '1' },
  { version: '1.10', release: '1' },
  { version: '1.2', release: '1' },
  { version: '0.1', release: '1', epoch: 2 },
  { version: '1.9', release: '1' },
];

let debs: DebFile[];
let otherDeb: DebFile;
let rpms: BuiltRpm[];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-retention-'));
  debs = await Promise.all(DEB_VERSIONS.map((version, i) => buildDeb({ name: 'hello', version, arch: 'amd64' }, join(dir, `deb${i}`))));
  otherDeb = await buildDeb({ name: 'tool', version: '0.1', arch: 'amd64' }, join(dir, 'tool'));
  rpms = await Promise.all(RPM_VERSIONS.map((v, i) => buildRpm({ name: 'hello', ...v }, join(dir, `rpm${i}`))));
}, 120_000);

const upload = async (service: RepositoryService, repo: string, path: string, distribution = 'stable', extra: { component?: string; createDistribution?: boolean } = {}) =>
  service.upload(repo, [await fileUpload(path)], { distribution, component: 'main', actor: 'test', ...extra });

const versions = async (service: RepositoryService, repo: string, distribution = 'stable') =>
  (await service.listPackages(repo, { distribution })).filter((p) => p.package === 'hello').map((p) => p.version).sort();

/** Each listed record's stored blob, by version. */
async function blobs(service: RepositoryService, repo: string): Promise<Map<string, string>> {
  const snapshot = await service.getRepo(repo);
  const format = service.formats.of(snapshot);
  const out = new Map<string, string>();
  for (const [, key] of listShards(snapshot.lists)) for (const r of await service.store.meta<{ key: string }[]>(key)) out.set(format.describe(r).version, r.key);
  return out;
}

/** gc as soon as it may collect: no generations kept, its clock past the grace period. */
const gcNow = (service: RepositoryService, repo: string) => gc(service.store, repo, { retention: { graceMs: 3600_000, generations: 0 }, now: Date.now() + 2 * 3600_000 });
/** fsck of what such a gc keeps: the head alone. */
const fsckHead = (service: RepositoryService, repo: string) => fsck(service.store, createNodeHasher, repo, { verifyContent: true, retention: { graceMs: 0, generations: 0 } });

async function primaryXml(storage: MemoryStorage, service: RepositoryService, repo: string, dir: string): Promise<string> {
  const snapshot = await service.getRepo(repo);
  const path = Object.keys(snapshot.files).find((p) => p.startsWith(`${dir}/repodata/`) && p.endsWith('-primary.xml.gz'));
  expect(path, `${dir} has a primary.xml`).toBeDefined();
  return gunzipSync((await readBytes(storage, snapshot.files[path!]!.key))!).toString();
}

describe('retention', () => {
  it('deb: five versions with keepVersions 2 leave the newest two by Debian order, in Packages; gc then collects the rest, fsck clean', async () => {
    const storage = new MemoryStorage();
    const service = await testService(storage);
    await service.createRepo({ name: 'acme', type: 'deb', retention: { keepVersions: 2 } }, 'test');
    await upload(service, 'acme', otherDeb.path);
    const all = new Map<string, string>();
    for (const deb of debs) {
      await upload(service, 'acme', deb.path);
      for (const [v, key] of await blobs(service, 'acme')) all.set(v, key);
    }
    expect(await versions(service, 'acme')).toEqual(['1.10-1', '2:0.1-1']);
    const head = await service.getRepo('acme');
    const packages = await fileText(storage, head.files['dists/stable/main/binary-amd64/Packages']!);
    expect(packages.match(/^Version: .*$/gm)!.sort()).toEqual(['Version: 0.1', 'Version: 1.10-1', 'Version: 2:0.1-1']);
    // The last upload (1.9-1) was older than the two kept: added and pruned in one publish.
    expect(head.changes).toEqual([
      { action: 'add', distribution: 'stable', component: 'main', package: 'hello', version: '1.9-1', architecture: 'amd64' },
      { action: 'remove', distribution: 'stable', component: 'main', package: 'hello', version: '1.9-1', architecture: 'amd64', reason: 'retention' },
    ]);
    const history = (await service.snapshots('acme')).flatMap((s) => s.changes).filter((c) => c.reason === 'retention').map((c) => c.version).sort();
    expect(history).toEqual(['1.0-1', '1.2-1', '1.9-1']);

    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
    // Superseded snapshots still reference the pruned files until gc collects them.
    for (const v of ['1.0-1', '1.2-1']) expect(await storage.head(all.get(v)!)).not.toBeNull();
    expect((await gcNow(service, 'acme')).deleted.objects).toBeGreaterThan(0);
    for (const v of ['1.0-1', '1.2-1', '1.9-1']) expect(await storage.head(all.get(v)!), v).toBeNull();
    for (const v of ['1.10-1', '2:0.1-1', '0.1']) expect(await storage.head(all.get(v)!), v).not.toBeNull();
    expect((await fsckHead(service, 'acme')).problems).toEqual([]);
  });

  it('rpm: five versions with keepVersions 2 leave the newest two by rpm order, in primary.xml; gc then collects the rest, fsck clean', async () => {
    const storage = new MemoryStorage();
    const service = await testService(storage);
    await service.createRepo({ name: 'yum', type: 'rpm', retention: { keepVersions: 2 } }, 'test');
    const all = new Map<string, string>();
    for (const rpm of rpms) {
      await upload(service, 'yum', rpm.path);
      for (const [v, key] of await blobs(service, 'yum')) all.set(v, key);
    }
    expect(await versions(service, 'yum')).toEqual(['1.10-1', '2:0.1-1']);
    for (const arch of ['x86_64', 'aarch64']) {
      const primary = await primaryXml(storage, service, 'yum', `stable/${arch}`);
      expect([...primary.matchAll(/<version epoch="(\d+)" ver="([^"]+)" rel="([^"]+)"\/>/g)].map((m) => `${m[1]}:${m[2]}-${m[3]}`).sort()).toEqual(['0:1.10-1', '2:0.1-1']);
    }
    expect((await gcNow(service, 'yum')).deleted.objects).toBeGreaterThan(0);
    for (const v of ['1.0-1', '1.2-1', '1.9-1']) expect(await storage.head(all.get(v)!), v).toBeNull();
    for (const v of ['1.10-1', '2:0.1-1']) expect(await storage.head(all.get(v)!), v).not.toBeNull();
    expect((await fsckHead(service, 'yum')).problems).toEqual([]);
  });

  it('a move of a version older than the target keeps is refused and changes nothing (a copy is added and pruned)', async () => {
    const service = await testService();
    await service.createRepo({ name: 'r', type: 'deb', distributions: { testing: {}, stable: { retention: { keepVersions: 2 } } } }, 'test');
    for (const i of [1, 3]) await upload(service, 'r', debs[i]!.path, 'stable'); // 1.10-1, 2:0.1-1
    await upload(service, 'r', debs[2]!.path, 'testing'); // 1.2-1
    const before = await service.getRepo('r');
    const spec = { from: 'testing', to: 'stable', packages: [{ name: 'hello', version: '1.2-1' }] };
    const refused = await packyardError(() => copyPackages(service, 'r', { ...spec, move: true }, 'test'));
    expect([refused.status, refused.code]).toEqual([409, 'pruned-by-retention']);
    expect(refused.message).toMatch(/^hello 1\.2-1 \(amd64\) is older than the 2 newest versions stable keeps/);
    expect((await service.getRepo('r')).id).toBe(before.id);
    expect(await versions(service, 'r', 'testing')).toEqual(['1.2-1']);
    // A copy leaves testing's alone: added to stable and pruned there, as retention says.
    await copyPackages(service, 'r', spec, 'test');
    expect((await service.getRepo('r')).changes.map((c) => `${c.action} ${c.version}${c.reason ? ` ${c.reason}` : ''}`)).toEqual(['add 1.2-1', 'remove 1.2-1 retention']);
    expect(await versions(service, 'r', 'testing')).toEqual(['1.2-1']);
    expect(await versions(service, 'r', 'stable')).toEqual(['1.10-1', '2:0.1-1']);
  });

  it('a distribution’s own keepVersions overrides the repository’s', async () => {
    for (const [type, files] of [['deb', () => debs.map((d) => d.path)], ['rpm', () => rpms.map((r) => r.path)]] as const) {
      const service = await testService();
      await service.createRepo({ name: 'r', type, retention: { keepVersions: 1 }, distributions: { stable: {}, testing: { retention: { keepVersions: 3 } } } }, 'test');
      for (const path of files()) {
        await upload(service, 'r', path, 'stable');
        await upload(service, 'r', path, 'testing');
      }
      expect(await versions(service, 'r', 'stable'), type).toEqual(['2:0.1-1']);
      expect(await versions(service, 'r', 'testing'), type).toEqual(['1.10-1', '1.9-1', '2:0.1-1']);
    }
  });

  it('setting it prunes at once; taking it away keeps everything from then on', async () => {
    for (const [type, files] of [['deb', () => debs.map((d) => d.path)], ['rpm', () => rpms.map((r) => r.path)]] as const) {
      const service = await testService();
      await service.createRepo({ name: 'r', type }, 'test');
      for (const path of files().slice(0, 4)) await upload(service, 'r', path);
      expect(await versions(service, 'r')).toHaveLength(4);
      const set = await service.updateRepo('r', { retention: { keepVersions: 2 } }, 'test');
      expect(set.settings.retention).toEqual({ keepVersions: 2 });
      expect(await versions(service, 'r'), type).toEqual(['1.10-1', '2:0.1-1']);
      expect(set.changes.filter((c) => c.reason === 'retention').map((c) => c.version).sort()).toEqual(['1.0-1', '1.2-1']);
      expect(set.changes.at(-1)).toEqual({ action: 'settings' });
      // Raising it prunes nothing; neither does a settings change that leaves it.
      const raised = await service.updateRepo('r', { retention: { keepVersions: 3 } }, 'test');
      expect(raised.changes).toEqual([{ action: 'settings' }]);
      const off = await service.updateRepo('r', { retention: null }, 'test');
      expect(off.settings.retention).toBeUndefined();
      await upload(service, 'r', files()[4]!);
      await upload(service, 'r', files()[0]!);
      expect(await versions(service, 'r'), type).toEqual(['1.0-1', '1.10-1', '1.9-1', '2:0.1-1']);
    }
  });

  it('is refused for Terraform repositories, and checked like every setting', async () => {
    const service = await testService();
    const terraform = await packyardError(() => service.createRepo({ name: 'tf', type: 'terraform', retention: { keepVersions: 2 } }, 'test'));
    expect([terraform.status, terraform.message]).toEqual([400, 'retention applies to repositories with package versions (deb, rpm), not to terraform repositories']);
    await service.createRepo({ name: 'acme', type: 'deb' }, 'test');
    for (const bad of [0, -1, 1.5, '2']) {
      const err = await packyardError(() => service.updateRepo('acme', { retention: { keepVersions: bad } }, 'test'));
      expect(err.status).toBe(400);
      expect(err.message).toMatch(/^retention\.keepVersions: /);
    }
    expect((await packyardError(() => service.updateRepo('acme', { retention: { keepVersions: 2, keep: 2 } }, 'test'))).message).toMatch(/^retention: /);
  });
});

describe('typo protection', () => {
  it('refuses an upload into a distribution or component the repository does not have, storing nothing', async () => {
    for (const [type, path] of [['deb', () => debs[0]!.path], ['rpm', () => rpms[0]!.path]] as const) {
      const storage = new MemoryStorage();
      const service = await testService(storage);
      await service.createRepo({ name: 'r', type, distributions: { stable: {}, testing: {} } }, 'test');
      await upload(service, 'r', path());
      const before = await service.getRepo('r');
      const keys = async () => {
        const out: string[] = [];
        for await (const o of storage.list('')) out.push(o.key);
        return out.sort();
      };
      const stored = await keys();
      const typo = await packyardError(() => upload(service, 'r', path(), 'stabel'));
      expect([typo.status, typo.code]).toEqual([404, 'distribution-not-found']);
      expect(typo.message).toBe('repository r has no distribution "stabel" (its distributions: stable, testing): did you mean stable? To create it, ask for it (createDistribution=true, --create-distribution)');
      expect((await service.getRepo('r')).id).toBe(before.id);
      expect(await keys()).toEqual(stored);

      const created = await upload(service, 'r', path(), 'unstable', { createDistribution: true });
      expect(created.changed).toBe(true);
      expect(await versions(service, 'r', 'unstable')).toEqual(['1.0-1']);
    }
  });

  it('deb: refuses a component the distribution does not have', async () => {
    const service = await testService();
    await service.createRepo({ name: 'r', type: 'deb', distributions: { stable: { components: ['main', 'contrib'] } } }, 'test');
    const typo = await packyardError(() => upload(service, 'r', debs[0]!.path, 'stable', { component: 'mian' }));
    expect([typo.status, typo.code]).toEqual([404, 'component-not-found']);
    expect(typo.message).toMatch(/^distribution stable of r has no component "mian" \(its components: contrib, main\): did you mean main\?/);
    await upload(service, 'r', debs[0]!.path, 'stable', { component: 'non-free', createDistribution: true });
    expect((await service.listPackages('r')).map((p) => p.component)).toEqual(['non-free']);
  });

  it('a repository with no distribution takes its first from the first upload, then checks the next', async () => {
    const service = await testService();
    await service.createRepo({ name: 'r', type: 'deb' }, 'test');
    await upload(service, 'r', debs[0]!.path, 'bookworm');
    expect((await packyardError(() => upload(service, 'r', debs[1]!.path, 'bookwrom'))).message).toMatch(/did you mean bookworm\?/);
    await upload(service, 'r', debs[1]!.path, 'bookworm');
    expect(await versions(service, 'r', 'bookworm')).toEqual(['1.0-1', '1.10-1']);
  });
});

describe('removing a distribution', () => {
  it('takes its lists, files and settings out in one publish; files it shared stay; fsck clean', async () => {
    for (const [type, files] of [['deb', () => debs.map((d) => d.path)], ['rpm', () => rpms.map((r) => r.path)]] as const) {
      const storage = new MemoryStorage();
      const service = await testService(storage);
      await service.createRepo({ name: 'r', type, distributions: { stable: {}, testing: { description: 'testing' } } }, 'test');
      await upload(service, 'r', files()[0]!, 'stable');
      await upload(service, 'r', files()[0]!, 'testing');
      await upload(service, 'r', files()[1]!, 'testing');
      const removed = await service.removeDistribution('r', 'testing', 'test');
      expect(removed.changes.map((c) => [c.action, c.distribution, c.version, c.reason]).sort()).toEqual([
        ['remove', 'testing', '1.0-1', 'distribution'],
        ['remove', 'testing', '1.10-1', 'distribution'],
        ['settings', undefined, undefined, undefined],
      ]);
      expect(Object.keys(removed.settings.distributions)).toEqual(['stable']);
      expect(Object.keys(removed.lists)).toEqual(['stable']);
      const prefix = type === 'deb' ? 'dists/testing/' : 'testing/';
      expect(Object.keys(removed.files).filter((p) => p.startsWith(prefix))).toEqual([]);
      expect(Object.keys(removed.rendered).filter((p) => p.startsWith(prefix) || p === 'dists/testing')).toEqual([]);
      expect(Object.keys(removed.files).some((p) => p.startsWith(type === 'deb' ? 'dists/stable/' : 'stable/'))).toBe(true);
      expect(await versions(service, 'r', 'stable')).toEqual(['1.0-1']);
      expect((await fsck(service.store, createNodeHasher, 'r', { verifyContent: true })).problems).toEqual([]);
      await gcNow(service, 'r');
      expect((await fsckHead(service, 'r')).problems).toEqual([]);

      const absent = await packyardError(() => service.removeDistribution('r', 'testing', 'test'));
      expect([absent.status, absent.message]).toEqual([404, 'repository r has no distribution "testing"']);
      // Gone, it is a typo again.
      expect((await packyardError(() => upload(service, 'r', files()[0]!, 'testing'))).status).toBe(404);
    }
  });
});
