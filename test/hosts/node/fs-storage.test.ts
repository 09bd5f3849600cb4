// The directory store keeps to its root whatever key or prefix it is handed: the API validates
// names first, and this is the second line.
import { describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FsStorage } from '../../../src/hosts/node/fs-storage.js';

describe('FsStorage', () => {
  it('refuses list prefixes that would leave its root', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'packyard-fs-outside-'));
    await mkdir(join(outside, 'root'));
    await mkdir(join(outside, 'secret'));
    await writeFile(join(outside, 'secret', 'file.json'), '{}');
    const storage = new FsStorage(join(outside, 'root'));
    for (const prefix of ['../secret/', '../', 'repos/../../secret/', './x/']) {
      await expect(collect(storage.list(prefix)), prefix).rejects.toThrow(/invalid storage prefix/);
      await expect(collect(storage.listFolders(prefix)), prefix).rejects.toThrow(/invalid storage prefix/);
    }
  });

  it('refuses keys with empty, . or .. parts, and never lets a fresh write remove what the key holds', async () => {
    const storage = new FsStorage(await mkdtemp(join(tmpdir(), 'packyard-fs-keys-')));
    for (const key of ['', '/a', 'a/', 'a//b', '.', '..', 'a/./b', 'a/../b', '../a', 'a/..', `a/b.tmp-x`]) expect(() => storage.filePath(key), key).toThrow(/invalid storage key/);
    expect(storage.filePath('repos/a/.b/..c/x.y')).toBe(join(storage.root, 'repos/a/.b/..c/x.y'));
    // Folders are made by the first write into them, small (synchronous) or streamed.
    await storage.put('deep/er/small', new Uint8Array([1]), { fresh: true });
    await storage.put('deep/est/streamed', new Blob([new Uint8Array(300 * 1024)]).stream(), { fresh: true });
    expect((await storage.head('deep/est/streamed'))?.size).toBe(300 * 1024);
    for (const body of [new Uint8Array([2]), new Blob([new Uint8Array(300 * 1024)]).stream()]) {
      await expect(storage.put('deep/er/small', body, { fresh: true })).rejects.toThrow(/EEXIST/);
      expect((await storage.head('deep/er/small'))?.size).toBe(1);
    }
  });
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
