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
});

async function collect<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}
