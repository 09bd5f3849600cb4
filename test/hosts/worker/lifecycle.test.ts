// The repository lifecycle through the Worker under `wrangler dev` (R2, and every change in the
// repository's Durable Object), one Worker for all: retention, typo protection and removing a
// distribution, for deb and rpm; copy, rollback and diff (the two publishing routes in the
// Durable Object like every other publish, the diff, a read, in the Worker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { buildDeb } from '../../helpers/debs.js';
import { buildRpm } from '../../helpers/rpms.js';
import { api } from '../../helpers/server.js';
import { startWorker, type RunningWorker } from '../../helpers/worker.js';
import { publishedRepo } from '../../../src/hosts/worker/published-repo.js';

type Bytes = Uint8Array<ArrayBuffer>;
const VERSIONS = ['1.0', '1.10', '1.2', '1.9', '1.3'];
let worker: RunningWorker;
const files: Record<'deb' | 'rpm', Bytes[]> = { deb: [], rpm: [] };

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-worker-lifecycle-'));
  const read = async (path: string) => new Uint8Array(await readFile(path));
  [worker, files.deb, files.rpm] = await Promise.all([
    startWorker(),
    Promise.all(VERSIONS.map(async (version) => read((await buildDeb({ name: 'hello', version, arch: 'amd64' }, join(dir, `deb-${version}`))).path))),
    Promise.all(VERSIONS.map(async (version) => read((await buildRpm({ name: 'hello', version, release: '1' }, join(dir, `rpm-${version}`))).path))),
  ]);
}, 600_000);

afterAll(async () => {
  await worker?.stop();
});

const call = (path: string, init: RequestInit = {}) => fetch(`${worker.url}${path}`, { ...init, headers: { authorization: `Bearer ${worker.token}`, ...init.headers } });
const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const upload = (repo: string, file: Bytes, query: string) => {
  const form = new FormData();
  form.append('file', new Blob([file]), 'hello');
  return call(`/api/v1/repos/${repo}/packages?${query}`, { method: 'POST', body: form });
};

describe('the repository lifecycle on the Worker host', () => {
  for (const type of ['deb', 'rpm'] as const) {
    it(`${type}: keepVersions 2 leaves the newest two in the index clients read; a typo is refused; a distribution is removed`, async () => {
      const repo = `life-${type}`;
      const created = await call('/api/v1/repos', json('POST', { name: repo, type, public: true, retention: { keepVersions: 2 }, distributions: { stable: {}, testing: {} } }));
      expect(created.status, await created.clone().text()).toBe(201);
      for (const file of files[type]) {
        const res = await upload(repo, file, 'distribution=stable');
        expect(res.status, await res.clone().text()).toBe(201);
      }
      const index =
        type === 'deb'
          ? await (await fetch(`${worker.url}/${repo}/dists/stable/main/binary-amd64/Packages`)).text()
          : await (async () => {
              const repomd = await (await fetch(`${worker.url}/${repo}/stable/x86_64/repodata/repomd.xml`)).text();
              const href = /<location href="(repodata\/[^"]+-primary\.xml\.gz)"/.exec(repomd)![1]!;
              return gunzipSync(Buffer.from(await (await fetch(`${worker.url}/${repo}/stable/x86_64/${href}`)).arrayBuffer())).toString();
            })();
      const listed = type === 'deb' ? index.match(/^Version: (.*)$/gm)!.map((l) => l.slice('Version: '.length)) : [...index.matchAll(/<version epoch="\d+" ver="([^"]+)"/g)].map((m) => m[1]!);
      expect(listed.sort()).toEqual(['1.10', '1.9']);

      const before = ((await (await call(`/api/v1/repos/${repo}`)).json()) as { repo: { snapshot: { id: string } } }).repo.snapshot.id;
      const typo = await upload(repo, files[type][0]!, 'distribution=stabel');
      expect(typo.status).toBe(404);
      expect(((await typo.json()) as { error: { message: string } }).error.message).toMatch(/^repository life-\w+ has no distribution "stabel" \(its distributions: stable, testing\): did you mean stable\?/);
      expect(((await (await call(`/api/v1/repos/${repo}`)).json()) as { repo: { snapshot: { id: string } } }).repo.snapshot.id).toBe(before);
      expect((await upload(repo, files[type][0]!, 'distribution=unstable&createDistribution=true')).status).toBe(201);

      expect((await call(`/api/v1/repos/${repo}/distributions/unstable`, { method: 'DELETE' })).status).toBe(200);
      expect((await call(`/api/v1/repos/${repo}/distributions/unstable`, { method: 'DELETE' })).status).toBe(404);
      const { repo: after } = (await (await call(`/api/v1/repos/${repo}`)).json()) as { repo: { distributions: Record<string, unknown> } };
      expect(Object.keys(after.distributions)).toEqual(['stable', 'testing']);
    });
  }
});

