import { describe, expect, it, beforeAll } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { MemoryStorage } from '../../src/storage/memory.js';
import { PackyardError } from '../../src/util/errors.js';
import { fsck } from '../../src/core/fsck.js';
import { gc } from '../../src/core/gc.js';
import { RepoStore } from '../../src/core/store.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { bytesUpload, fileText, fileUpload, testService } from '../helpers/service.js';

let dir: string;
let hello: DebFile;
let helloOther: DebFile;
let lib: DebFile;
let tool: DebFile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'packyard-service-'));
  hello = await buildDeb({ name: 'hello', version: '1.0-1', arch: 'amd64', description: 'says hello\nA longer\n\ndescription.' }, join(dir, 'a'));
  helloOther = await buildDeb({ name: 'hello', version: '1.0-1', arch: 'amd64', description: 'different content' }, join(dir, 'b'));
  lib = await buildDeb({ name: 'libfoo1', version: '2:3.1-2', arch: 'all', fields: { Source: 'foo (3.1-2)' } }, join(dir, 'a'));
  tool = await buildDeb({ name: 'tool', version: '0.1', arch: 'arm64', depends: 'libfoo1' }, join(dir, 'a'));
});

async function publishedText(storage: MemoryStorage, service: Awaited<ReturnType<typeof testService>>, repo: string, path: string): Promise<string> {
  const snapshot = await service.getRepo(repo);
  const entry = snapshot.files[path];
  if (!entry) throw new Error(`${path} not published`);
  return fileText(storage, entry);
}

