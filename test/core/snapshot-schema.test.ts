// Snapshots are immutable and users keep their data: every shape this project has written is read
// (the first builds kept one pool map and unsharded lists; schema 1 had no `schema` field), a
// newer schema is refused clearly, and a pool entry may be a remote object.
import { beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/memory.js';
import { readJson, readText } from '../../src/storage/types.js';
import { layout } from '../../src/core/layout.js';
import { fsck } from '../../src/core/fsck.js';
import { SNAPSHOT_SCHEMA, type PoolMap, type Snapshot } from '../../src/core/snapshot.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { buildDeb, type DebFile } from '../helpers/debs.js';
import { fileBytes, fileText, fileUpload, testService } from '../helpers/service.js';
import { testApp } from '../helpers/app.js';
import { packyardError } from '../helpers/errors.js';

let hello: DebFile;
let lib: DebFile;
let tool: DebFile;
let zeta: DebFile;
const options = { distribution: 'stable', component: 'main', actor: 'test' };

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-schema-'));
  hello = await buildDeb({ name: 'hello', version: '1.0-1', arch: 'amd64' }, dir);
  lib = await buildDeb({ name: 'libfoo1', version: '3.1-2', arch: 'all' }, dir);
  tool = await buildDeb({ name: 'tool', version: '0.1', arch: 'amd64' }, dir);
  zeta = await buildDeb({ name: 'zeta', version: '2.0', arch: 'amd64' }, dir);
});

/** Rewrites the head snapshot of `repo` in place, as `change` says (what an older build left). */
async function rewriteHead(storage: MemoryStorage, repo: string, change: (stored: Record<string, unknown>) => Promise<void> | void): Promise<void> {
  const head = (await readJson<{ snapshot: string }>(storage, layout.head(repo)))!;
  const key = layout.snapshot(repo, head.snapshot);
  const stored = (await readJson<Record<string, unknown>>(storage, key))!;
  await change(stored);
  await storage.put(key, JSON.stringify(stored));
}

/** The head snapshot as the first builds wrote it: no schema or parentCreatedAt, one pool map, a list per architecture. */
async function toFirstShape(storage: MemoryStorage, repo: string): Promise<void> {
  await rewriteHead(storage, repo, async (s) => {
    const snapshot = s as unknown as Snapshot;
    const pool: PoolMap = {};
    for (const key of Object.values(snapshot.pool)) Object.assign(pool, await readJson<PoolMap>(storage, key));
    await storage.put(layout.meta(repo, 'legacy-pool'), JSON.stringify(pool));
    const lists: Record<string, Record<string, Record<string, string>>> = {};
    for (const [d, components] of Object.entries(snapshot.lists)) {
      lists[d] = {};
      for (const [c, byArch] of Object.entries(components)) {
        lists[d][c] = {};
        for (const [a, shards] of Object.entries(byArch)) {
          const records = [];
          for (const key of Object.values(shards).sort()) records.push(...(await readJson<unknown[]>(storage, key))!);
          const key = layout.meta(repo, `legacy-${d}-${c}-${a}`);
          await storage.put(key, JSON.stringify(records));
          lists[d][c][a] = key;
        }
      }
    }
    // The first builds stored every file as itself, under both by-hash names.
    for (const entry of Object.values(snapshot.files)) {
      const bytes = await fileBytes(storage, entry);
      for (const [name, hex] of [['SHA256', entry.sha256], ['SHA512', entry.sha512!]] as const) await storage.put(layout.byHash(repo, name, hex), bytes);
      entry.key = layout.byHash(repo, 'SHA256', entry.sha256);
      delete entry.encoding;
      delete entry.copies;
    }
    Object.assign(s, { pool: layout.meta(repo, 'legacy-pool'), lists });
    delete s.schema;
    delete s.parentCreatedAt;
  });
}

