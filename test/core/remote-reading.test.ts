// A package kept elsewhere (a release asset) is read from the ranges its format needs, its control
// data, never the whole file; published, its pool file is the remote one, served by a redirect.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formats } from '../../src/formats/index.js';
import { buildSnapshot } from '../../src/core/publish.js';
import { webGzip } from '../../src/util/codecs/compress.js';
import type { RemoteFile } from '../../src/core/format.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { bytesUpload, fileText, testService } from '../helpers/service.js';
import { testApp } from '../helpers/app.js';
import { packyardError } from '../helpers/errors.js';

let deb: DebFile;
let rpm: BuiltRpm;
const deps = { createHasher: createNodeHasher, now: () => new Date('2026-12-01T00:00:00Z') };

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-remote-'));
  // Incompressible payloads: the files are big, their control data small.
  deb = await buildDeb({ name: 'big-tool', version: '1.0-1', arch: 'amd64', compression: 'none', files: { 'usr/share/big-tool/blob': randomBytes(3 * 1024 * 1024) } }, dir);
  rpm = await buildRpm({ name: 'big-lib', version: '2.0', release: '1', files: { '/usr/share/big-lib/blob': randomBytes(3 * 1024 * 1024).toString('base64') } }, dir);
});

/** A local file read by ranges, counting what is fetched; `size` may be claimed wrongly. */
async function remoteFile(path: string, sha256: string, claimedSize?: number): Promise<RemoteFile & { fetched: number }> {
  const handle = await open(path);
  const size = claimedSize ?? (await handle.stat()).size;
  const file = {
    size,
    sha256,
    remote: { source: 'test', url: `https://assets.example.com/${path.split('/').pop()}`, ref: {} },
    fetched: 0,
    async read(offset: number, length: number) {
      const bytes = new Uint8Array(length);
      const { bytesRead } = await handle.read(bytes, 0, length, offset);
      file.fetched += bytesRead;
      return bytes.subarray(0, bytesRead);
    },
  };
  return file;
}

describe('packages read by ranges', () => {
  it('reads a .deb and an .rpm from their first ranges into the records a whole upload gives', async () => {
    const debFile = await remoteFile(deb.path, deb.sha256);
    const remote = await formats.get('deb').readRemote(deps, debFile, { distribution: 'stable', component: 'main' });
    expect(debFile.fetched).toBeLessThan(deb.size / 10);
    const service = await testService();
    await service.createRepo({ name: 'd', type: 'deb' }, 'test');
    const stored = (await service.upload('d', [bytesUpload('a.deb', new Uint8Array(await readFile(deb.path)))], { distribution: 'stable', actor: 'test' })).packages[0]!;
    expect(formats.get('deb').describe(remote)).toEqual(stored);
    expect(remote).toMatchObject({ key: '', remote: debFile.remote, sha256: deb.sha256 });
    expect(remote.md5).toBeUndefined();

    const rpmFile = await remoteFile(rpm.path, rpm.sha256);
    const remoteRpm = await formats.get('rpm').readRemote(deps, rpmFile, { distribution: 'el9' });
    expect(rpmFile.fetched).toBeLessThan(rpm.size / 10);
    await service.createRepo({ name: 'r', type: 'rpm' }, 'test');
    const storedRpm = (await service.upload('r', [bytesUpload('a.rpm', new Uint8Array(await readFile(rpm.path)))], { distribution: 'el9', actor: 'test' })).packages[0]!;
    expect(formats.get('rpm').describe(remoteRpm)).toEqual(storedRpm);
  });

  it('refuses a package whose claimed size does not fit what its headers say', async () => {
    for (const [type, path, sha256, size, placement] of [
      ['deb', deb.path, deb.sha256, deb.size, { distribution: 'stable', component: 'main' }],
      ['rpm', rpm.path, rpm.sha256, rpm.size, { distribution: 'el9' }],
    ] as const) {
      const short = await packyardError(async () => formats.get(type).readRemote(deps, await remoteFile(path, sha256, size - 100), placement));
      expect(short, type).toMatchObject({ status: 422, code: 'truncated' });
    }
    const long = await packyardError(async () => formats.get('rpm').readRemote(deps, await remoteFile(rpm.path, rpm.sha256, rpm.size + 100), { distribution: 'el9' }));
    expect(long).toMatchObject({ status: 422 });
  });

  it('publishes a remote record: Packages lists its SHA-256, the pool file redirects to it', async () => {
    const { service, request, storage } = await testApp();
    await service.createRepo({ name: 'gh', type: 'deb', public: true }, 'test');
    const format = formats.get('deb');
    const file = await remoteFile(deb.path, deb.sha256);
    const record = await format.readRemote(deps, file, { distribution: 'stable', component: 'main' });
    const ctx = { store: service.store, signer: service.deps.signer, createHasher: createNodeHasher, gzip: webGzip, now: () => new Date() };
    await service.store.commit('gh', async (current) => (await buildSnapshot(ctx, format, current!, { actor: 'sync', add: [{ placement: { distribution: 'stable', component: 'main' }, records: [record] }] })).snapshot);
    const snapshot = await service.getRepo('gh');
    const packages = await fileText(storage, snapshot.files['dists/stable/main/binary-amd64/Packages']!);
    expect(packages).toContain(`SHA256: ${deb.sha256}`);
    expect(packages).not.toContain('MD5sum:');
    const served = await request(`/gh/${record.filename}`, { token: null });
    expect(served.status).toBe(302);
    expect(served.headers.get('location')).toBe(file.remote.url);
    expect(served.headers.get('cache-control')).toBe('public, max-age=60');
  });
});
