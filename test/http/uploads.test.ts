// Resumable uploads through the API: start, parts in any order (resent, wrong, missing), status,
// publish by id alongside ordinary files, abort; and what the next attempt finds after a crash.
import { beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb } from '../helpers/debs.js';
import { testApp } from '../helpers/app.js';
import { run, runOk } from '../helpers/exec.js';
import { api, startServer } from '../helpers/server.js';
import { gc } from '../../src/core/gc.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { readJson, readBytes, type Storage } from '../../src/storage/types.js';
import { Uploads, type UploadSession } from '../../src/core/uploads.js';
import { MemoryStorage } from '../../src/storage/memory.js';

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

async function setup<S extends Storage = MemoryStorage>(storage?: S) {
  const t = await testApp(undefined, storage);
  expect((await t.request('/api/v1/repos', { method: 'POST', body: JSON.stringify({ name: 'acme' }) })).status).toBe(201);
  const start = async (size = big.length) => {
    const res = await t.request('/api/v1/repos/acme/uploads', { method: 'POST', body: JSON.stringify({ name: 'big.deb', size }) });
    expect(res.status).toBe(201);
    return ((await res.json()) as { upload: Upload }).upload;
  };
  const part = (u: Upload, n: number, body = big.subarray((n - 1) * u.partSize, Math.min(n * u.partSize, big.length))) =>
    t.request(`/api/v1/repos/acme/uploads/${u.id}/parts/${n}`, { method: 'PUT', body, headers: { 'content-length': String(body.length) } });
  const status = async (u: Upload) => ((await (await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).json()) as { upload: Upload }).upload;
  const publish = (u: Upload) => t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [u.id] }), headers: { 'content-type': 'application/json' } });
  const session = async (u: Upload) => (await readJson<UploadSession>(t.storage, `repos/acme/uploads/${u.id}.json`))!;
  return { ...t, start, part, status, publish, session };
}

/** The same data directory opened again, as the next process after a crash would. */
async function reopened(dir: string) {
  const t = await testApp(undefined, new FsStorage(dir));
  const status = async (u: Upload) => ((await (await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).json()) as { upload: Upload }).upload;
  const publish = (u: Upload) => t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [u.id] }), headers: { 'content-type': 'application/json' } });
  return { ...t, status, publish };
}

async function expectServed(t: { request(path: string): Response | Promise<Response> }, bytes: Uint8Array) {
  const pool = await t.request('/acme/pool/main/b/big/big_1.0_amd64.deb');
  expect(pool.status).toBe(200);
  expect(Buffer.from(await pool.arrayBuffer()).equals(bytes)).toBe(true);
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

describe('resumable uploads after a crash', () => {
  const sendAll = async (t: Awaited<ReturnType<typeof setup>>) => {
    const u = await t.start();
    for (let n = 1; n <= u.parts; n++) expect((await t.part(u, n)).status).toBe(200);
    return u;
  };

  it('publishes an upload whose previous publish was killed after the join, while the package was read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-crash-'));
    const t = await setup(new FsStorage(dir));
    const u = await sendAll(t);
    // What the publish does first; the kill comes before the package is read and published.
    await new Uploads(t.storage).complete('acme', u.id);
    const next = await reopened(dir);
    expect((await next.status(u)).received).toEqual([1, 2, 3]);
    const res = await next.publish(u);
    expect(res.status, await res.clone().text()).toBe(201);
    await expectServed(next, big);
    expect((await next.request(`/api/v1/repos/acme/uploads/${u.id}`)).status).toBe(404);
  });

  it('publishes an upload whose part was sent again and the crash came before its answer was recorded', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-crash-'));
    const t = await setup(new FsStorage(dir));
    const u = await sendAll(t);
    const session = await t.session(u);
    // The storage half of sending part 2 again; its record still names the first sending.
    await t.storage.putPart(session.key, session.storageUploadId, 2, big.subarray(u.partSize, 2 * u.partSize), u.partSize);
    const next = await reopened(dir);
    expect((await next.status(u)).received).toEqual([1, 2, 3]);
    const res = await next.publish(u);
    expect(res.status, await res.clone().text()).toBe(201);
    await expectServed(next, big);
  });

  it('publishes again, keeping the package, an upload whose publish was killed after it committed', async () => {
    const t = await setup();
    const u = await sendAll(t);
    const prefix = `repos/acme/uploads/${u.id}`;
    const saved = new Map<string, Uint8Array>();
    for await (const obj of t.storage.list(prefix)) saved.set(obj.key, (await readBytes(t.storage, obj.key))!);
    expect((await t.publish(u)).status).toBe(201);
    // The session and its records, as a kill between the commit and the session's end leaves them.
    for (const [key, bytes] of saved) await t.storage.put(key, bytes);
    expect((await t.status(u)).received).toEqual([1, 2, 3]);
    const again = await t.publish(u);
    expect(again.status, await again.clone().text()).toBeLessThan(300);
    await expectServed(t, big);
  });

  it('says a part is missing, and claims none, when the backend lost one', async () => {
    const t = await setup();
    const u = await sendAll(t);
    const session = await t.session(u);
    for await (const obj of t.storage.list(`${session.key}.parts/`)) if (/\/2(\.|$)/.test(obj.key)) await t.storage.delete(obj.key);
    const res = await t.publish(u);
    expect(res.status).toBe(409);
    expect(await errorCode(res)).toBe('upload-incomplete');
    expect((await t.status(u)).received).toEqual([]);
    for (let n = 1; n <= u.parts; n++) expect((await t.part(u, n)).status).toBe(200);
    expect((await t.publish(u)).status).toBe(201);
    await expectServed(t, big);
  });

  it('publishes an upload once when two requests (a batch naming it twice, or a retry) publish it at the same time', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-crash-'));
    const t = await setup(new FsStorage(dir));
    const u = await sendAll(t);
    const twice = await t.request('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [u.id, u.id] }), headers: { 'content-type': 'application/json' } });
    expect(twice.status).toBe(409);
    expect(await errorCode(twice)).toBe('upload-busy');
    const answers = await Promise.all([t.publish(u), t.publish(u)]);
    expect(answers.map((res) => res.status).sort()).toEqual([201, 409]);
    await expectServed(t, big);
    expect((await t.request(`/api/v1/repos/acme/uploads/${u.id}`)).status).toBe(404);
  });

  it('refuses to abort an upload while it is being published', async () => {
    const t = await setup();
    const u = await sendAll(t);
    let release = () => {};
    const joining = new Promise<void>((resolve) => (release = resolve));
    const complete = t.storage.completeMultipart.bind(t.storage);
    let started = () => {};
    const joinStarted = new Promise<void>((resolve) => (started = resolve));
    t.storage.completeMultipart = async (...args) => {
      started();
      await joining;
      return complete(...args);
    };
    const publishing = t.publish(u);
    await joinStarted;
    const abort = await t.request(`/api/v1/repos/acme/uploads/${u.id}`, { method: 'DELETE' });
    expect(abort.status).toBe(409);
    expect(await errorCode(abort)).toBe('upload-busy');
    release();
    expect((await publishing).status).toBe(201);
    await expectServed(t, big);
  });
});

