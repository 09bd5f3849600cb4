// The storage contract, run against every backend: what the repository layer relies on.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { MemoryStorage } from '../../src/storage/memory.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { R2Storage, type R2BucketLike } from '../../src/storage/r2.js';
import { readdir, utimes } from 'node:fs/promises';
import { emptyBackend, emptyDisk } from '../helpers/backends.js';
import { emptyS3 } from '../helpers/radosgw.js';
import { testService } from '../helpers/service.js';
import { Keyring } from '../../src/signing/keyring.js';
import { gc } from '../../src/core/gc.js';
import { fsck } from '../../src/core/fsck.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { readBytes, readText, type Storage } from '../../src/storage/types.js';

const backends: [string, () => Promise<Storage>][] = [
  ['memory', async () => new MemoryStorage()],
  ['filesystem', () => emptyBackend('filesystem')],
  ['r2', emptyR2],
  ['workerd disk service', emptyDisk],
  // Ceph's radosgw, a real S3 server (test/helpers/radosgw.ts): a new bucket per test.
  ['s3', emptyS3],
];

// R2 as workerd runs it, simulated by Miniflare: the bucket through Miniflare's proxy from Node,
// and the same bucket inside a Worker built from `workerEntry` (below), for what only workerd has.
let miniflare: Promise<Miniflare> | undefined;
afterAll(async () => (await miniflare)?.dispose());

function workerd(): Promise<Miniflare> {
  miniflare ??= (async () => {
    const bundle = await build({
      stdin: { contents: workerEntry, resolveDir: fileURLToPath(new URL('.', import.meta.url)), loader: 'js' },
      bundle: true,
      format: 'esm',
      target: 'es2022',
      external: ['cloudflare:*'],
      write: false,
    });
    return new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: '2025-09-01', r2Buckets: ['BUCKET'], r2Persist: false });
  })();
  return miniflare;
}

/** The bucket, emptied: each test starts from an empty store. */
async function emptyR2(): Promise<R2Storage> {
  // Miniflare types its proxy with workers-types' streams, which DOM's do not satisfy (no
  // async iterator); a Worker's `env.BUCKET` is an R2BucketLike without a cast.
  const storage = new R2Storage((await (await workerd()).getR2Bucket('BUCKET')) as unknown as R2BucketLike);
  for await (const obj of storage.list('')) await storage.delete(obj.key);
  return storage;
}

const stream = (text: string) => new Blob([text]).stream();

