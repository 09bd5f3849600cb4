// RPM repositories in the repository service: where packages and repodata land per
// distribution and architecture, identity and replacement, removal, and refused uploads.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { MemoryStorage } from '../../src/storage/memory.js';
import { readBytes, readText } from '../../src/storage/types.js';
import { packyardError } from '../helpers/errors.js';
import { buildRpm, malformedRpms, type BuiltRpm } from '../helpers/rpms.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { bytesUpload, fileUpload, testService } from '../helpers/service.js';

let noarch: BuiltRpm;
let x86: BuiltRpm;
let x86Rebuilt: BuiltRpm;
let deb: DebFile;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-rpm-service-'));
  [noarch, x86, x86Rebuilt] = await Promise.all([
    buildRpm({ name: 'common', version: '1.0', release: '1' }, join(dir, 'a')),
    buildRpm({ name: 'tool', version: '2.0', release: '1', arch: 'x86_64', requires: ['common'] }, join(dir, 'a')),
    buildRpm({ name: 'tool', version: '2.0', release: '1', arch: 'x86_64', summary: 'rebuilt, other bytes' }, join(dir, 'b')),
  ]);
  deb = await buildDeb({ name: 'hello', version: '1.0', arch: 'amd64' }, join(dir, 'deb'));
}, 120_000);

async function setup() {
  const storage = new MemoryStorage();
  const service = await testService(storage);
  await service.createRepo({ name: 'yum', type: 'rpm', distributions: { el9: {} } }, 'test');
  /** The published primary.xml of an architecture of el9 (failing the test when there is none). */
  const primary = async (arch: string) => {
    const snapshot = await service.getRepo('yum');
    const path = Object.keys(snapshot.files).find((p) => p.startsWith(`el9/${arch}/repodata/`) && p.endsWith('-primary.xml.gz'));
    expect(path, `el9/${arch} has a primary.xml`).toBeDefined();
    return gunzipSync((await readBytes(storage, snapshot.files[path!]!.key))!).toString();
  };
  /** The stored package files' keys. */
  const blobKeys = async () => {
    const keys: string[] = [];
    for await (const obj of storage.list('repos/yum/blobs/')) keys.push(obj.key);
    return keys;
  };
  return { storage, service, primary, blobKeys };
}

const names = (xml: string) => [...xml.matchAll(/<name>([^<]+)<\/name>/g)].map((m) => m[1]).sort();

describe('RPM repositories', () => {
  it('publishes signed, empty repodata for each architecture of a declared distribution', async () => {
    const { service, storage, primary } = await setup();
    const snapshot = await service.getRepo('yum');
    expect(snapshot.settings.architectures).toEqual(['x86_64', 'aarch64']);
    for (const arch of ['x86_64', 'aarch64']) {
      const xml = await primary(arch);
      expect(xml).toContain('packages="0"');
      expect(names(xml)).toEqual([]);
      expect(snapshot.files[`el9/${arch}/repodata/repomd.xml`]).toBeDefined();
      const signature = await readText(storage, snapshot.files[`el9/${arch}/repodata/repomd.xml.asc`]!.key);
      expect(signature).toMatch(/^-----BEGIN PGP SIGNATURE-----/);
    }
  });

  it('lists noarch packages for every architecture, keeps identical re-uploads, refuses other content under the same NEVRA unless replacing, and removes', async () => {
    const { service, primary } = await setup();
    const options = { distribution: 'el9', component: 'main', actor: 'test' };
    const first = await service.upload('yum', [await fileUpload(noarch.path), await fileUpload(x86.path)], options);
    expect(first.changed).toBe(true);
    expect(names(await primary('x86_64'))).toEqual(['common', 'tool']);
    expect(names(await primary('aarch64'))).toEqual(['common']);

    const again = await service.upload('yum', [await fileUpload(x86.path)], options);
    expect(again.changed).toBe(false);
    await expect(service.upload('yum', [await fileUpload(x86Rebuilt.path)], options)).rejects.toMatchObject({ status: 409, code: 'package-exists' });
    const replaced = await service.upload('yum', [await fileUpload(x86Rebuilt.path)], { ...options, replace: true });
    expect(replaced.changed).toBe(true);
    expect(await primary('x86_64')).toContain('rebuilt, other bytes');

    const removed = await service.remove('yum', { distribution: 'el9', package: 'tool', version: '2.0-1', architecture: 'x86_64' }, 'test');
    expect(removed.changes).toEqual([{ action: 'remove', distribution: 'el9', package: 'tool', version: '2.0-1', architecture: 'x86_64' }]);
    expect(names(await primary('x86_64'))).toEqual(['common']);
    await expect(service.remove('yum', { distribution: 'el9', package: 'tool', version: '2.0-1', architecture: 'x86_64' }, 'test')).rejects.toMatchObject({ status: 404 });
  });

  it('refuses distribution names that would be one of the files beside them (.repo files, keys)', async () => {
    const { service } = await setup();
    for (const name of ['el9.repo', 'public.key', 'x.gpg']) {
      await expect(service.upload('yum', [await fileUpload(noarch.path)], { distribution: name, actor: 'test' })).rejects.toMatchObject({ status: 400, code: 'invalid-distribution' });
      await expect(service.updateRepo('yum', { distributions: { [name]: {} } }, 'test')).rejects.toMatchObject({ status: 400, code: 'invalid-distribution' });
    }
    await expect(service.createRepo({ name: 'other', type: 'rpm', distributions: { 'el9.repo': {} } }, 'test')).rejects.toMatchObject({ status: 400, code: 'invalid-distribution' });
  });

  it('refuses malformed RPMs and .deb files with a clear 422, storing nothing', async () => {
    const { service, blobKeys } = await setup();
    const before = await service.getRepo('yum');
    const keysBefore = await blobKeys();
    const cases = [...malformedRpms(), { name: 'a .deb', bytes: async () => new Uint8Array(await readFile(deb.path)), code: 'not-rpm' }];
    for (const bad of cases) {
      const err = await packyardError(async () => service.upload('yum', [bytesUpload(`${bad.name}.rpm`, await bad.bytes())], { distribution: 'el9', component: 'main', actor: 'test' }));
      expect({ status: err.status, code: err.code }, bad.name).toEqual({ status: 422, code: bad.code });
    }
    expect((await service.getRepo('yum')).id).toBe(before.id);
    expect(await blobKeys()).toEqual(keysBefore);
  });
});
