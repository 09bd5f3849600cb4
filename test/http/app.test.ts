import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { testApp } from '../helpers/app.js';

let deb: DebFile;
let bytes: Uint8Array<ArrayBuffer>;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-app-'));
  deb = await buildDeb({ name: 'hello', version: '1.0', arch: 'amd64', files: { 'usr/share/hello/data': 'x'.repeat(5000) } }, dir);
  bytes = new Uint8Array(await readFile(deb.path));
});

async function withPackage(now?: () => Date) {
  const t = await testApp(now);
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme', type: 'deb', public: true }) })).status).toBe(201);
  const form = new FormData();
  form.append('file', new Blob([bytes]), 'hello.deb');
  const res = await t.request('/api/v1/repos/acme/packages?distribution=stable&component=main', { method: 'POST', body: form });
  expect(res.status).toBe(201);
  return t;
}

describe('HTTP API', () => {
  it('answers errors as JSON with a fitting status', async () => {
    const t = await testApp();
    const cases: [string, RequestInit & { token?: string | null }, number, string][] = [
      ['/api/v1/repos', { method: 'POST', body: '{"name":"acme"}', token: null }, 401, 'unauthenticated'],
      ['/api/v1/repos', { method: 'POST', body: '{"name":"acme"}', token: 'wrong' }, 401, 'invalid-credentials'],
      ['/api/v1/repos', { method: 'POST', body: 'not json' }, 400, 'invalid-json'],
      ['/api/v1/repos', { method: 'POST', body: '{"name":"Bad Name"}' }, 400, 'invalid-repo-name'],
      ['/api/v1/repos', { method: 'POST', body: '{"name":"acme","type":"apk"}' }, 400, 'invalid-request'],
      ['/api/v1/repos', { method: 'POST', body: '{"name":"acme","architectures":["all"]}' }, 400, 'invalid-request'],
      ['/api/v1/repos/nope', {}, 404, 'repo-not-found'],
      ['/api/v1/repos/nope/packages?distribution=stable', { method: 'POST', body: bytes }, 404, 'repo-not-found'],
      ['/nope/dists/stable/InRelease', {}, 404, 'not-found'],
      ['/api/v1/repos/nope/gc', { method: 'POST' }, 404, 'repo-not-found'],
      ['/api/v1/repos/nope/gc', { method: 'POST', token: null }, 401, 'unauthenticated'],
    ];
    for (const [path, init, status, code] of cases) {
      const res = await t.request(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(status);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it('refuses repository names and path parameters from the URL that could name another place in storage', async () => {
    const t = await withPackage();
    const bad = '..%2F..%2F..%2F..%2Fetc';
    const cases: [string, RequestInit, string][] = [
      [`/api/v1/repos/${bad}/oidc-policies`, {}, 'invalid-repo-name'],
      [`/api/v1/repos/${bad}`, {}, 'invalid-repo-name'],
      [`/api/v1/repos/${bad}/snapshots`, {}, 'invalid-repo-name'],
      [`/api/v1/repos/${bad}/packages?distribution=stable`, { method: 'POST', body: bytes }, 'invalid-repo-name'],
      ['/api/v1/repos/acme/uploads/..%2F..%2Fhead', {}, 'invalid-parameter'],
      ['/api/v1/repos/acme/packages/hello/..%2F..%2Fx/amd64?distribution=stable', { method: 'DELETE' }, 'invalid-parameter'],
      ['/api/v1/repos/acme/oidc-policies/..%2Fx', { method: 'DELETE' }, 'invalid-parameter'],
      ['/api/v1/tokens/..%2Fadmin-token', { method: 'DELETE' }, 'invalid-parameter'],
    ];
    for (const [path, init, code] of cases) {
      const res = await t.request(path, init);
      expect(res.status, `${init.method ?? 'GET'} ${path}`).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
  });

  it('answers an upload without a valid credential at once, its body unread', async () => {
    const t = await testApp();
    await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) });
    for (const token of [null, 'wrong']) {
      let pulled = 0;
      // A client that sends a byte now and then and never ends its body.
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          pulled++;
          await new Promise((r) => setTimeout(r, 50));
          controller.enqueue(new Uint8Array(1));
        },
      });
      const started = performance.now();
      const res = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body, token, duplex: 'half' } as RequestInit);
      expect(res.status).toBe(401);
      expect(performance.now() - started).toBeLessThan(500);
      expect(pulled).toBeLessThanOrEqual(1);
    }
  }, 5000);

  it('accepts a raw .deb body, lists, searches and deletes packages', async () => {
    const t = await testApp();
    await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) });
    const missingDist = await t.request('/api/v1/repos/acme/packages', { method: 'POST', body: bytes });
    expect(missingDist.status).toBe(400);
    const up = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: bytes, headers: { 'content-type': 'application/vnd.debian.binary-package' } });
    expect(up.status).toBe(201);
    const body = (await up.json()) as { packages: { package: string }[]; snapshot: { id: string } };
    expect(body.packages[0]!.package).toBe('hello');
    const list = (await (await t.request('/api/v1/repos/acme/packages?q=hel')).json()) as { packages: unknown[] };
    expect(list.packages).toHaveLength(1);
    expect(((await (await t.request('/api/v1/repos/acme/packages?q=zzz')).json()) as { packages: unknown[] }).packages).toHaveLength(0);
    const del = await t.request('/api/v1/repos/acme/packages/hello/1.0/amd64?distribution=stable', { method: 'DELETE' });
    expect(del.status).toBe(200);
    const snaps = (await (await t.request('/api/v1/repos/acme/snapshots')).json()) as { snapshots: { id: string; actor: string; changes: { action: string }[] }[] };
    expect(snaps.snapshots.map((s) => s.changes[0]!.action)).toEqual(['remove', 'add', 'create']);
    expect(snaps.snapshots.map((s) => s.id.slice(0, 8))).toEqual(['00000002', '00000001', '00000000']);
    expect(snaps.snapshots[0]!.actor).toBe('admin');
    // Within the grace period the removed package's file stays, and gc reports it kept.
    const collected = await t.request('/api/v1/repos/acme/gc?dry-run=1', { method: 'POST' });
    expect(collected.status).toBe(200);
    expect(((await collected.json()) as { report: { dryRun: boolean; deleted: { objects: number } } }).report).toMatchObject({ dryRun: true, deleted: { objects: 0 } });
    expect((await t.request('/api/v1/repos/acme', { method: 'DELETE' })).status).toBe(204);
    expect((await t.request('/api/v1/repos/acme')).status).toBe(404);
  });
});

