// The lifecycle API: retention on POST/PATCH /repos, typo protection of uploads (multipart and
// resumable), and DELETE /repos/<repo>/distributions/<dist>; for deb and rpm.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { buildRpm } from '../helpers/rpms.js';
import { testApp } from '../helpers/app.js';

type Bytes = Uint8Array<ArrayBuffer>;
const files: Record<'deb' | 'rpm', Bytes[]> = { deb: [], rpm: [] };
const VERSIONS = ['1.0', '1.1', '1.2', '1.3', '1.4'];

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-lifecycle-api-'));
  files.deb = await Promise.all(VERSIONS.map(async (version) => new Uint8Array(await readFile((await buildDeb({ name: 'hello', version, arch: 'amd64' }, join(dir, `deb-${version}`))).path))));
  files.rpm = await Promise.all(VERSIONS.map(async (version) => new Uint8Array(await readFile((await buildRpm({ name: 'hello', version, release: '1' }, join(dir, `rpm-${version}`))).path))));
}, 120_000);

const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const error = async (res: Response) => ((await res.json()) as { error: { code: string; message: string } }).error;

async function setup(type: 'deb' | 'rpm', repo: Record<string, unknown>) {
  const t = await testApp();
  const created = await t.request('/api/v1/repos', json('POST', { name: 'acme', type, ...repo }));
  expect(created.status, await created.clone().text()).toBe(201);
  const upload = (file: Bytes, query: string) => {
    const form = new FormData();
    form.append('file', new Blob([file]), `hello.${type}`);
    return t.request(`/api/v1/repos/acme/packages?${query}`, { method: 'POST', body: form });
  };
  const versions = async (distribution: string) => {
    const { packages } = (await (await t.request(`/api/v1/repos/acme/packages?distribution=${distribution}`)).json()) as { packages: { version: string }[] };
    return packages.map((p) => p.version.replace(/-1$/, '')).sort();
  };
  return { ...t, created: (await created.json()) as { repo: Record<string, unknown> }, upload, versions };
}

