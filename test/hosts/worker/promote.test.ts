// Copy, rollback and diff on the Worker under `wrangler dev`: the two publishing routes run in the
// repository's Durable Object like every other publish, the diff (a read) in the Worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../../helpers/debs.js';
import { api } from '../../helpers/server.js';
import { startWorker, type RunningWorker } from '../../helpers/worker.js';
import { publishedRepo } from '../../../src/hosts/worker/published-repo.js';

describe('copy, rollback and diff on the Worker', () => {
  let worker: RunningWorker;

  beforeAll(async () => {
    worker = await startWorker();
  }, 120_000);

  afterAll(async () => {
    await worker?.stop();
  });

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