describe('RepositoryService', () => {
  it('publishes a batch: Packages per architecture, all-arch packages in each, Release listing every index', async () => {
    const storage = new MemoryStorage();
    const service = await testService(storage);
    await service.createRepo({ name: 'acme', type: 'deb' }, 'test');
    const result = await service.upload('acme', [await fileUpload(hello.path), await fileUpload(lib.path), await fileUpload(tool.path)], { distribution: 'stable', component: 'main', actor: 'test' });
    expect(result.changed).toBe(true);
    expect(result.packages.map((p) => p.package).sort()).toEqual(['hello', 'libfoo1', 'tool']);

    const amd64 = await publishedText(storage, service, 'acme', 'dists/stable/main/binary-amd64/Packages');
    const arm64 = await publishedText(storage, service, 'acme', 'dists/stable/main/binary-arm64/Packages');
    expect(amd64).toContain('Package: hello\n');
    expect(amd64).toContain('Package: libfoo1\n');
    expect(amd64).not.toContain('Package: tool\n');
    expect(arm64).toContain('Package: tool\n');
    expect(arm64).toContain('Package: libfoo1\n');
    expect(amd64).toContain('Filename: pool/main/f/foo/libfoo1_3.1-2_all.deb\n');
    const helloBytes = await readFile(hello.path);
    expect(amd64).toContain(`SHA256: ${createHash('sha256').update(helloBytes).digest('hex')}\n`);
    expect(amd64).toContain(`Size: ${helloBytes.length}\n`);

    const release = await publishedText(storage, service, 'acme', 'dists/stable/Release');
    expect(release).toMatch(/^Origin: acme\nLabel: acme\nSuite: stable\nCodename: stable\nDate: \w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT\n/);
    expect(release).toContain('Architectures: amd64 arm64\n');
    expect(release).toContain('Components: main\n');
    expect(release).toContain('Acquire-By-Hash: yes\n');
    const packagesBytes = new TextEncoder().encode(amd64);
    const sha512 = createHash('sha512').update(packagesBytes).digest('hex');
    for (const field of ['MD5Sum:', 'SHA1:', 'SHA256:', 'SHA512:']) expect(release).toContain(`\n${field}\n`);
    expect(release).toMatch(new RegExp(`${sha512} +${packagesBytes.length} main/binary-amd64/Packages\\n`));
    expect(release).toMatch(/main\/binary-amd64\/Packages\.gz\n/);
    const inRelease = await publishedText(storage, service, 'acme', 'dists/stable/InRelease');
    expect(inRelease).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----\n/);
  });

  it('ignores an identical re-upload, refuses different content under the same name unless replacing', async () => {
    const service = await testService();
    await service.createRepo({ name: 'acme' }, 'test');
    const opts = { distribution: 'stable', component: 'main', actor: 'test' };
    const first = await service.upload('acme', [await fileUpload(hello.path)], opts);
    const again = await service.upload('acme', [await fileUpload(hello.path)], opts);
    expect(again.changed).toBe(false);
    expect(again.snapshot.id).toBe(first.snapshot.id);
    const conflict = await service.upload('acme', [await fileUpload(helloOther.path)], opts).catch((e) => e);
    expect(conflict).toBeInstanceOf(PackyardError);
    expect(conflict.status).toBe(409);
    const replaced = await service.upload('acme', [await fileUpload(helloOther.path)], { ...opts, replace: true });
    expect(replaced.changed).toBe(true);
    const listed = await service.listPackages('acme');
    expect(listed).toHaveLength(1);
    expect(listed[0]!.sha256).toBe(helloOther.sha256);
  });

  it('publishes nothing from a batch with one bad file, and stores none of it', async () => {
    const storage = new MemoryStorage();
    const service = await testService(storage);
    await service.createRepo({ name: 'acme' }, 'test');
    const before = await service.getRepo('acme');
    const keysBefore = await keys(storage);
    const err = await service
      .upload('acme', [await fileUpload(hello.path), bytesUpload('bad.deb', new TextEncoder().encode('not a deb at all'))], { distribution: 'stable', component: 'main', actor: 'test' })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PackyardError);
    expect(err.status).toBe(422);
    expect(err.message).toMatch(/^bad\.deb: /);
    expect((await service.getRepo('acme')).id).toBe(before.id);
    expect(await keys(storage)).toEqual(keysBefore);
  });

  it('lands every one of ten concurrent batches from separate publishers sharing one storage', async () => {
    const storage = new MemoryStorage();
    const publishers = await Promise.all(Array.from({ length: 10 }, () => testService(storage)));
    await publishers[0]!.createRepo({ name: 'acme' }, 'test');
    const debs = await Promise.all(Array.from({ length: 10 }, (_, i) => buildDeb({ name: `pkg${i}`, version: '1.0', arch: 'amd64' }, join(dir, 'concurrent'))));
    await Promise.all(debs.map(async (d, i) => publishers[i]!.upload('acme', [await fileUpload(d.path)], { distribution: 'stable', component: 'main', actor: `p${i}` })));
    const listed = await publishers[0]!.listPackages('acme');
    expect(listed.map((p) => p.package).sort()).toEqual(debs.map((d) => d.name).sort());
    const packages = await publishedText(storage, publishers[0]!, 'acme', 'dists/stable/main/binary-amd64/Packages');
    for (const d of debs) expect(packages).toContain(`Package: ${d.name}\n`);
    expect((await publishers[0]!.snapshots('acme')).length).toBe(11);
  });

  it('rewrites only the package-list shard a new package falls in', async () => {
    const service = await testService();
    await service.createRepo({ name: 'acme' }, 'test');
    const opts = { distribution: 'stable', component: 'main', actor: 'test' };
    await service.upload('acme', [await fileUpload(hello.path), await fileUpload(lib.path)], opts);
    const shards = async () => (await service.getRepo('acme')).lists.stable!.main!;
    const before = await shards();
    expect(Object.keys(before.amd64!)).toEqual(['h']);
    expect(Object.keys(before.all!)).toEqual(['libf']);
    const other = await buildDeb({ name: 'hzz', version: '1', arch: 'amd64' }, join(dir, 'shards'));
    await service.upload('acme', [await fileUpload(other.path)], opts);
    const after = await shards();
    expect(after.all).toEqual(before.all);
    expect(after.amd64!.h).not.toBe(before.amd64!.h);
    const packages = await service.listPackages('acme');
    expect(packages.map((p) => p.package).sort()).toEqual(['hello', 'hzz', 'libfoo1']);
  });

  it('re-signs only the distributions a publish changes', async () => {
    const service = await testService();
    await service.createRepo({ name: 'acme' }, 'test');
    await service.upload('acme', [await fileUpload(hello.path)], { distribution: 'stable', component: 'main', actor: 'test' });
    await service.upload('acme', [await fileUpload(tool.path)], { distribution: 'testing', component: 'main', actor: 'test', createDistribution: true });
    const before = (await service.getRepo('acme')).files;
    await service.upload('acme', [await fileUpload(helloOther.path)], { distribution: 'stable', component: 'main', actor: 'test', replace: true });
    const after = (await service.getRepo('acme')).files;
    expect(after['dists/testing/InRelease']).toEqual(before['dists/testing/InRelease']);
    expect(after['dists/stable/InRelease']).not.toEqual(before['dists/stable/InRelease']);
  });

  it('keeps a pool file while any distribution lists it', async () => {
    const service = await testService();
    await service.createRepo({ name: 'acme' }, 'test');
    for (const distribution of ['stable', 'testing']) await service.upload('acme', [await fileUpload(hello.path)], { distribution, component: 'main', actor: 'test', createDistribution: true });
    const poolOf = async (): Promise<Record<string, { refs: number }>> => {
      const key = (await service.getRepo('acme')).pool['main/h'];
      return key ? service.store.meta<Record<string, { refs: number }>>(key) : {};
    };
    const path = 'pool/main/h/hello/hello_1.0-1_amd64.deb';
    expect((await poolOf())[path]?.refs).toBe(2);
    const before = await poolOf();
    await service.remove('acme', { distribution: 'stable', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test');
    expect((await poolOf())[path]?.refs).toBe(1);
    // The previous snapshot's pool map is untouched (it is shared with caches and other readers).
    expect(before[path]?.refs).toBe(2);
    await service.remove('acme', { distribution: 'testing', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test');
    expect((await poolOf())[path]).toBeUndefined();
  });

  it('removes a package, keeps superseded indexes by hash, and fsck/gc agree on garbage', async () => {
    const storage = new MemoryStorage();
    let clock = Date.parse('2026-01-01T00:00:00Z');
    const service = await testService(storage, () => new Date(clock));
    await service.createRepo({ name: 'acme' }, 'test');
    const opts = { distribution: 'stable', component: 'main', actor: 'test' };
    await service.upload('acme', [await fileUpload(hello.path), await fileUpload(tool.path)], opts);
    const oldPackages = (await service.getRepo('acme')).files['dists/stable/main/binary-amd64/Packages']!;
    await service.remove('acme', { distribution: 'stable', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test');
    expect((await service.listPackages('acme')).map((p) => p.package)).toEqual(['tool']);
    expect(await storage.head(oldPackages.key)).not.toBeNull();
    const missing = await service.remove('acme', { distribution: 'stable', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test').catch((e) => e);
    expect(missing.status).toBe(404);

    const report = await fsck(service.store, createNodeHasher, 'acme');
    expect(report.problems).toEqual([]);
    // Within the grace period and three generations nothing is collected...
    expect((await gc(service.store, 'acme')).deleted.objects).toBe(0);
    // ...after it, the removed package and superseded indexes go; the head stays intact.
    clock += 3 * 86400_000;
    for (let i = 0; i < 4; i++) await service.updateRepo('acme', { distributions: { stable: { description: `v${i}` } } }, 'test');
    const collected = await gc(service.store, 'acme', { now: Date.now() + 3 * 86400_000 });
    expect(collected.deleted.objects).toBeGreaterThan(0);
    expect(await storage.head(oldPackages.key)).toBeNull();
    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
  });
});

describe('fsck after a gc with a tighter retention', () => {
  it('finishes with a report, and is clean given the same --grace and --generations', async () => {
    const storage = new MemoryStorage();
    const service = await testService(storage);
    await service.createRepo({ name: 'acme' }, 'test');
    const opts = { distribution: 'stable', component: 'main', actor: 'test' };
    await service.upload('acme', [await fileUpload(hello.path)], opts);
    await service.upload('acme', [await fileUpload(tool.path)], opts);
    await service.remove('acme', { distribution: 'stable', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test');
    const tight = { graceMs: 3600_000, generations: 0 };
    expect((await gc(service.store, 'acme', { retention: tight, now: Date.now() + 2 * 3600_000 })).deleted.objects).toBeGreaterThan(0);
    // The default retention looks at snapshots whose pool maps that gc collected: reported, not a
    // crash. (A store of its own, as the fsck command has: nothing cached.)
    const loose = await fsck(new RepoStore(storage), createNodeHasher, 'acme');
    expect(loose.problems.length).toBeGreaterThan(0);
    expect(loose.problems.every((p) => p.problem === 'missing')).toBe(true);
    expect(loose.problems.some((p) => /pool map/.test(p.detail ?? ''))).toBe(true);
    // What that gc kept is intact.
    expect((await fsck(new RepoStore(storage), createNodeHasher, 'acme', { retention: { ...tight, graceMs: 0 } })).problems).toEqual([]);
  });
});

async function keys(storage: MemoryStorage): Promise<string[]> {
  const out: string[] = [];
  for await (const info of storage.list('')) out.push(info.key);
  return out.sort();
}
