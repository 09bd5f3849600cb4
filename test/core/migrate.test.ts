// `migrate` copies a whole store between backends, verified, resumable, heads last; and gc aborts
// the multipart writes a crashed writer left in a bucket. The source is a copy of the v1 upgrade
// fixture (real stored data) plus an object of several S3 parts.
import { describe, expect, it } from 'vitest';
import { cp, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { readBytes, type Storage } from '../../src/storage/types.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { MIGRATION_MARKER, migrate } from '../../src/core/migrate.js';
import { gc } from '../../src/core/gc.js';
import { layout } from '../../src/core/layout.js';
import { repoRoot } from '../helpers/exec.js';
import { emptyS3 } from '../helpers/radosgw.js';
import { testService } from '../helpers/service.js';

const BIG = 'repos/acme/blobs/ff/big-object';

/** A data directory copied from the fixture, with a 20 MiB object (three parts of a streamed S3 put). */
async function source(): Promise<FsStorage> {
  const dir = await mkdtemp(join(tmpdir(), 'packyard-migrate-src-'));
  await cp(join(repoRoot, 'test/fixtures/upgrade/v1-data'), dir, { recursive: true });
  const fs = new FsStorage(dir);
  await fs.put(BIG, new Uint8Array(randomBytes(20 * 1024 * 1024)));
  return fs;
}

async function keysOf(storage: Storage): Promise<string[]> {
  const keys = [];
  for await (const obj of storage.list('')) keys.push(obj.key);
  return keys.sort();
}

async function expectSame(from: Storage, to: Storage) {
  const keys = await keysOf(from);
  expect(await keysOf(to)).toEqual(keys);
  for (const key of keys) expect(Buffer.from((await readBytes(to, key))!).equals(Buffer.from((await readBytes(from, key))!)), key).toBe(true);
}

const run = (from: Storage, to: Storage, extra: { force?: boolean; from?: string } = {}) => migrate(from, to, { from: extra.from ?? 'the source', force: extra.force, createHasher: createNodeHasher });

/** A target whose writes fail after `n` of them: a migration cut short. */
function failingAfter(target: Storage, n: number): Storage {
  let writes = 0;
  return new Proxy(target, {
    get(t, name, receiver) {
      if (name === 'put') {
        return (...args: Parameters<Storage['put']>) => {
          if (++writes > n) return Promise.reject(new Error('connection lost'));
          return t.put(...args);
        };
      }
      const value = Reflect.get(t, name, receiver);
      return typeof value === 'function' ? value.bind(t) : value;
    },
  });
}

describe('migrate', () => {
  it('copies every object, verified, and removes its marker', async () => {
    const from = await source();
    const to = new MemoryStorage();
    const report = await run(from, to);
    const count = (await keysOf(from)).length;
    expect(report).toMatchObject({ objects: count, skipped: 0 });
    expect(report.bytes).toBeGreaterThan(20 * 1024 * 1024);
    await expectSame(from, to);
    expect(await to.head(MIGRATION_MARKER)).toBeNull();
  });

  it('refuses a non-empty target, and with --force writes only what differs', async () => {
    const from = await source();
    const to = new MemoryStorage();
    await to.put('repos/other/head.json', '{}');
    await expect(run(from, to)).rejects.toMatchObject({ code: 'target-not-empty' });
    expect(await keysOf(to)).toEqual(['repos/other/head.json']);
    await run(from, to, { force: true });
    // Then a second run: every object is there intact.
    const again = await run(from, to, { force: true });
    expect(again).toMatchObject({ objects: 0, skipped: (await keysOf(from)).length });
    // A changed object is written again.
    await to.put(layout.head('acme'), '{"changed":true}');
    expect(await run(from, to, { force: true })).toMatchObject({ objects: 1 });
    const { 'repos/other/head.json': _, ...rest } = Object.fromEntries((await keysOf(to)).map((k) => [k, 1]));
    expect(Object.keys(rest).sort()).toEqual(await keysOf(from));
  });

  it('resumes a migration cut short, which never wrote a head before the objects it names', async () => {
    const from = await source();
    const to = new MemoryStorage();
    await expect(run(from, failingAfter(to, 40))).rejects.toThrow('connection lost');
    const partial = await keysOf(to);
    expect(partial).toContain(MIGRATION_MARKER);
    expect(partial.filter((k) => k.endsWith('/head.json') || k.startsWith('system/') && k !== MIGRATION_MARKER)).toEqual([]);
    // Another source's unfinished migration is not resumed without --force.
    await expect(run(from, to, { from: 'elsewhere' })).rejects.toThrow(/unfinished migration from the source/);
    const resumed = await run(from, to);
    expect(resumed.skipped).toBeGreaterThanOrEqual(30);
    expect(resumed.objects + resumed.skipped).toBe((await keysOf(from)).length);
    await expectSame(from, to);
  });

  it('moves a data directory into a bucket and back (radosgw), resuming there too', async () => {
    const from = await source();
    const bucket = await emptyS3({ prefix: 'store/' });
    await expect(run(from, failingAfter(bucket, 25))).rejects.toThrow('connection lost');
    const resumed = await run(from, bucket);
    expect(resumed.skipped).toBeGreaterThan(0);
    await expectSame(from, bucket);
    const back = new FsStorage(await mkdtemp(join(tmpdir(), 'packyard-migrate-back-')));
    expect(await run(bucket, back)).toMatchObject({ objects: (await keysOf(from)).length, skipped: 0 });
    await expectSame(from, back);
  }, 120_000);
});

describe('gc of multipart writes left in a bucket', () => {
  it('aborts those older than the grace period that no upload session names (radosgw, paged)', async () => {
    let listings = 0;
    const s3 = await emptyS3({
      maxKeys: 1,
      fetch: (request) => {
        if (request.method === 'GET' && new URL(request.url).searchParams.has('uploads')) listings++;
        return fetch(request);
      },
    });
    const service = await testService(s3);
    await service.createRepo({ name: 'acme', type: 'deb' }, 'test');
    // A writer that crashed mid-stream: an upload with a part, never completed nor aborted.
    const crashed = layout.blob('acme', crypto.randomUUID());
    const crashedId = await s3.createMultipart(crashed);
    await s3.putPart(crashed, crashedId, 1, new Uint8Array(5 * 1024 * 1024), 5 * 1024 * 1024);
    const crashed2 = layout.blob('acme', crypto.randomUUID());
    const crashedId2 = await s3.createMultipart(crashed2);
    // A resumable upload whose session record (written right after its upload) is still young.
    const resumable = layout.blob('acme', crypto.randomUUID());
    const resumableId = await s3.createMultipart(resumable);
    await new Promise((r) => setTimeout(r, 2100));
    const between = Date.now();
    await new Promise((r) => setTimeout(r, 1100));
    const session = 'ab'.repeat(16);
    await s3.put(layout.upload('acme', session), JSON.stringify({ id: session, name: 'x.deb', size: 1, partSize: 1, parts: 1, key: resumable, storageUploadId: resumableId, createdAt: new Date().toISOString(), actor: 'test' }));
    // Another repository's: not this gc's.
    const other = await s3.createMultipart('repos/other/blobs/00/x');
    // And one started after `between`: too young.
    const young = await s3.createMultipart(layout.blob('acme', crypto.randomUUID()));

    const listed = async () => {
      const ids = [];
      for await (const w of s3.incompleteWrites('repos/', new Date(Date.now() + 60_000))) ids.push(w.uploadId);
      return ids.sort();
    };
    expect(await listed()).toEqual([crashedId, crashedId2, resumableId, other, young].sort());
    expect(listings).toBeGreaterThanOrEqual(5);

    const grace = 10 * 60_000;
    const dry = await gc(service.store, 'acme', { now: between + grace, dryRun: true, retention: { graceMs: grace, generations: 1 } });
    expect(dry.abortedWrites).toBe(0);
    const report = await gc(service.store, 'acme', { now: between + grace, retention: { graceMs: grace, generations: 1 } });
    expect(report).toMatchObject({ abortedWrites: 2, abandonedUploads: 0 });
    expect(await listed()).toEqual([resumableId, other, young].sort());
    // The resumable upload still takes parts.
    await s3.putPart(resumable, resumableId, 1, new Uint8Array(10), 10);
  }, 60_000);
});