describe.each(backends)('%s storage', (_, make) => {
  it('writes, reads whole and by range, stats and deletes', async () => {
    const s = await make();
    expect(await s.get('a/b')).toBeNull();
    const info = await s.put('a/b', stream('hello world'));
    expect(info?.size).toBe(11);
    expect(await readText(s, 'a/b')).toBe('hello world');
    const part = await s.get('a/b', { offset: 6, length: 5 });
    expect(await new Response(part!.body).text()).toBe('world');
    expect(part!.range).toEqual({ offset: 6, length: 5 });
    expect(await new Response((await s.get('a/b', { offset: 6 }))!.body).text()).toBe('world');
    // A range is cut at the end; one of no bytes (at or past the end, or empty) is no error.
    for (const [range, returned] of [
      [{ offset: 6, length: 50 }, { offset: 6, length: 5 }],
      [{ offset: 11 }, { offset: 11, length: 0 }],
      [{ offset: 20, length: 5 }, { offset: 20, length: 0 }],
      [{ offset: 3, length: 0 }, { offset: 3, length: 0 }],
    ] as const) {
      const got = await s.get('a/b', range);
      expect(got!.range).toEqual(returned);
      expect((await new Response(got!.body).arrayBuffer()).byteLength).toBe(returned.length);
    }
    expect((await s.head('a/b'))?.etag).toBe(info?.etag);
    await s.put('empty', new Uint8Array(0));
    expect(await readText(s, 'empty')).toBe('');
    await s.delete('a/b');
    await s.delete('a/b');
    expect(await s.head('a/b')).toBeNull();
  });

  it('compare-and-swaps: ifNoneMatch creates once, ifMatch needs the current etag', async () => {
    const s = await make();
    const first = await s.put('head', 'one', { ifNoneMatch: '*' });
    expect(first).not.toBeNull();
    expect(await s.put('head', 'again', { ifNoneMatch: '*' })).toBeNull();
    const second = await s.put('head', 'two', { ifMatch: first!.etag });
    expect(second).not.toBeNull();
    expect(second!.etag).not.toBe(first!.etag);
    expect(await s.put('head', 'stale', { ifMatch: first!.etag })).toBeNull();
    expect(await readText(s, 'head')).toBe('two');
    // Racing swaps from the same etag: exactly one wins.
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => s.put('head', `racer ${i}`, { ifMatch: second!.etag })));
    expect(results.filter(Boolean)).toHaveLength(1);
  });

  it('touches: a later modification time, the same content, null for no object', async () => {
    const s = await make();
    const written = await s.put('by-hash/x', 'index bytes');
    // The workerd disk service dates objects to the whole second.
    await new Promise((r) => setTimeout(r, 1100));
    const touched = await s.touch('by-hash/x');
    expect(touched!.lastModified.getTime()).toBeGreaterThan(written!.lastModified.getTime());
    expect((await s.head('by-hash/x'))!.lastModified.getTime()).toBe(touched!.lastModified.getTime());
    expect(await readText(s, 'by-hash/x')).toBe('index bytes');
    expect(await s.touch('by-hash/none')).toBeNull();
  });

  it('writes fresh keys, streamed or small, leaving nothing of a failed write', async () => {
    const s = await make();
    await s.put('blobs/a', stream('streamed body'), { fresh: true });
    await s.put('blobs/b', 'small body', { fresh: true });
    expect(await readText(s, 'blobs/a')).toBe('streamed body');
    expect(await readText(s, 'blobs/b')).toBe('small body');
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(new Error('client went away'));
      },
    });
    await expect(s.put('blobs/c', failing, { fresh: true })).rejects.toThrow('client went away');
    expect(await s.head('blobs/c')).toBeNull();
  });

  it('lists objects under a prefix and the folders one level down', async () => {
    const s = await make();
    for (const key of ['repos/a/head.json', 'repos/a/blobs/x/1', 'repos/b/head.json', 'system/k']) await s.put(key, 'x');
    const keys: string[] = [];
    for await (const info of s.list('repos/a/')) keys.push(info.key);
    expect(keys.sort()).toEqual(['repos/a/blobs/x/1', 'repos/a/head.json']);
    const folders: string[] = [];
    for await (const name of s.listFolders('repos/')) folders.push(name);
    expect(folders.sort()).toEqual(['a', 'b']);
  });

  it('writes an object in parts, streamed, and joins them only on complete', async () => {
    const s = await make();
    const MiB = 1024 * 1024;
    const bytes = new Uint8Array(11 * MiB + 123).map((_, i) => (i * 2654435761) >>> 24);
    const chunks = [bytes.subarray(0, 5 * MiB), bytes.subarray(5 * MiB, 10 * MiB), bytes.subarray(10 * MiB)];
    const id = await s.createMultipart('blobs/big');
    // Parts may come in any order, and a part may be sent again.
    const parts = [];
    for (const i of [2, 0, 1, 0]) parts[i] = await s.putPart('blobs/big', id, i + 1, new Blob([chunks[i]!]).stream(), chunks[i]!.length);
    expect(parts.map((p) => [p!.part, p!.size])).toEqual([[1, 5 * MiB], [2, 5 * MiB], [3, MiB + 123]]);
    expect(await s.head('blobs/big')).toBeNull();
    await expect(s.putPart('blobs/big', id, 4, new Blob(['short']).stream(), 6)).rejects.toThrow(/not 6 bytes|part/);
    const info = await s.completeMultipart('blobs/big', id, parts as never);
    expect(info.size).toBe(bytes.length);
    const back = new Uint8Array(await new Response((await s.get('blobs/big'))!.body).arrayBuffer());
    expect(Buffer.from(back).equals(bytes)).toBe(true);

    const dropped = await s.createMultipart('blobs/dropped');
    await s.putPart('blobs/dropped', dropped, 1, chunks[2]!, chunks[2]!.length);
    await s.abortMultipart('blobs/dropped', dropped);
    await s.abortMultipart('blobs/dropped', dropped);
    expect(await s.head('blobs/dropped')).toBeNull();
    const left = [];
    for await (const obj of s.list('')) left.push(obj.key);
    expect(left).toEqual(['blobs/big']);
  });

  // What a crash leaves (a kill between two steps) must not stop the next attempt.
  it('completes an upload again, and over a join that a crash cut short', async () => {
    const s = await make();
    const MiB = 1024 * 1024;
    const bytes = pattern(6 * MiB);
    const chunks = [bytes.subarray(0, 5 * MiB), bytes.subarray(5 * MiB)];
    const id = await s.createMultipart('blobs/again');
    const parts = [];
    for (const [i, chunk] of chunks.entries()) parts.push(await s.putPart('blobs/again', id, i + 1, chunk, chunk.length));
    // A join stopped halfway leaves the start of the object in place on a backend that writes it so.
    await s.put('blobs/again', bytes.subarray(0, MiB));
    expect((await s.completeMultipart('blobs/again', id, parts)).size).toBe(bytes.length);
    // The caller died before it heard: completing again answers the same object.
    expect((await s.completeMultipart('blobs/again', id, parts)).size).toBe(bytes.length);
    expect(Buffer.from((await readBytes(s, 'blobs/again'))!).equals(bytes)).toBe(true);
    const left = [];
    for await (const obj of s.list('')) left.push(obj.key);
    expect(left).toEqual(['blobs/again']);
  });

  it('keeps a part readable under the answer to its first sending when the same bytes are sent again', async () => {
    // A crash after a part is stored and before its answer is recorded leaves the first answer
    // on record; the client sends the part again.
    const s = await make();
    const MiB = 1024 * 1024;
    const bytes = pattern(5 * MiB + 10);
    const id = await s.createMultipart('blobs/resent');
    const first = await s.putPart('blobs/resent', id, 1, bytes.subarray(0, 5 * MiB), 5 * MiB);
    await s.putPart('blobs/resent', id, 1, new Blob([bytes.subarray(0, 5 * MiB)]).stream(), 5 * MiB);
    const last = await s.putPart('blobs/resent', id, 2, bytes.subarray(5 * MiB), 10);
    if (s instanceof R2Storage) {
      // R2 keeps one part per number, under a new etag: the first answer names a part it replaced.
      await expect(s.completeMultipart('blobs/resent', id, [first, last])).rejects.toMatchObject({ status: 400, code: 'part-missing' });
      return;
    }
    await s.completeMultipart('blobs/resent', id, [first, last]);
    expect(Buffer.from((await readBytes(s, 'blobs/resent'))!).equals(bytes)).toBe(true);
  });

  it('leaves nothing of a part whose write fails', async () => {
    const s = await make();
    const id = await s.createMultipart('blobs/failed');
    let sent = 0;
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent >= 3) return controller.error(new Error('client went away'));
        sent++;
        controller.enqueue(new Uint8Array(1024 * 1024).fill(sent));
      },
    });
    await expect(s.putPart('blobs/failed', id, 1, failing, 5 * 1024 * 1024)).rejects.toThrow();
    const left = [];
    for await (const obj of s.list('')) left.push(obj.key);
    expect(left).toEqual([]);
    await s.abortMultipart('blobs/failed', id);
  });

  it('refuses keys that would leave the store', async () => {
    const s = await make();
    if (s instanceof MemoryStorage) return; // a Map has no outside
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b']) await expect(s.put(key, 'x')).rejects.toThrow(/invalid storage key/);
  });
});

