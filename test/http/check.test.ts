// The heartbeat walks a repository as apt and dnf do, through the app's own HTTP surface and on
// along redirects, and names each file a client would fail to get.
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, open, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formats } from '../../src/formats/index.js';
import { buildSnapshot } from '../../src/core/publish.js';
import { poolEntry } from '../../src/core/pool-set.js';
import { readBytes } from '../../src/storage/types.js';
import { webGzip } from '../../src/util/codecs/compress.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { checkRepo, type CheckResult } from '../../src/http/check.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { buildRpm, type BuiltRpm } from '../helpers/rpms.js';
import { bytesUpload } from '../helpers/service.js';
import { testApp } from '../helpers/app.js';

let work: string;
let debs: DebFile[];
let rpm: BuiltRpm;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-check-'));
  debs = [
    await buildDeb({ name: 'alpha', version: '1.0', arch: 'amd64', files: { 'usr/share/alpha/a.txt': 'alpha payload' } }, work),
    await buildDeb({ name: 'beta', version: '2.0', arch: 'all', files: { 'usr/share/beta/b.txt': 'beta payload' } }, work),
  ];
  rpm = await buildRpm({ name: 'gamma', version: '3.0', release: '1' }, work);
});

type App = Awaited<ReturnType<typeof testApp>>;