describe('resumable uploads on a full disk', () => {
  it('claims no part, and consumes no upload, whose write failed for want of space; both go through once there is room', async (ctx) => {
    const mountPoint = await mkdtemp(join(tmpdir(), 'packyard-full-'));
    // A small tmpfs of its own: the disk fills for this test alone.
    if ((await run('mount', ['-t', 'tmpfs', '-o', 'size=32m', 'tmpfs', mountPoint])).code !== 0) return ctx.skip();
    try {
      const t = await setup(new FsStorage(mountPoint));
      const u = await t.start();
      const session = await t.session(u);
      const parts = async () => {
        const keys = [];
        for await (const obj of t.storage.list(`${session.key}.parts/`)) keys.push(obj.key);
        return keys;
      };
      const filler = join(mountPoint, 'filler');
      await writeFile(filler, new Uint8Array(28 * MiB));
      expect((await t.part(u, 1)).status).toBeGreaterThanOrEqual(500);
      expect((await t.status(u)).received).toEqual([]);
      expect(await parts()).toEqual([]);
      await rm(filler);

      for (let n = 1; n <= u.parts; n++) expect((await t.part(u, n)).status).toBe(200);
      // 12 MiB of parts and 16 MiB of filler leave too little for the 12 MiB join.
      await writeFile(filler, new Uint8Array(16 * MiB));
      const full = await t.publish(u);
      expect(full.status, await full.clone().text()).toBeGreaterThanOrEqual(500);
      expect((await t.status(u)).received).toEqual([1, 2, 3]);
      await rm(filler);
      const res = await t.publish(u);
      expect(res.status, await res.clone().text()).toBe(201);
      await expectServed(t, big);
    } finally {
      await run('umount', [mountPoint]);
    }
  });
});