describe('filesystem storage after a crash', () => {
  /**
   * The state a kill in the middle of a write leaves: its temporary file, half written, made by a
   * write that stalls (`release` ends it, failing) and aged by `age` ms.
   */
  async function leftover(root: string, key: string, age: number) {
    let release = () => {};
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(new Uint8Array(300 * 1024).fill(1));
        await new Promise<void>((resolve) => (release = resolve));
        controller.error(new Error('never finished'));
      },
    });
    const writing = new FsStorage(root).put(key, body).catch(() => null);
    const dir = join(root, ...key.split('/').slice(0, -1));
    let name: string | undefined;
    for (; !(name = (await readdir(dir).catch(() => [])).find((n) => n.includes('.tmp-'))); ) await new Promise((r) => setTimeout(r, 5));
    const when = new Date(Date.now() - age);
    await utimes(join(dir, name), when, when);
    return { key: `${key.split('/').slice(0, -1).join('/')}/${name}`, dir, end: () => (release(), writing) };
  }

  it('lists a temporary file no write has touched for an hour under its own key, reads it as nothing but its time, and deletes it', async () => {
    const root = await mkdtemp(join(tmpdir(), 'packyard-fs-'));
    const s = new FsStorage(root);
    await s.put('repos/a/head.json', 'x');
    const listed = async (options = { leftovers: true }) => {
      const keys = [];
      for await (const obj of s.list('repos/a/', options)) keys.push(obj.key);
      return keys.sort();
    };
    const recent = await leftover(root, 'repos/a/by-hash/SHA256/abc', 1000);
    expect(await listed()).toEqual(['repos/a/head.json']); // a write may still be using it
    await recent.end();
    const old = await leftover(root, 'repos/a/by-hash/SHA256/abc', 3_601_000);
    expect(old.key).toMatch(/\/abc\.tmp-[0-9a-f-]{36}$/);
    expect(await listed()).toEqual([old.key, 'repos/a/head.json']);
    // Only gc and fsck ask for them.
    expect(await listed({ leftovers: false })).toEqual(['repos/a/head.json']);
    expect(await s.get(old.key)).toBeNull();
    // gc reads its time again before it deletes it (see gc-protocol.ts).
    expect((await s.head(old.key))?.lastModified.getTime()).toBeLessThan(Date.now() - 3_600_000);
    await expect(s.put(old.key, 'x')).rejects.toThrow(/invalid storage key/);
    await s.delete(old.key);
    expect(await readdir(old.dir)).toEqual([]);
    expect(await listed()).toEqual(['repos/a/head.json']);
    await old.end();
  });

  it('has gc collect, and fsck count, a temporary file a crash left', async () => {
    const root = await mkdtemp(join(tmpdir(), 'packyard-fs-'));
    const service = await testService(new FsStorage(root));
    await service.createRepo({ name: 'acme' }, 'test');
    const left = await leftover(root, `repos/acme/by-hash/SHA256/${'0'.repeat(64)}`, 8 * 86_400_000);
    expect((await fsck(service.store, createNodeHasher, 'acme')).garbage).toEqual({ objects: 1, bytes: 300 * 1024 });
    expect((await gc(service.store, 'acme')).deleted).toEqual({ objects: 1, bytes: 300 * 1024 });
    expect(await readdir(left.dir)).toEqual([]);
    await left.end();
  });

  it('keeps such a file out of the signing keys', async () => {
    const root = await mkdtemp(join(tmpdir(), 'packyard-fs-'));
    const keyring = new Keyring(new FsStorage(root));
    const fingerprint = await keyring.generate('Packyard test');
    const left = await leftover(root, `system/signing-keys/${'A'.repeat(40)}.asc`, 2 * 3_600_000);
    expect(await keyring.fingerprints()).toEqual([fingerprint]);
    expect(await keyring.armoredKeys()).toHaveLength(1);
    await left.end();
  });
});