describe('the lifecycle API', () => {
  for (const type of ['deb', 'rpm'] as const) {
    it(`${type}: keepVersions on POST and PATCH, per distribution, and null to take it away`, async () => {
      const t = await setup(type, { retention: { keepVersions: 2 }, distributions: { stable: {}, testing: { retention: { keepVersions: 4 } } } });
      expect(t.created.repo.retention).toEqual({ keepVersions: 2 });
      for (const file of files[type]) {
        for (const distribution of ['stable', 'testing']) expect((await t.upload(file, `distribution=${distribution}`)).status).toBe(201);
      }
      expect(await t.versions('stable')).toEqual(['1.3', '1.4']);
      expect(await t.versions('testing')).toEqual(['1.1', '1.2', '1.3', '1.4']);
      // The Packages / primary.xml apt and dnf read list the same.
      const index = type === 'deb' ? '/acme/dists/stable/main/binary-amd64/Packages' : undefined;
      if (index) expect((await (await t.request(index)).text()).match(/^Version: .*$/gm)?.sort()).toEqual(['Version: 1.3', 'Version: 1.4']);

      const patched = await t.request('/api/v1/repos/acme', json('PATCH', { retention: { keepVersions: 1 } }));
      expect(patched.status).toBe(200);
      expect(await t.versions('stable')).toEqual(['1.4']);
      expect(await t.versions('testing')).toEqual(['1.1', '1.2', '1.3', '1.4']);
      const { snapshots } = (await (await t.request('/api/v1/repos/acme/snapshots?limit=1')).json()) as { snapshots: { changes: Record<string, unknown>[] }[] };
      expect(snapshots[0]!.changes).toEqual([{ action: 'remove', distribution: 'stable', ...(type === 'deb' ? { component: 'main' } : {}), package: 'hello', version: type === 'deb' ? '1.3' : '1.3-1', architecture: type === 'deb' ? 'amd64' : 'noarch', reason: 'retention' }, { action: 'settings' }]);

      const cleared = await t.request('/api/v1/repos/acme', json('PATCH', { retention: null }));
      expect(((await cleared.json()) as { repo: Record<string, unknown> }).repo.retention).toBeUndefined();
      const bad = await t.request('/api/v1/repos/acme', json('PATCH', { retention: { keepVersions: 0 } }));
      expect(bad.status).toBe(400);
      expect((await error(bad)).message).toMatch(/^retention\.keepVersions: /);
      const badDistribution = await t.request('/api/v1/repos/acme', json('PATCH', { distributions: { testing: { retention: { keepVersions: 'all' } } } }));
      expect(badDistribution.status).toBe(400);
      expect((await error(badDistribution)).message).toMatch(/^distributions\.testing\.retention\.keepVersions: /);
    });

    it(`${type}: an upload to a distribution the repository does not have is a 404 "did you mean", unless createDistribution=true`, async () => {
      const t = await setup(type, { distributions: { stable: {}, testing: {} } });
      const before = (await (await t.request('/api/v1/repos/acme')).json()) as { repo: { snapshot: { id: string } } };
      const typo = await t.upload(files[type][0]!, 'distribution=stabel');
      expect(typo.status).toBe(404);
      expect(await error(typo)).toEqual({
        code: 'distribution-not-found',
        message: 'repository acme has no distribution "stabel" (its distributions: stable, testing): did you mean stable? To create it, ask for it (createDistribution=true, --create-distribution)',
      });
      const after = (await (await t.request('/api/v1/repos/acme')).json()) as { repo: { snapshot: { id: string }; distributions: Record<string, unknown> } };
      expect(after.repo.snapshot.id).toBe(before.repo.snapshot.id);
      expect(Object.keys(after.repo.distributions)).toEqual(['stable', 'testing']);

      // A resumable upload refused so is kept for the corrected request.
      const file = files[type][0]!;
      const { upload } = (await (await t.request('/api/v1/repos/acme/uploads', json('POST', { name: `hello.${type}`, size: file.length }))).json()) as { upload: { id: string } };
      expect((await t.request(`/api/v1/repos/acme/uploads/${upload.id}/parts/1`, { method: 'PUT', body: file, headers: { 'content-length': String(file.length) } })).status).toBe(200);
      const join = (query: string) => t.request(`/api/v1/repos/acme/packages?${query}`, json('POST', { uploads: [upload.id] }));
      const refused = await join('distribution=unstable');
      expect(refused.status).toBe(404);
      expect((await error(refused)).message).toMatch(/did you mean stable\?/);
      expect((await t.request(`/api/v1/repos/acme/uploads/${upload.id}`)).status).toBe(200);
      expect((await join('distribution=unstable&createDistribution=true')).status).toBe(201);
      expect(await t.versions('unstable')).toEqual(['1.0']);
    });

    it(`${type}: DELETE a distribution removes it in one publish; an absent one is a 404 naming it`, async () => {
      const t = await setup(type, { distributions: { stable: {}, testing: {} } });
      for (const distribution of ['stable', 'testing']) expect((await t.upload(files[type][0]!, `distribution=${distribution}`)).status).toBe(201);
      const removed = await t.request('/api/v1/repos/acme/distributions/testing', { method: 'DELETE' });
      expect(removed.status).toBe(200);
      const { repo } = (await (await t.request('/api/v1/repos/acme')).json()) as { repo: { distributions: Record<string, unknown> } };
      expect(Object.keys(repo.distributions)).toEqual(['stable']);
      expect(await t.versions('testing')).toEqual([]);
      expect(await t.versions('stable')).toEqual(['1.0']);
      const [gone, served] = type === 'deb' ? ['/acme/dists/testing/InRelease', '/acme/dists/stable/InRelease'] : ['/acme/testing/x86_64/repodata/repomd.xml', '/acme/stable/x86_64/repodata/repomd.xml'];
      expect((await t.request(gone)).status).toBe(404);
      expect((await t.request(served)).status).toBe(200);
      if (type === 'rpm') expect([(await t.request('/acme/testing.repo')).status, (await t.request('/acme/stable.repo')).status]).toEqual([404, 200]);

      const absent = await t.request('/api/v1/repos/acme/distributions/testing', { method: 'DELETE' });
      expect(absent.status).toBe(404);
      expect(await error(absent)).toEqual({ code: 'distribution-not-found', message: 'repository acme has no distribution "testing"' });
      const readOnly = await t.request('/api/v1/repos/acme/distributions/stable', { method: 'DELETE', token: null });
      expect(readOnly.status).toBe(401);
    });
  }

  it('deb: a component the distribution does not have is a 404 "did you mean"', async () => {
    const t = await setup('deb', { distributions: { stable: { components: ['main'] } } });
    const typo = await t.upload(files.deb[0]!, 'distribution=stable&component=mian');
    expect(typo.status).toBe(404);
    expect((await error(typo)).message).toMatch(/^distribution stable of acme has no component "mian" \(its components: main\): did you mean main\?/);
  });

  it('terraform: retention and distributions do not apply (400)', async () => {
    const t = await testApp();
    const created = await t.request('/api/v1/repos', json('POST', { name: 'tf', type: 'terraform', retention: { keepVersions: 2 } }));
    expect(created.status).toBe(400);
    expect((await error(created)).message).toBe('retention applies to repositories with package versions (deb, rpm), not to terraform repositories');
    expect((await t.request('/api/v1/repos', json('POST', { name: 'tf', type: 'terraform' }))).status).toBe(201);
    const dropped = await t.request('/api/v1/repos/tf/distributions/modules', { method: 'DELETE' });
    expect(dropped.status).toBe(400);
    expect((await error(dropped)).message).toBe('a terraform repository has no distributions to remove');
  });
});