describe('stored snapshot shapes', () => {
  it('serves, lists, publishes onto and checks a repository in the first shape (one pool map, unsharded lists)', async () => {
    const storage = new MemoryStorage();
    await (await testService(storage)).createRepo({ name: 'acme', type: 'deb' }, 'test');
    await (await testService(storage)).upload('acme', [await fileUpload(hello.path), await fileUpload(lib.path), await fileUpload(tool.path)], options);
    await toFirstShape(storage, 'acme');

    const { service, request } = await testApp(undefined, storage);
    expect((await service.listPackages('acme')).map((p) => p.package).sort()).toEqual(['hello', 'libfoo1', 'tool']);
    const served = await request('/acme/pool/main/h/hello/hello_1.0-1_amd64.deb');
    expect(served.status).toBe(200);
    expect((await served.arrayBuffer()).byteLength).toBe(hello.size);
    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
    // Schema 1 did not name the SHA512 copies of a deb repository's indexes; they are still checked.
    const packagesEntry = (await service.getRepo('acme')).files['dists/stable/main/binary-arm64/Packages']!;
    const copy = layout.byHash('acme', 'SHA512', packagesEntry.sha512!);
    const bytes = (await readText(storage, copy))!;
    await storage.delete(copy);
    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([{ key: copy, path: 'dists/stable/main/binary-arm64/Packages', problem: 'missing' }]);
    await storage.put(copy, bytes);

    // A publish splits what it touches into shards; the rest is carried along and still served.
    await service.upload('acme', [await fileUpload(zeta.path)], options);
    await service.remove('acme', { distribution: 'stable', package: 'tool', version: '0.1', architecture: 'amd64' }, 'test');
    const next = await service.getRepo('acme');
    expect(next.schema).toBe(SNAPSHOT_SCHEMA);
    expect(Object.keys(next.pool)).not.toContain('');
    expect(Object.keys(next.lists.stable!.main!.amd64!).sort()).toEqual(['h', 'z']);
    expect((await service.listPackages('acme')).map((p) => p.package).sort()).toEqual(['hello', 'libfoo1', 'zeta']);
    const packages = await fileText(storage, next.files['dists/stable/main/binary-amd64/Packages']!);
    expect(packages.match(/^Package: .*$/gm)).toEqual(['Package: hello', 'Package: libfoo1', 'Package: zeta']);
    expect((await request('/acme/pool/main/libf/libfoo1/libfoo1_3.1-2_all.deb')).status).toBe(200);
    // Removed, but still listed by the snapshots gc keeps (here, the upgraded one): a client that
    // read the older index still gets it, until gc collects it.
    expect((await request('/acme/pool/main/t/tool/tool_0.1_amd64.deb')).status).toBe(200);
    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
    // The history before the upgrade is still there.
    expect((await service.snapshots('acme')).map((s) => s.seq)).toEqual([3, 2, 1, 0]);
  });

  it('refuses a snapshot of a newer schema with a clear error, not a misreading', async () => {
    const storage = new MemoryStorage();
    await (await testService(storage)).createRepo({ name: 'acme', type: 'deb' }, 'test');
    await rewriteHead(storage, 'acme', (s) => void (s.schema = SNAPSHOT_SCHEMA + 1));
    const err = await packyardError(async () => (await testService(storage)).getRepo('acme'));
    expect(err).toMatchObject({ status: 500, code: 'newer-schema' });
    expect(err.message).toMatch(/upgrade Packyard/);
  });

  it('answers a repository of a type this build does not serve with a 500 that says so, not a 400', async () => {
    const storage = new MemoryStorage();
    await (await testService(storage)).createRepo({ name: 'acme', type: 'deb', public: true }, 'test');
    await rewriteHead(storage, 'acme', (s) => void (s.type = 'helm'));
    const { request } = await testApp(undefined, storage);
    const res = await request('/acme/dists/stable/InRelease');
    expect(res.status).toBe(500);
    expect(await res.json()).toMatchObject({ error: { code: 'unknown-format' } });
  });

  it('serves a remote pool entry by a redirect; fsck and gc leave it to where it lives', async () => {
    const storage = new MemoryStorage();
    await (await testService(storage)).createRepo({ name: 'acme', type: 'deb' }, 'test');
    await (await testService(storage)).upload('acme', [await fileUpload(hello.path)], options);
    const url = 'https://objects.example.com/releases/hello_1.0-1_amd64.deb?sig=abc';
    await rewriteHead(storage, 'acme', async (s) => {
      const pool = s.pool as Record<string, string>;
      const map = (await readJson<PoolMap>(storage, pool['main/h']!))!;
      const path = 'pool/main/h/hello/hello_1.0-1_amd64.deb';
      await storage.delete(map[path]!.key!);
      map[path] = { remote: { source: 'test', url, ref: {} }, size: map[path]!.size, sha256: map[path]!.sha256, refs: 1 };
      pool['main/h'] = layout.meta('acme', 'remote-pool');
      await storage.put(pool['main/h'], JSON.stringify(map));
    });
    const { service, request } = await testApp(undefined, storage);
    const served = await request('/acme/pool/main/h/hello/hello_1.0-1_amd64.deb');
    expect(served.status).toBe(302);
    expect(served.headers.get('location')).toBe(url);
    expect((await fsck(service.store, createNodeHasher, 'acme')).problems).toEqual([]);
    // Publishing beside it keeps it remote.
    await service.upload('acme', [await fileUpload(zeta.path)], options);
    expect((await request('/acme/pool/main/h/hello/hello_1.0-1_amd64.deb')).headers.get('location')).toBe(url);
  });
});