/** Byte `i` of a generated body: a prime period, so parts out of order or misplaced show. */
const pattern = (size: number) => new Uint8Array(size).map((_, i) => i % 251);

// Runs R2Storage inside workerd on bodies of unknown length (as a request body without
// Content-Length): `size` generated bytes, erroring after `failAt`. Answers JSON, {ok} or {error}.
const workerEntry = `
import { WorkerEntrypoint } from 'cloudflare:workers';
import { R2Storage } from '../../src/storage/r2.ts';

function generated(size, failAt = Infinity) {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= failAt) return controller.error(new Error('client went away'));
      if (at >= size) return controller.close();
      const chunk = new Uint8Array(Math.min(100_000, size - at, failAt - at));
      for (let i = 0; i < chunk.length; i++) chunk[i] = (at + i) % 251;
      at += chunk.length;
      controller.enqueue(chunk);
    },
  });
}

export default class extends WorkerEntrypoint {
  fetch() {
    return new Response(null, { status: 404 });
  }
  async call(op, json) {
    const { key, size, failAt, options, uploadId, part, declared } = JSON.parse(json);
    const storage = new R2Storage(this.env.BUCKET);
    try {
      if (op === 'put') return JSON.stringify({ ok: await storage.put(key, generated(size, failAt), options) });
      if (op === 'putPart') return JSON.stringify({ ok: await storage.putPart(key, uploadId, part, generated(size), declared ?? size) });
      return JSON.stringify({ error: 'no operation ' + op });
    } catch (err) {
      return JSON.stringify({ error: err.message, code: err.code });
    }
  }
}
`;

