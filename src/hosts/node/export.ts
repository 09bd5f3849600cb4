import { mkdir, rm, writeFile } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { PackyardError } from '../../util/errors.js';
import { poolEntry } from '../../core/pool-set.js';
import type { Runtime } from './runtime.js';
import { createNodeHasher } from './hasher.js';
import type { RemotePoolEntry } from '../../sources/index.js';

/**
 * Writes the head snapshot as a plain tree any static web server can serve: every client path
 * its format lists (indexes, by-hash copies, packages, generated files such as a `.repo`; packages
 * kept elsewhere, such as release assets, downloaded and checked against their size and SHA-256), and
 * the public keys. Generated files name `baseUrl` as the tree's address (default: the directory
 * itself, as a file:// URL, which apt and dnf read as they are).
 */
export async function exportTree(runtime: Runtime, repo: string, outdir: string, baseUrl?: string): Promise<number> {
  const snapshot = await runtime.service.getRepo(repo);
  const format = runtime.service.formats.of(snapshot);
  const base = (baseUrl ?? pathToFileURL(resolve(outdir)).href).replace(/\/+$/, '');
  /** What each path written holds: a path listed twice must be the same file. */
  const written = new Map<string, string>();
  const target = async (path: string) => {
    const file = join(outdir, ...path.split('/'));
    await mkdir(dirname(file), { recursive: true });
    return file;
  };
  const copy = async (path: string, key: string) => {
    const obj = await runtime.storage.get(key);
    if (!obj) throw new PackyardError(500, 'missing-object', `${path}: stored object ${key} is missing (run packyard fsck)`);
    await obj.body.pipeTo(Writable.toWeb(createWriteStream(await target(path))));
  };

  // A package kept elsewhere (a release asset) is fetched as a client would get it, and checked.
  const download = async (path: string, entry: RemotePoolEntry) => {
    const delivery = await runtime.sources.deliver({ method: 'GET' }, snapshot, entry);
    const res = 'redirect' in delivery ? await fetch(delivery.redirect) : delivery.response;
    if (res.status !== 200 || !res.body) throw new PackyardError(502, 'download-failed', `${path}: ${entry.remote.url} answered ${res.status}`);
    const hasher = createNodeHasher(['sha256']);
    let size = 0;
    const hashing = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        size += chunk.length;
        await hasher.update(chunk);
        controller.enqueue(chunk);
      },
    });
    const file = await target(path);
    try {
      await res.body.pipeThrough(hashing).pipeTo(Writable.toWeb(createWriteStream(file)));
    } catch (err) {
      await rm(file, { force: true });
      throw new PackyardError(502, 'download-failed', `${path}: the download from ${new URL(entry.remote.url).origin} broke off: ${(err as Error).message}`);
    }
    const { sha256 } = await hasher.digest();
    if (size !== entry.size || sha256 !== entry.sha256) {
      await rm(file, { force: true });
      throw new PackyardError(502, 'download-mismatch', `${path}: ${entry.remote.url} sent ${size} bytes with SHA-256 ${sha256}, the repository lists ${entry.size} bytes with ${entry.sha256}`);
    }
  };

  for await (const item of format.clientPaths(snapshot, (key) => runtime.service.store.meta(key), { base: () => base })) {
    // A pool file listed in several distributions is one file.
    const what = item.kind === 'file' ? item.entry.key : item.kind === 'object' ? item.key : item.kind === 'pool' ? item.poolPath : `text:${item.body}`;
    const before = written.get(item.path);
    if (before === what) continue;
    if (before !== undefined || item.path === 'public.gpg' || item.path === 'public.key') throw new PackyardError(500, 'path-collision', `${item.path} is listed twice, as two different files: the tree cannot hold both`);
    written.set(item.path, what);
    if (item.kind === 'file') await copy(item.path, item.entry.key);
    else if (item.kind === 'object') await copy(item.path, item.key);
    else if (item.kind === 'text') await writeFile(await target(item.path), item.body);
    else {
      const entry = await poolEntry(runtime.service.store, snapshot, item.poolPath);
      if (!entry) throw new PackyardError(500, 'missing-object', `${item.path}: the pool has no ${item.poolPath} (run packyard fsck)`);
      if (entry.remote) await download(item.path, { ...entry, remote: entry.remote });
      else await copy(item.path, entry.key);
    }
  }
  await writeFile(join(outdir, 'public.gpg'), runtime.signer.publicKeyBinary);
  await writeFile(join(outdir, 'public.key'), runtime.signer.publicKeyArmored);
  return written.size + 2;
}
