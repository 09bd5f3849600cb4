// Resumable uploads through the API: start, parts in any order (resent, wrong, missing), status,
// publish by id alongside ordinary files, abort.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { testApp } from '../helpers/app.js';
import { gc } from '../../src/repository/gc.js';

const MiB = 1024 * 1024;
let big: Uint8Array<ArrayBuffer>;
let small: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-uploads-'));
  const payload = new Uint8Array(12 * MiB).map((_, i) => (i * 2654435761) >>> 24);
  big = new Uint8Array(await readFile((await buildDeb({ name: 'big', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/big/blob': payload } }, dir)).path));
  small = new Uint8Array(await readFile((await buildDeb({ name: 'small', version: '1.0', arch: 'all' }, dir)).path));
});

type Upload = { id: string; size: number; partSize: number; parts: number; received: number[] };

async function setup() {
  const t = await testApp();
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) })).status).toBe(201);
  const start = async (size = big.length) => {
    const res = await t.request('/api/v1/repos/acme/uploads', { method: 'POST', body: JSON.stringify({ name: 'big.deb', size }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { upload: Upload }).upload;
  };
  const part = (u: Upload, n: number, body = big.subarray((n - 1) * u.partSize, Math.min(n * u.partSize, big.length))) =>
    t.request(`/api/v1/repos/acme/uploads/${u.id}/parts/${n}`, { method: 'PUT', body, headers: { 'content-length': String(body.length) } });
  const status = async (u: Upload) => ((await (await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).json()) as { upload: Upload }).upload;
  return { ...t, start, part, status };
}

const errorCode = async (res: Response) => ((await res.json()) as { error: { code: string } }).error.code;

describe('resumable uploads', () => {
  it('publishes a package sent in parts together with ordinary files, as one batch', async () => {
    const t = await setup();
    const u = await t.start();
    expect(u.parts).toBe(3);
    for (const n of [3, 1]) expect((await t.part(u, n)).status).toBe(200);
    expect((await t.status(u)).received).toEqual([1, 3]);

    const incomplete = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [u.id] }), headers: { 'content-type': 'application/json' } });
    expect(incomplete.status).toBe(409);
    expect(await errorCode(incomplete)).toBe('upload-incomplete');

    // Wrong sizes and numbers are refused; a part may be sent again.
    const wrong = await t.part(u, 2, big.subarray(0, 100));
    expect(wrong.status).toBe(400);
    expect(await errorCode(wrong)).toBe('part-size-mismatch');
    expect((await t.part(u, 4, big.subarray(0, 100))).status).toBe(400);
    expect((await t.part(u, 2)).status).toBe(200);
    expect((await t.part(u, 2)).status).toBe(200);
    expect((await t.status(u)).received).toEqual([1, 2, 3]);

    const form = new FormData();
    form.append('file', new Blob([small]), 'small.deb');
    form.append('upload', u.id);
    const res = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: form });
    expect(res.status).toBe(201);
    const published = (await res.json()) as { packages: { package: string; sha256: string; size: number }[] };
    expect(published.packages.map((p) => p.package).sort()).toEqual(['big', 'small']);
    const bigInfo = published.packages.find((p) => p.package === 'big')!;
    expect(bigInfo.size).toBe(big.length);
    expect(bigInfo.sha256).toBe(createHash('sha256').update(big).digest('hex'));

    const pool = await t.request('/acme/pool/main/b/big/big_1.0_amd64.deb');
    expect(Buffer.from(await pool.arrayBuffer()).equals(big)).toBe(true);
    // The upload is used up.
    expect((await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).status).toBe(404);
    const left = [];
    for await (const obj of t.storage.list('')) if (obj.key.includes('uploads/')) left.push(obj.key);
    expect(left).toEqual([]);
  });

  it('publishes nothing and keeps nothing when the assembled file is not a package', async () => {
    const t = await setup();
    const before = new Set<string>();
    for await (const obj of t.storage.list('repos/acme/blobs/')) before.add(obj.key);
    const u = await t.start(6 * MiB);
    const junk = new Uint8Array(6 * MiB).fill(7);
    for (const n of [1, 2]) expect((await t.part(u, n, junk.subarray((n - 1) * u.partSize, Math.min(n * u.partSize, junk.length)))).status).toBe(200);
    const res = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [u.id] }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(422);
    const blobs = [];
    for await (const obj of t.storage.list('repos/acme/blobs/')) blobs.push(obj.key);
    expect(blobs).toEqual([...before]);
    expect(((await (await t.request('/api/v1/repos/acme/packages')).json()) as { packages: unknown[] }).packages).toEqual([]);
  });

  it('aborts, and answers bad requests clearly', async () => {
    const t = await setup();
    const u = await t.start();
    expect((await t.part(u, 1)).status).toBe(200);
    expect((await t.request(`/api/v1/repos/acme/uploads/${u.id}`, { method: 'DELETE' })).status).toBe(204);
    expect((await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).status).toBe(404);
    const keys = [];
    for await (const obj of t.storage.list('')) if (obj.key.includes('uploads/')) keys.push(obj.key);
    expect(keys).toEqual([]);

    const cases: [string, RequestInit & { token?: string | null }, number, string][] = [
      ['/api/v1/repos/acme/uploads', { method: 'POST', body: '{"size": 10}', token: null }, 401, 'unauthenticated'],
      ['/api/v1/repos/acme/uploads', { method: 'POST', body: '{"size": -1}' }, 400, 'invalid-request'],
      ['/api/v1/repos/acme/uploads', { method: 'POST', body: '{}' }, 400, 'invalid-request'],
      ['/api/v1/repos/nope/uploads', { method: 'POST', body: '{"size": 10}' }, 404, 'repo-not-found'],
      ['/api/v1/repos/acme/uploads/0123456789abcdef0123456789abcdef', {}, 404, 'upload-not-found'],
      ['/api/v1/repos/acme/uploads/..%2f..%2fhead/parts/1', { method: 'PUT', body: 'x' }, 400, 'invalid-parameter'],
      ['/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: '{"uploads": "x"}', headers: { 'content-type': 'application/json' } }, 400, 'invalid-json'],
      ['/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: '{"uploads": ["0123456789abcdef0123456789abcdef"]}', headers: { 'content-type': 'application/json' } }, 404, 'upload-not-found'],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await t.request(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(status);
      expect(await errorCode(res), path).toBe(code);
    }
  });

  it('ends uploads abandoned for longer than the grace period at gc, in the backend too', async () => {
    const t = await setup();
    const abandoned = await t.start();
    expect((await t.part(abandoned, 1)).status).toBe(200);
    const aborted: string[] = [];
    const abort = t.storage.abortMultipart.bind(t.storage);
    t.storage.abortMultipart = async (key, uploadId) => {
      aborted.push(uploadId);
      return abort(key, uploadId);
    };
    const now = Date.now();
    expect((await gc(t.service.store, 'acme', { now })).abandonedUploads).toBe(0);
    expect((await t.status(abandoned)).received).toEqual([1]);

    const later = await gc(t.service.store, 'acme', { now: now + 8 * 86400_000 });
    expect(later.abandonedUploads).toBe(1);
    expect(aborted).toHaveLength(1);
    expect((await t.request(`/api/v1/repos/acme/uploads/${abandoned.id}`)).status).toBe(404);
    for await (const obj of t.storage.list('')) expect(obj.key).not.toMatch(/uploads\/|\.parts\//);
  });
});