// A real `packyard serve` (parts of 32 MiB), killed with SIGKILL at the moment that matters.
describe('resumable uploads to a server killed mid-way', () => {
  let huge: Uint8Array<ArrayBuffer>;
  beforeAll(async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-huge-'));
    const payload = new Uint8Array(72 * MiB).map((_, i) => (i * 2654435761) >>> 24);
    huge = new Uint8Array(await readFile((await buildDeb({ name: 'big', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/big/blob': payload } }, dir)).path));
  });

  const startUpload = async (server: { url: string; token: string }, size: number) => {
    const client = api(server.url, server.token);
    const res = await client.fetch('/api/v1/repos/acme/uploads', { method: 'POST', body: JSON.stringify({ name: 'big.deb', size }), headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(201);
    return { client, upload: ((await res.json()) as { upload: Upload }).upload };
  };
  /** Resolves once `check` holds, looking at every turn of the event loop (requests keep flowing). */
  const until = async (check: () => boolean, what: string) => {
    for (const deadline = Date.now() + 30_000; !check(); await new Promise((resolve) => setImmediate(resolve))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    }
  };

  it('publishes, after a restart, an upload whose join the kill cut short', async () => {
    const server = await startServer();
    try {
      await api(server.url, server.token).createRepo('acme');
      const { client, upload } = await startUpload(server, huge.length);
      expect(upload.parts).toBe(3);
      for (let n = 1; n <= upload.parts; n++) {
        const body = huge.subarray((n - 1) * upload.partSize, Math.min(n * upload.partSize, huge.length));
        expect((await client.fetch(`/api/v1/repos/acme/uploads/${upload.id}/parts/${n}`, { method: 'PUT', body })).status).toBe(200);
      }
      const { key } = JSON.parse(await readFile(join(server.dataDir, `repos/acme/uploads/${upload.id}.json`), 'utf8')) as UploadSession;
      const blob = join(server.dataDir, key);
      const size = () => statSync(blob, { throwIfNoEntry: false })?.size ?? 0;
      const publishing = client.fetch('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [upload.id] }), headers: { 'content-type': 'application/json' } }).catch(() => null);
      await until(() => size() > 0, 'the join to start');
      server.proc.kill('SIGSTOP');
      const cut = size();
      await server.kill('SIGKILL');
      await publishing;
      expect(cut, 'the kill came after the join had finished').toBeLessThan(huge.length);

      const restarted = await startServer({ dataDir: server.dataDir, token: server.token });
      try {
        const again = api(restarted.url, restarted.token);
        const status = ((await (await again.fetch(`/api/v1/repos/acme/uploads/${upload.id}`)).json()) as { upload: Upload }).upload;
        expect(status.received).toEqual([1, 2, 3]);
        const res = await again.fetch('/api/v1/repos/acme/packages?distribution=stable', { method: 'POST', body: JSON.stringify({ uploads: [upload.id] }), headers: { 'content-type': 'application/json' } });
        expect(res.status, await res.clone().text()).toBe(201);
        await expectServed({ request: (path) => again.fetch(path) }, huge);
      } finally {
        await restarted.stop({ keepData: true });
      }
    } finally {
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });

  it('claims no part the kill cut short, and gc removes what it left once the grace period is over', async () => {
    const server = await startServer();
    try {
      await api(server.url, server.token).createRepo('acme');
      const { client, upload } = await startUpload(server, huge.length);
      const { key } = JSON.parse(await readFile(join(server.dataDir, `repos/acme/uploads/${upload.id}.json`), 'utf8')) as UploadSession;
      const partsDir = join(server.dataDir, `${key}.parts`);
      const written = async () => {
        let total = 0;
        for (const entry of await readdir(partsDir, { recursive: true, withFileTypes: true }).catch(() => [])) if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size;
        return total;
      };
      // Part 1: 10 MiB, then the client waits; the server is killed in the middle of the part.
      let sent = false;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent) return new Promise(() => {});
          sent = true;
          controller.enqueue(huge.subarray(0, 10 * MiB));
        },
      });
      const sending = client.fetch(`/api/v1/repos/acme/uploads/${upload.id}/parts/1`, { method: 'PUT', body, headers: { 'content-length': String(upload.partSize) }, duplex: 'half' } as RequestInit).catch(() => null);
      for (const deadline = Date.now() + 30_000; (await written()) < 10 * MiB; await new Promise((r) => setTimeout(r, 10))) {
        if (Date.now() > deadline) throw new Error('timed out waiting for the part to be half written');
      }
      await server.kill('SIGKILL');
      await sending;

      const next = await reopened(server.dataDir);
      expect((await next.status(upload)).received).toEqual([]);
      const cli = async (...args: string[]) => JSON.parse((await runOk(process.execPath, ['bin/packyard.mjs', ...args, '--data', server.dataDir, '--repo', 'acme', '--json'])).stdout) as [Record<string, unknown>];
      const [checked] = await cli('fsck');
      expect((checked.garbage as { bytes: number }).bytes).toBeGreaterThanOrEqual(10 * MiB);
      // Everything the kill left, made older than gc's shortest grace period.
      const past = new Date(Date.now() - 20 * 60_000);
      for (const entry of await readdir(join(server.dataDir, 'repos/acme'), { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) await utimes(join(entry.parentPath, entry.name), past, past);
      }
      const [collected] = await cli('gc', '--grace', '10m');
      expect(collected.abandonedUploads).toBe(1);
      expect(await written()).toBe(0);
      const blobs = await readdir(join(server.dataDir, 'repos/acme/blobs'), { recursive: true, withFileTypes: true }).catch(() => []);
      expect(blobs.filter((e) => e.isFile()).map((e) => e.name)).toEqual([]);
    } finally {
      await rm(server.dataDir, { recursive: true, force: true });
    }
  });
});