describe('Release settings', () => {
  it('changes Origin, Label, Description and Valid-Until per distribution through PATCH', async () => {
    const t = await withPackage();
    const patch = await t.request('/api/v1/repos/acme', {
      method: 'PATCH',
      body: JSON.stringify({ distributions: { stable: { origin: 'ACME Corp', label: 'ACME', description: 'Internal tools', validFor: 86400 } } }),
    });
    expect(patch.status).toBe(200);
    const release = await (await t.request('/acme/dists/stable/Release', { token: null })).text();
    expect(release).toMatch(/^Origin: ACME Corp\nLabel: ACME\nSuite: stable\nCodename: stable\n/);
    expect(release).toContain('Description: Internal tools\n');
    const date = Date.parse(/^Date: (.+)$/m.exec(release)![1]!);
    const validUntil = Date.parse(/^Valid-Until: (.+)$/m.exec(release)![1]!);
    expect(validUntil - date).toBe(86400_000);
    const bad = await t.request('/api/v1/repos/acme', { method: 'PATCH', body: JSON.stringify({ distributions: { stable: { origin: 'two\nlines' } } }) });
    expect(bad.status).toBe(400);
  });
});

describe('serving repository files', () => {
  it('serves pool files with ranges, validators and immutable caching', async () => {
    const t = await withPackage();
    const path = '/acme/pool/main/h/hello/hello_1.0_amd64.deb';
    const full = await t.request(path, { token: null });
    expect(full.status).toBe(200);
    expect(new Uint8Array(await full.arrayBuffer())).toEqual(bytes);
    expect(full.headers.get('cache-control')).toContain('immutable');
    expect(full.headers.get('content-type')).toBe('application/vnd.debian.binary-package');
    const etag = full.headers.get('etag')!;
    expect(etag).toBe(`"${deb.sha256}"`);

    const partial = await t.request(path, { token: null, headers: { range: 'bytes=100-199' } });
    expect(partial.status).toBe(206);
    expect(partial.headers.get('content-range')).toBe(`bytes 100-199/${bytes.length}`);
    expect(new Uint8Array(await partial.arrayBuffer())).toEqual(bytes.slice(100, 200));
    const tail = await t.request(path, { token: null, headers: { range: 'bytes=-10' } });
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(bytes.slice(-10));
    const open = await t.request(path, { token: null, headers: { range: `bytes=${bytes.length - 5}-` } });
    expect(new Uint8Array(await open.arrayBuffer())).toEqual(bytes.slice(-5));
    const beyond = await t.request(path, { token: null, headers: { range: `bytes=${bytes.length}-` } });
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get('content-range')).toBe(`bytes */${bytes.length}`);
    const staleIfRange = await t.request(path, { token: null, headers: { range: 'bytes=0-9', 'if-range': '"other"' } });
    expect(staleIfRange.status).toBe(200);

    expect((await t.request(path, { token: null, headers: { 'if-none-match': etag } })).status).toBe(304);
    const head = await t.request(path, { method: 'HEAD', token: null });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(bytes.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
  });

  it('answers 404 for a pool file missing from storage, and logs the inconsistency with its key', async () => {
    const t = await withPackage();
    const blobs: string[] = [];
    for await (const obj of t.storage.list('repos/acme/blobs/')) blobs.push(obj.key);
    expect(blobs).toHaveLength(1);
    await t.storage.delete(blobs[0]!);
    const path = '/acme/pool/main/h/hello/hello_1.0_amd64.deb';
    for (const init of [{ method: 'HEAD' }, { headers: { range: 'bytes=0-9' } }, {}]) {
      const res = await t.request(path, { ...init, token: null });
      expect(res.status, JSON.stringify(init)).toBe(404);
    }
    const missing = t.logs.filter((e) => e.msg === 'storage inconsistency: object missing');
    expect(missing).toHaveLength(3);
    expect(missing[0]).toMatchObject({ level: 'error', key: blobs[0] });
  });

  it("answers 404 for paths named like an object's own properties", async () => {
    const t = await withPackage();
    for (const path of ['constructor', 'toString', 'pool/constructor', 'pool/__proto__/x.deb', 'dists/stable/__proto__']) {
      expect((await t.request(`/acme/${path}`, { token: null })).status, path).toBe(404);
    }
  });

  it("lets shared caches keep a public repository's files but not a private one's", async () => {
    const t = await withPackage();
    expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'secret', public: false }) })).status).toBe(201);
    const form = new FormData();
    form.append('file', new Blob([bytes]), 'hello.deb');
    expect((await t.request('/api/v1/repos/secret/packages?distribution=stable&component=main', { method: 'POST', body: form })).status).toBe(201);
    for (const path of ['dists/stable/InRelease', 'pool/main/h/hello/hello_1.0_amd64.deb']) {
      const open = await t.request(`/acme/${path}`, { token: null });
      expect(open.headers.get('cache-control'), path).toMatch(/^public, /);
      const closed = await t.request(`/secret/${path}`);
      expect(closed.status, path).toBe(200);
      expect(closed.headers.get('cache-control'), path).toMatch(/^private, /);
      const revalidated = await t.request(`/secret/${path}`, { headers: { 'if-none-match': closed.headers.get('etag')! } });
      expect(revalidated.status, path).toBe(304);
      expect(revalidated.headers.get('cache-control'), path).toMatch(/^private, /);
    }
  });

  it('serves indexes by path and by hash, InRelease with a short cache life and If-Modified-Since', async () => {
    let clock = Date.parse('2026-05-01T10:00:00Z');
    const t = await withPackage(() => new Date((clock += 1500)));
    const inRelease = await t.request('/acme/dists/stable/InRelease', { token: null });
    expect(inRelease.status).toBe(200);
    expect(inRelease.headers.get('cache-control')).toMatch(/max-age=30/);
    const lastModified = inRelease.headers.get('last-modified')!;
    expect((await t.request('/acme/dists/stable/InRelease', { token: null, headers: { 'if-modified-since': lastModified } })).status).toBe(304);
    const text = await inRelease.text();
    expect(text).not.toContain('\r');
    for (const algorithm of ['SHA256', 'SHA512'] as const) {
      const section = text.split(`\n${algorithm}:\n`)[1]!;
      const line = section.split('\n').find((l) => l.endsWith(' main/binary-amd64/Packages.gz'))!;
      const hash = line.trim().split(/\s+/)[0]!;
      const byHash = await t.request(`/acme/dists/stable/main/binary-amd64/by-hash/${algorithm}/${hash}`, { token: null });
      expect(byHash.status, algorithm).toBe(200);
      const plain = await t.request('/acme/dists/stable/main/binary-amd64/Packages.gz', { token: null });
      expect(new Uint8Array(await byHash.arrayBuffer())).toEqual(new Uint8Array(await plain.arrayBuffer()));
    }
    expect((await t.request(`/acme/dists/stable/main/binary-amd64/by-hash/SHA256/${'0'.repeat(64)}`, { token: null })).status).toBe(404);
    const key = await t.request('/acme/public.key', { token: null });
    expect(await key.text()).toMatch(/^-----BEGIN PGP PUBLIC KEY BLOCK-----/);
  });

  it('serves Packages, kept only as its .gz, decompressed: the size and digests Release lists, by path and by hash, whole', async () => {
    const t = await withPackage();
    const release = await (await t.request('/acme/dists/stable/Release', { token: null })).text();
    const gz = new Uint8Array(await (await t.request('/acme/dists/stable/main/binary-amd64/Packages.gz', { token: null })).arrayBuffer());
    const expected = gunzipSync(gz);
    expect(expected.toString()).toContain('Package: hello\n');
    for (const [algorithm, digest] of [['SHA256', 'sha256'], ['SHA512', 'sha512']] as const) {
      const hash = createHash(digest).update(expected).digest('hex');
      expect(release).toMatch(new RegExp(`${hash} +${expected.length} main/binary-amd64/Packages\n`));
      for (const path of ['dists/stable/main/binary-amd64/Packages', `dists/stable/main/binary-amd64/by-hash/${algorithm}/${hash}`]) {
        const res = await t.request(`/acme/${path}`, { token: null, headers: { range: 'bytes=0-9' } });
        // Whole despite the Range: the file exists only compressed.
        expect(res.status, path).toBe(200);
        expect(res.headers.get('accept-ranges'), path).toBe('none');
        expect(res.headers.get('content-length'), path).toBe(String(expected.length));
        expect(Buffer.from(await res.arrayBuffer()).equals(expected), path).toBe(true);
        const head = await t.request(`/acme/${path}`, { token: null, method: 'HEAD' });
        expect([head.status, head.headers.get('content-length')], path).toEqual([200, String(expected.length)]);
        const again = await t.request(`/acme/${path}`, { token: null, headers: { 'if-none-match': res.headers.get('etag')! } });
        expect(again.status, path).toBe(304);
      }
    }
  });

  it('does not answer 304 to If-Modified-Since when two publishes share a second', async () => {
    let clock = Date.parse('2026-05-01T10:00:00.100Z');
    const t = await testApp(() => new Date(clock));
    await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme', public: true, distributions: { stable: { components: ['main'] } } }) });
    clock += 2000;
    await t.request('/api/v1/repos/acme', { method: 'PATCH', body: JSON.stringify({ distributions: { stable: { label: 'first' } } }) });
    const first = await t.request('/acme/dists/stable/InRelease', { token: null });
    const since = first.headers.get('last-modified')!;
    expect((await t.request('/acme/dists/stable/InRelease', { token: null, headers: { 'if-modified-since': since } })).status).toBe(304);
    clock += 500; // same second
    await t.request('/api/v1/repos/acme', { method: 'PATCH', body: JSON.stringify({ distributions: { stable: { label: 'second' } } }) });
    const second = await t.request('/acme/dists/stable/InRelease', { token: null, headers: { 'if-modified-since': since } });
    expect(second.status).toBe(200);
    expect(await second.text()).toContain('Label: second');
  });

  it('never resolves a path outside the repository', async () => {
    const t = await withPackage();
    await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'other', public: true }) });
    const paths = [
      '/other/dists%2f..%2f..%2facme%2fdists%2fstable%2fInRelease',
      '/other/pool/..%2f..%2facme/pool/main/h/hello/hello_1.0_amd64.deb',
      '/other/pool/%252e%252e/acme/pool/main/h/hello/hello_1.0_amd64.deb',
      '/other/pool/main/h/hello/hello_1.0_amd64.deb',
      '/acme//dists/stable/InRelease',
      '/ACME/dists/stable/InRelease',
      `/acme/${'a/'.repeat(3000)}x`,
    ];
    for (const path of paths) {
      const res = await t.request(path, { token: null });
      expect([400, 404], path).toContain(res.status);
    }
  });
});
