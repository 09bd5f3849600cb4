// The Node host writes repository files by its own path (not through the web-standard app):
// the same answers as the app gives, checked over real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildDeb, type DebFile } from '../../helpers/debs.js';
import { api, startServer, type RunningServer } from '../../helpers/server.js';

let server: RunningServer;
let deb: DebFile;
let bytes: Uint8Array;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-node-host-'));
  // Over the 4 MiB that is served from memory, so the file is streamed from disk.
  const payload = new Uint8Array(6 * 1024 * 1024).map((_, i) => (i * 2654435761) >>> 24);
  deb = await buildDeb({ name: 'big', version: '1.0', arch: 'amd64', compression: 'none', files: { 'usr/share/big/blob': payload } }, dir);
  bytes = new Uint8Array(await readFile(deb.path));
  server = await startServer();
  const client = api(server.url, server.token);
  await client.createRepo('acme');
  await client.upload('acme', 'stable', 'main', [deb.path]);
});

afterAll(async () => {
  await server?.stop();
});

const pool = () => `${server.url}/acme/pool/main/b/big/big_1.0_amd64.deb`;

describe('Node host file serving', () => {
  it('streams a large pool file whole and in ranges', async () => {
    const full = await fetch(pool());
    expect(full.status).toBe(200);
    expect(full.headers.get('content-length')).toBe(String(bytes.length));
    expect(full.headers.get('cache-control')).toContain('immutable');
    // Buffer comparison: a deep equality over megabytes takes seconds.
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);
    const part = await fetch(pool(), { headers: { range: 'bytes=4194300-5242890' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 4194300-5242890/${bytes.length}`);
    expect(Buffer.from(await part.arrayBuffer()).equals(bytes.slice(4194300, 5242891))).toBe(true);
    const unsatisfiable = await fetch(pool(), { headers: { range: `bytes=${bytes.length + 1}-` } });
    expect(unsatisfiable.status).toBe(416);
  });

  it('closes the file of a download the client abandons', async () => {
    // Descriptors of stored objects only: sockets come and go with connections.
    const openFiles = async () => {
      const fds = `/proc/${server.proc.pid}/fd`;
      const targets = await Promise.all((await readdir(fds)).map((fd) => readlink(join(fds, fd)).catch(() => '')));
      return targets.filter((target) => target.startsWith(server.dataDir)).length;
    };
    for (let i = 0; i < 20; i++) {
      const abort = new AbortController();
      const res = await fetch(pool(), { signal: abort.signal });
      await res.body!.getReader().read();
      abort.abort();
    }
    await expect.poll(openFiles, { timeout: 5000 }).toBe(0);
    const full = await fetch(pool());
    expect(Buffer.from(await full.arrayBuffer()).equals(bytes)).toBe(true);
  });

  it('answers HEAD, 304 and 404 like the app', async () => {
    const head = await fetch(pool(), { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('etag')).toBe(`"${deb.sha256}"`);
    expect((await fetch(pool(), { headers: { 'if-none-match': head.headers.get('etag')! } })).status).toBe(304);
    const inRelease = await fetch(`${server.url}/acme/dists/stable/InRelease`);
    expect(inRelease.status).toBe(200);
    expect(await inRelease.text()).toMatch(/^-----BEGIN PGP SIGNED MESSAGE-----/);
    for (const path of ['/acme/pool/main/b/big/nope.deb', '/nope/dists/stable/InRelease', '/acme/%2e%2e/x', '/acme/pool/%E0%A4%A']) {
      const res = await fetch(server.url + path);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not-found');
    }
  });

  it('answers 404 for a pool file missing from disk, and logs the inconsistency with its key', async () => {
    const gone = await buildDeb({ name: 'gone', version: '1.0', arch: 'all' }, await mkdtemp(join(tmpdir(), 'packyard-gone-')));
    await api(server.url, server.token).upload('acme', 'stable', 'main', [gone.path]);
    const blobs = join(server.dataDir, 'repos/acme/blobs');
    const ids: string[] = [];
    for (const shard of await readdir(blobs)) for (const id of await readdir(join(blobs, shard))) ids.push(`${shard}/${id}`);
    // The blob just uploaded: the one that is not big's.
    const sizes = await Promise.all(ids.map(async (id) => [id, (await readFile(join(blobs, id))).length] as const));
    const [goneId] = sizes.find(([, size]) => size !== bytes.length)!;
    await rm(join(blobs, goneId));
    const url = `${server.url}/acme/pool/main/g/gone/gone_1.0_all.deb`;
    for (const init of [{ method: 'HEAD' }, { headers: { range: 'bytes=0-9' } }, {}]) {
      const res = await fetch(url, init);
      expect(res.status, JSON.stringify(init)).toBe(404);
      if (init.method !== 'HEAD') expect(((await res.json()) as { error: { code: string } }).error.code).toBe('not-found');
    }
    const missing = (await server.logTail(100_000)).split('\n').filter((line) => line.includes('storage inconsistency'));
    expect(missing).toHaveLength(3);
    expect(JSON.parse(missing[0]!)).toMatchObject({ level: 'error', key: `repos/acme/blobs/${goneId}` });
  });
});
