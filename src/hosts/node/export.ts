import { mkdir, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { PackyardError } from '../../util/errors.js';
import type { PoolMap } from '../../core/snapshot.js';
import type { Runtime } from './runtime.js';

/** Writes the head snapshot as a plain tree (dists/, pool/, by-hash/, keys) for any static web server. */
export async function exportTree(runtime: Runtime, repo: string, outdir: string): Promise<number> {
  const snapshot = await runtime.service.getRepo(repo);
  const files = new Map<string, string>();
  for (const [path, entry] of Object.entries(snapshot.files)) {
    files.set(path, entry.key);
    const dir = path.slice(0, path.lastIndexOf('/'));
    if (!path.endsWith('Release') && !path.endsWith('Release.gpg')) {
      files.set(`${dir}/by-hash/SHA256/${entry.sha256}`, entry.key);
      files.set(`${dir}/by-hash/SHA512/${entry.sha512}`, entry.key);
    }
  }
  for (const key of Object.values(snapshot.pool)) for (const [path, entry] of Object.entries(await runtime.service.store.meta<PoolMap>(key))) files.set(path, entry.key);

  for (const [path, key] of files) {
    const obj = await runtime.storage.get(key);
    if (!obj) throw new PackyardError(500, 'missing-object', `${path}: stored object ${key} is missing (run packyard fsck)`);
    const target = join(outdir, ...path.split('/'));
    await mkdir(dirname(target), { recursive: true });
    await obj.body.pipeTo(Writable.toWeb(createWriteStream(target)));
  }
  await writeFile(join(outdir, 'public.gpg'), runtime.signer.publicKeyBinary);
  await writeFile(join(outdir, 'public.key'), runtime.signer.publicKeyArmored);
  return files.size + 2;
}
