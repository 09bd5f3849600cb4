// Copy, rollback and diff in the repository service, where the pool and the lists meet: a pool
// file replaced since the snapshot rolled back to, versions that change, content that changes.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/memory.js';
import { readBytes } from '../../src/storage/types.js';
import { fsck } from '../../src/core/fsck.js';
import { copyPackages } from '../../src/core/promote.js';
import { rollback } from '../../src/core/rollback.js';
import { diffSnapshots } from '../../src/core/diff.js';
import { poolEntry } from '../../src/core/pool-set.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { packyardError } from '../helpers/errors.js';
import { fileUpload, testService } from '../helpers/service.js';

let hello: DebFile;
let helloRebuilt: DebFile;
let hello2: DebFile;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-lifecycle-'));
  [hello, helloRebuilt, hello2] = await Promise.all([
    buildDeb({ name: 'hello', version: '1.0-1', arch: 'amd64' }, join(dir, 'a')),
    buildDeb({ name: 'hello', version: '1.0-1', arch: 'amd64', description: 'rebuilt: other bytes' }, join(dir, 'b')),
    buildDeb({ name: 'hello', version: '1.1-1', arch: 'amd64' }, join(dir, 'a')),
  ]);
});

async function setup() {
  const storage = new MemoryStorage();
  const service = await testService(storage);
  await service.createRepo({ name: 'acme', type: 'deb', distributions: { testing: { components: ['main'] }, stable: { components: ['main'] } } }, 'test');
  const upload = async (deb: DebFile, distribution = 'testing', replace = false) => (await service.upload('acme', [await fileUpload(deb.path)], { distribution, replace, actor: 'test' })).snapshot;
  const clean = async () => expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
  const pooled = async () => {
    const head = await service.getRepo('acme');
    const entry = await poolEntry(service.store, head, 'pool/main/h/hello/hello_1.0-1_amd64.deb');
    return { entry, bytes: entry?.key ? await readBytes(storage, entry.key) : null };
  };
  return { storage, service, upload, clean, pooled };
}

describe('rollback and the pool', () => {
  it('refuses one distribution whose pool file was replaced and is listed elsewhere; all of them roll back together', async () => {
    const t = await setup();
    await t.upload(hello);
    await copyPackages(t.service, 'acme', { from: 'testing', to: 'stable', packages: [{ name: 'hello', version: '1.0-1' }] }, 'test');
    const before = await t.service.getRepo('acme');
    expect((await t.pooled()).entry?.refs).toBe(2);
    // Replacing the file changes it in every list that lists it.
    await t.upload(helloRebuilt, 'testing', true);
    expect(Buffer.from((await t.pooled()).bytes!).equals(await readFile(helloRebuilt.path))).toBe(true);
    const head = (await t.service.getRepo('acme')).id;

    const refused = await packyardError(() => rollback(t.service, 'acme', { snapshot: before.id, distribution: 'stable' }, 'test'));
    expect(refused).toMatchObject({ status: 409, code: 'pool-conflict' });
    expect((await t.service.getRepo('acme')).id).toBe(head);

    await rollback(t.service, 'acme', { snapshot: before.id }, 'test');
    const { entry, bytes } = await t.pooled();
    expect(entry?.refs).toBe(2);
    expect(Buffer.from(bytes!).equals(await readFile(hello.path))).toBe(true);
    expect((await t.service.getRepo('acme')).lists).toEqual(before.lists);
    await t.clean();
  });

  it('moves pool references by what differs: a rolled-back distribution drops its files, the rest keep theirs', async () => {
    const t = await setup();
    const empty = await t.service.getRepo('acme');
    await t.upload(hello);
    await copyPackages(t.service, 'acme', { from: 'testing', to: 'stable', packages: [{ name: 'hello', version: '1.0-1' }] }, 'test');
    await rollback(t.service, 'acme', { snapshot: empty.id, distribution: 'stable' }, 'test');
    expect((await t.pooled()).entry?.refs).toBe(1);
    await rollback(t.service, 'acme', { snapshot: empty.id }, 'test');
    expect((await t.pooled()).entry).toBeUndefined();
    await t.clean();
    expect(await t.service.listPackages('acme')).toEqual([]);
  });
});

describe('diff', () => {
  it('tells a new version and new content of the same version from additions and removals', async () => {
    const t = await setup();
    const first = await t.upload(hello);
    const rebuilt = await t.upload(helloRebuilt, 'testing', true);
    await t.service.remove('acme', { distribution: 'testing', package: 'hello', version: '1.0-1', architecture: 'amd64' }, 'test');
    const bumped = await t.upload(hello2);
    const format = t.service.formats.of(first);
    const sha = async (deb: DebFile) => (await import('node:crypto')).createHash('sha256').update(await readFile(deb.path)).digest('hex');

    expect(await diffSnapshots(t.service.store, format, first, rebuilt)).toEqual([
      { distribution: 'testing', component: 'main', architecture: 'amd64', added: [], removed: [], changed: [{ package: 'hello', architecture: 'amd64', from: { version: '1.0-1', sha256: await sha(hello) }, to: { version: '1.0-1', sha256: await sha(helloRebuilt) } }] },
    ]);
    expect((await diffSnapshots(t.service.store, format, rebuilt, bumped))[0]!.changed).toEqual([{ package: 'hello', architecture: 'amd64', from: { version: '1.0-1', sha256: await sha(helloRebuilt) }, to: { version: '1.1-1', sha256: await sha(hello2) } }]);
    // Both versions at once against one: an addition, nothing paired.
    const both = await t.upload(hello, 'testing');
    expect(await diffSnapshots(t.service.store, format, bumped, both)).toEqual([{ distribution: 'testing', component: 'main', architecture: 'amd64', added: [{ package: 'hello', version: '1.0-1', architecture: 'amd64' }], removed: [], changed: [] }]);
    expect(await diffSnapshots(t.service.store, format, both, both)).toEqual([]);
  });
});