describe('copy, rollback and diff on the Worker', () => {
  it('routes copy and rollback to the repository’s Durable Object, and the diff not', () => {
    const route = (method: string, path: string) => publishedRepo(new Request(`https://x${path}`, { method }));
    expect(route('POST', '/api/v1/repos/acme/copy')).toBe('acme');
    expect(route('POST', '/api/v1/repos/acme/rollback')).toBe('acme');
    expect(route('GET', '/api/v1/repos/acme/diff?from=a')).toBeNull();
  });

  it('copies testing to stable, diffs, and rolls back', async () => {
    const client = api(worker.url, worker.token);
    const work = await mkdtemp(join(tmpdir(), 'packyard-worker-lifecycle-'));
    const deb = await buildDeb({ name: 'edge-tool', version: '1.0', arch: 'amd64' }, work);
    // Both distributions declared: an upload into one the repository lacks is refused (typo protection).
    const created = await client.fetch('/api/v1/repos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'edge', type: 'deb', public: true, distributions: { testing: {}, stable: {} } }) });
    expect(created.status).toBe(201);
    await client.upload('edge', 'testing', 'main', [deb.path]);
    await client.upload('edge', 'stable', 'main', [await buildDeb({ name: 'other', version: '2.0', arch: 'all' }, join(work, 'b')).then((d) => d.path)]);
    const post = async (path: string, body: unknown) => {
      const res = await client.fetch(`/api/v1/repos/edge/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, body: (await res.json()) as Record<string, any> };
    };
    const before = ((await (await client.fetch('/api/v1/repos/edge')).json()) as { repo: { snapshot: { id: string } } }).repo.snapshot.id;
    const packages = async () => (await (await client.fetch('/edge/dists/stable/main/binary-amd64/Packages')).text()).match(/^Package: .+$/gm)?.sort();

    const copy = await post('copy', { from: 'testing', to: 'stable', packages: [{ name: 'edge-tool', version: '1.0' }] });
    expect(copy.status, await worker.logTail()).toBe(201);
    expect(await packages()).toEqual(['Package: edge-tool', 'Package: other']);
    expect((await post('copy', { from: 'testing', to: 'stabel', packages: [{ name: 'edge-tool', version: '1.0' }] })).status).toBe(404);

    const diff = await client.fetch(`/api/v1/repos/edge/diff?from=${before}`);
    expect(diff.status).toBe(200);
    expect(((await diff.json()) as { places: unknown[] }).places).toEqual([{ distribution: 'stable', component: 'main', architecture: 'amd64', added: [{ package: 'edge-tool', version: '1.0', architecture: 'amd64' }], removed: [], changed: [] }]);

    const rollback = await post('rollback', { snapshot: before, distribution: 'stable' });
    expect(rollback.status, await worker.logTail()).toBe(201);
    expect(rollback.body.snapshot.changes).toEqual([{ action: 'rollback', snapshot: before, distribution: 'stable' }]);
    expect(await packages()).toEqual(['Package: other']);
    const inRelease = await (await client.fetch('/edge/dists/stable/InRelease')).text();
    expect(Date.parse(/^Date: (.+)$/m.exec(inRelease)![1]!)).toBe(Math.floor(Date.parse(rollback.body.snapshot.createdAt) / 1000) * 1000);
  });
});