describe('r2 storage inside workerd', () => {
  const MiB = 1024 * 1024;
  type Answer = { ok?: { size: number; etag: string; part?: number }; error?: string; code?: string };
  const call = async (op: string, args: object): Promise<Answer> => {
    const worker = (await (await workerd()).getWorker()) as unknown as { call(op: string, json: string): Promise<string> };
    return JSON.parse(await worker.call(op, JSON.stringify(args))) as Answer;
  };

  it('streams a body of unknown length: one put when it fits a part, 8 MiB parts when not', async () => {
    const s = await emptyR2();
    for (const size of [0, 1000, 8 * MiB]) {
      const { ok } = await call('put', { key: `s/${size}`, size });
      expect(ok?.size).toBe(size);
      expect(ok?.etag).not.toContain('-'); // one plain put, not a multipart upload
      expect(Buffer.from((await readBytes(s, `s/${size}`))!).equals(pattern(size))).toBe(true);
    }
    const big = 2 * 8 * MiB + 5;
    const { ok } = await call('put', { key: 's/big', size: big });
    expect(ok?.size).toBe(big);
    expect(ok?.etag).toMatch(/-3$/); // R2's etag of a multipart object: "<md5 of the part md5s>-<parts>"
    expect((await s.head('s/big'))?.etag).toBe(ok?.etag);
    expect(Buffer.from((await readBytes(s, 's/big'))!).equals(pattern(big))).toBe(true);
  });

  it('leaves nothing of a streamed put that fails, and refuses a conditional one over a part', async () => {
    const s = await emptyR2();
    expect(await call('put', { key: 's/failing', size: 20 * MiB, failAt: 9 * MiB })).toEqual({ error: 'client went away' });
    expect(await call('put', { key: 's/head', size: 9 * MiB, options: { ifNoneMatch: '*' } })).toMatchObject({ error: expect.stringMatching(/conditional writes/) });
    const { ok } = await call('put', { key: 's/head', size: 1000, options: { ifNoneMatch: '*' } });
    expect(ok?.size).toBe(1000);
    expect(await call('put', { key: 's/head', size: 1000, options: { ifNoneMatch: '*' } })).toEqual({ ok: null });
    expect((await call('put', { key: 's/head', size: 10, options: { ifMatch: ok!.etag } })).ok?.size).toBe(10);
    const left = [];
    for await (const obj of s.list('')) left.push(obj.key);
    expect(left).toEqual(['s/head']);
  });

  it('writes parts from streams of unknown length, failing those of another size', async () => {
    const s = await emptyR2();
    const id = await s.createMultipart('blobs/parts');
    const first = await call('putPart', { key: 'blobs/parts', uploadId: id, part: 1, size: 5 * MiB });
    const last = await call('putPart', { key: 'blobs/parts', uploadId: id, part: 2, size: 1000 });
    expect([first.ok?.part, first.ok?.size, last.ok?.part, last.ok?.size]).toEqual([1, 5 * MiB, 2, 1000]);
    expect(await call('putPart', { key: 'blobs/parts', uploadId: id, part: 3, size: 5, declared: 6 })).toMatchObject({ code: 'part-size-mismatch' });
    expect(await call('putPart', { key: 'blobs/parts', uploadId: id, part: 3, size: 7, declared: 6 })).toMatchObject({ code: 'part-size-mismatch' });
    expect(await call('putPart', { key: 'blobs/parts', uploadId: 'no-such-upload', part: 1, size: 5 })).toMatchObject({ code: 'upload-not-found' });
    const info = await s.completeMultipart('blobs/parts', id, [first.ok, last.ok] as never);
    expect(info.size).toBe(5 * MiB + 1000);
    const expected = new Uint8Array(5 * MiB + 1000);
    expected.set(pattern(5 * MiB));
    expected.set(pattern(1000), 5 * MiB);
    expect(Buffer.from((await readBytes(s, 'blobs/parts'))!).equals(expected)).toBe(true);
  });
});