async function check(app: App, repo: string, query = '', origin = ''): Promise<CheckResult> {
  const res = await app.request(`${origin}/api/v1/repos/${repo}/check${query}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { check: CheckResult }).check;
}

/** A repository of the two debs and one of the rpm, both private. */
async function seeded(): Promise<{ app: App; debPool: string[]; rpmPool: string }> {
  const app = await testApp();
  await app.service.createRepo({ name: 'd', type: 'deb' }, 'test');
  await app.service.createRepo({ name: 'r', type: 'rpm' }, 'test');
  const uploaded = await app.service.upload('d', await Promise.all(debs.map(async (d) => bytesUpload(d.path, new Uint8Array(await readFile(d.path))))), { distribution: 'stable', actor: 'test' });
  const rpms = await app.service.upload('r', [bytesUpload('gamma.rpm', new Uint8Array(await readFile(rpm.path)))], { distribution: 'el9', actor: 'test' });
  return { app, debPool: uploaded.packages.map((p) => p.filename), rpmPool: rpms.packages[0]!.filename };
}

/** The stored key of a pool file, by a client path of the repository's current snapshot. */
async function poolKey(app: App, repo: string, path: string): Promise<string> {
  const snapshot = await app.service.getRepo(repo);
  const found = await formats.of(snapshot).resolve(path, snapshot, { base: () => 'http://localhost' });
  if (found?.kind !== 'pool') throw new Error(`${path} is not a pool file`);
  return (await poolEntry(app.service.store, snapshot, found.poolPath))!.key!;
}

/** The same storage served by a fresh app, as after a restart (no bytes remembered in memory). */
const restarted = (app: App) => testApp(undefined, app.storage);

describe('the heartbeat on stored repositories', () => {
  it('passes on an uploaded deb and rpm repository, and keeps the last result', async () => {
    const { app, debPool } = await seeded();
    expect((await app.request('/api/v1/repos/d/check/last')).status).toBe(404);

    const deb = await check(app, 'd');
    expect(deb).toMatchObject({ repo: 'd', ok: true, full: false, broken: [] });
    // InRelease, Release, Release.gpg, the indexes and their by-hash copies, and both packages.
    expect(deb.checked).toBeGreaterThan(10);
    expect(deb.snapshot).toBe((await app.service.getRepo('d')).id);

    const rpmCheck = await check(app, 'r');
    expect(rpmCheck).toMatchObject({ repo: 'r', ok: true, broken: [] });

    const last = await app.request('/api/v1/repos/d/check/last');
    expect(last.status).toBe(200);
    expect(((await last.json()) as { check: CheckResult }).check).toEqual(deb);
    // The last result lives outside the repository's folder: gc never sweeps it.
    expect(await readBytes(app.storage, 'system/checks/d.json')).not.toBeNull();
    expect(debPool).toHaveLength(2);

    // Reading it needs read on a private repository.
    expect((await app.request('/api/v1/repos/d/check', { token: null })).status).toBe(401);
    expect((await app.request('/api/v1/repos/d/check/last', { token: null })).status).toBe(401);
    expect((await app.request('/api/v1/repos/nope/check')).status).toBe(404);
  });

  it('names a deleted pool file (404) and an index whose bytes changed (sha256)', async () => {
    const { app, debPool, rpmPool } = await seeded();
    await app.storage.delete(await poolKey(app, 'd', debPool[0]!));
    await app.storage.delete(await poolKey(app, 'r', `el9/x86_64/${rpmPool}`));
    const packages = (await app.service.getRepo('d')).files['dists/stable/main/binary-amd64/Packages']!;
    // `Packages` is kept as its `.gz`: that object now holds other text of the same size.
    const bytes = gunzipSync((await readBytes(app.storage, packages.key))!);
    bytes[0] = bytes[0] === 0x50 ? 0x51 : 0x50;
    await app.storage.put(packages.key, gzipSync(bytes));

    const fresh = await restarted(app);
    const deb = await check(fresh, 'd');
    expect(deb.ok).toBe(false);
    expect(deb.broken).toContainEqual({ path: debPool[0], problem: 'status', detail: 'HTTP 404' });
    expect(deb.broken).toContainEqual(expect.objectContaining({ path: 'dists/stable/main/binary-amd64/Packages', problem: 'sha256' }));
    // Its by-hash copy is the same object: named too. The other package is fine.
    expect(deb.broken).toContainEqual(expect.objectContaining({ path: `dists/stable/main/binary-amd64/by-hash/SHA256/${packages.sha256}`, problem: 'sha256' }));
    expect(deb.broken.map((b) => b.path)).not.toContain(debPool[1]);

    const rpmCheck = await check(fresh, 'r');
    // A noarch package is in every architecture's folder: one stored file, named in each.
    expect(rpmCheck.broken.map((b) => b.path).sort()).toEqual([`el9/aarch64/${rpmPool}`, `el9/x86_64/${rpmPool}`]);
    expect(rpmCheck.broken.every((b) => b.problem === 'status' && b.detail === 'HTTP 404')).toBe(true);

    // The stored result says so too.
    const last = ((await (await fresh.request('/api/v1/repos/d/check/last')).json()) as { check: CheckResult }).check;
    expect(last.ok).toBe(false);
  });

  it('catches a pool file changed at the same size with full (or a changed hook), not in the quick check', async () => {
    const { app, debPool } = await seeded();
    const key = await poolKey(app, 'd', debPool[1]!);
    const bytes = (await readBytes(app.storage, key))!;
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await app.storage.put(key, bytes);

    const fresh = await restarted(app);
    expect((await check(fresh, 'd')).ok).toBe(true);
    const full = await check(fresh, 'd', '?full=1');
    expect(full.full).toBe(true);
    expect(full.broken).toEqual([expect.objectContaining({ path: debPool[1], problem: 'sha256' })]);
    expect(full.bytes).toBeGreaterThan(bytes.length);

    const changed: string[] = [];
    const hooked = await checkRepo(fresh.service.store, formats, 'd', {
      local: (request) => Promise.resolve(fresh.app.fetch(request)),
      origin: 'http://localhost',
      authorization: 'Bearer test-admin-token',
      createHasher: createNodeHasher,
      changed: (path) => {
        changed.push(path);
        return path === debPool[1];
      },
    });
    expect(changed.sort()).toEqual([...debPool].sort());
    expect(hooked.broken).toEqual([expect.objectContaining({ path: debPool[1], problem: 'sha256' })]);
  });
});

/** A host of release assets on another origin: records what it was sent; `mode` says how it answers. */
interface AssetHost {
  url: string;
  mode: 'ok' | 'missing' | 'longer' | 'altered' | 'loop' | 'silent';
  seen: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

async function assetHost(file: Uint8Array): Promise<AssetHost> {
  const host: AssetHost = { url: '', mode: 'ok', seen: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    host.seen.push(req.headers);
    if (host.mode === 'missing') return res.writeHead(404).end();
    // Takes the request and never answers (until the test closes the server).
    if (host.mode === 'silent') return;
    if (host.mode === 'loop') return res.writeHead(302, { location: req.url }).end();
    let body = Buffer.from(file);
    if (host.mode === 'longer') body = Buffer.concat([body, Buffer.from('extra')]);
    if (host.mode === 'altered') body[body.length - 1] = body[body.length - 1]! ^ 0xff;
    const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
    if (range) {
      const start = Number(range[1]);
      const end = Math.min(Number(range[2]), body.length - 1);
      res.writeHead(206, { 'content-range': `bytes ${start}-${end}/${body.length}`, 'content-length': end - start + 1 });
      return res.end(req.method === 'HEAD' ? undefined : body.subarray(start, end + 1));
    }
    res.writeHead(200, { 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  host.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  host.close = () => new Promise((resolve) => server.close(() => resolve()));
  return host;
}

describe('the heartbeat on a pool file kept elsewhere', () => {
  let host: AssetHost;
  let app: App;
  let filename: string;

  beforeAll(async () => {
    const deb = debs[0]!;
    host = await assetHost(new Uint8Array(await readFile(deb.path)));
    app = await testApp();
    await app.service.createRepo({ name: 'gh', type: 'deb' }, 'test');
    const format = formats.get('deb');
    const handle = await open(deb.path);
    const remote = {
      size: deb.size,
      sha256: deb.sha256,
      remote: { source: 'test', url: `${host.url}/assets/${deb.name}.deb`, ref: {} },
      async read(offset: number, length: number) {
        const bytes = new Uint8Array(length);
        const { bytesRead } = await handle.read(bytes, 0, length, offset);
        return bytes.subarray(0, bytesRead);
      },
    };
    const placement = { distribution: 'stable', component: 'main' };
    const record = await format.readRemote({ createHasher: createNodeHasher, now: () => new Date() }, remote, placement);
    await handle.close();
    filename = record.filename;
    const ctx = { store: app.service.store, signer: app.service.deps.signer, createHasher: createNodeHasher, gzip: webGzip, now: () => new Date() };
    await app.service.store.commit('gh', async (current) => (await buildSnapshot(ctx, format, current!, { actor: 'sync', add: [{ placement, records: [record] }] })).snapshot);
  });

  afterAll(async () => {
    await host?.close();
  });

  it('follows the redirect and passes, never sending the credential to the other origin', async () => {
    host.mode = 'ok';
    host.seen.length = 0;
    const result = await check(app, 'gh');
    expect(result.broken).toEqual([]);
    expect(result.ok).toBe(true);
    expect(host.seen.length).toBeGreaterThan(0);
    expect(host.seen.every((h) => h.authorization === undefined)).toBe(true);
    // Quick: one byte asked for, not the file.
    expect(host.seen.map((h) => h.range)).toEqual(['bytes=0-0']);

    host.seen.length = 0;
    expect((await check(app, 'gh', '?full=1')).ok).toBe(true);
    expect(host.seen.map((h) => h.range)).toEqual([undefined]);
    expect(host.seen.every((h) => h.authorization === undefined)).toBe(true);
  });

  it('names the file when the other origin answers 404, or another length, or loops', async () => {
    host.mode = 'missing';
    let result = await check(app, 'gh');
    expect(result.ok).toBe(false);
    expect(result.broken).toEqual([{ path: filename, problem: 'status', detail: expect.stringMatching(/^HTTP 404 at http:\/\/127\.0\.0\.1:\d+\/assets\/alpha\.deb$/) }]);

    host.mode = 'longer';
    result = await check(app, 'gh');
    expect(result.broken).toEqual([{ path: filename, problem: 'size', detail: expect.stringContaining(`expected ${debs[0]!.size}`) }]);

    host.mode = 'loop';
    result = await check(app, 'gh');
    expect(result.broken).toEqual([{ path: filename, problem: 'redirect', detail: expect.stringContaining('more than 5 redirects') }]);
  });

  it('hashes a remote file the changed hook names; an https client is never sent to http', async () => {
    host.mode = 'altered';
    expect((await check(app, 'gh')).ok).toBe(true);
    const hooked = await checkRepo(app.service.store, formats, 'gh', {
      local: (request) => Promise.resolve(app.app.fetch(request)),
      origin: 'http://localhost',
      createHasher: createNodeHasher,
      authorization: 'Bearer test-admin-token',
      changed: (_path, entry) => entry.remote !== undefined,
    });
    expect(hooked.broken).toEqual([expect.objectContaining({ path: filename, problem: 'sha256' })]);

    host.mode = 'ok';
    // Clients that reach the server over https would be sent to an http asset, which apt refuses:
    // the server answers 502 instead of such a redirect, and the walk names the file.
    const secure = await check(app, 'gh', '', 'https://pkgs.example.com');
    expect(secure.broken).toEqual([expect.objectContaining({ path: filename, problem: 'status', detail: 'HTTP 502' })]);
    const refused = await app.request(`/gh/${filename}`, { headers: { 'x-forwarded-proto': 'https' } });
    expect(refused.status).toBe(502);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('insecure-redirect');
  });

  it('says a host it cannot reach is unreachable', async () => {
    const closed = await assetHost(new Uint8Array(0));
    await closed.close();
    const result = await checkRepo(app.service.store, formats, 'gh', {
      local: (request) => Promise.resolve(app.app.fetch(request)),
      origin: 'http://localhost',
      createHasher: createNodeHasher,
      authorization: 'Bearer test-admin-token',
      // The asset host as if it had gone: every request to it fails as fetch fails.
      remote: () => fetch(`${closed.url}/gone`),
    });
    expect(result.broken).toEqual([expect.objectContaining({ path: filename, problem: 'unreachable' })]);
  });

  it('gives up on a host that takes the request and never answers', async () => {
    host.mode = 'silent';
    const started = Date.now();
    const result = await checkRepo(app.service.store, formats, 'gh', {
      local: (request) => Promise.resolve(app.app.fetch(request)),
      origin: 'http://localhost',
      createHasher: createNodeHasher,
      authorization: 'Bearer test-admin-token',
      remoteAnswerMs: 300,
    });
    host.mode = 'ok';
    expect(result.broken).toEqual([expect.objectContaining({ path: filename, problem: 'unreachable', detail: expect.stringContaining('no answer within 0.3 s') })]);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
