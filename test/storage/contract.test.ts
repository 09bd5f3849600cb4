// The storage contract, run against every backend: what the repository layer relies on.
import { describe, expect, it } from 'vitest';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/memory.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { readText, type Storage } from '../../src/storage/types.js';

const backends: [string, () => Promise<Storage>][] = [
  ['memory', async () => new MemoryStorage()],
  ['filesystem', async () => new FsStorage(await mkdtemp(join(tmpdir(), 'packyard-fs-')))],
];

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

  it('refuses keys that would leave the store', async () => {
    const s = await make();
    if (s instanceof MemoryStorage) return; // a Map has no outside
    for (const key of ['../x', 'a/../../x', '/etc/passwd', 'a//b']) await expect(s.put(key, 'x')).rejects.toThrow(/invalid storage key/);
  });
});
