import { mkdir, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { openFile } from '../../core/files.js';
import { PackyardError } from '../../util/errors.js';
import { streamBytes, streamOf } from '../../util/bytes.js';
import { digestBytes } from '../../util/hash.js';
import { poolEntry } from '../../core/pool-set.js';
import type { ClientPath, PublishStage } from '../../core/format.js';
import type { FileEntry, Snapshot } from '../../core/snapshot.js';
import type { Runtime } from './runtime.js';
import { createNodeHasher } from './hasher.js';
import type { RemotePoolEntry } from '../../sources/index.js';

/** One file of an exported tree: what it is, and a way to read it. */
export interface ExportFile {
  path: string;
  stage: PublishStage;
  contentType: string;
  size: number;
  sha256: string;
  /** Its bytes. A package kept elsewhere is downloaded: the stream fails unless it is what the repository lists. */
  open(): Promise<ReadableStream<Uint8Array>>;
}

/** Where an export goes (a directory, a bucket): it takes the tree's files, each once, and says what it did. */
export type ExportTarget<R> = (files: AsyncIterable<ExportFile>) => Promise<R>;

/**
 * Exports the head snapshot as a plain tree any static web server can serve: every client path
 * its format lists (indexes, by-hash copies, packages, generated files such as a `.repo`; packages
 * kept elsewhere, such as release assets, downloaded and checked against their size and SHA-256), and
 * the public keys, walked once into `target`. Generated files name `base` as the tree's address.
 */
export function exportTo<R>(runtime: Runtime, repo: string, target: ExportTarget<R>, base: string): Promise<R> {
  return target(treeFiles(runtime, repo, base.replace(/\/+$/, '')));
}

/** The tree written into `outdir`; its address is the directory itself (a file:// URL, which apt and dnf read as they are) unless `baseUrl` says otherwise. */
export function exportTree(runtime: Runtime, repo: string, outdir: string, baseUrl?: string): Promise<number> {
  return exportTo(runtime, repo, directoryTarget(outdir), baseUrl ?? pathToFileURL(resolve(outdir)).href);
}

async function* treeFiles(runtime: Runtime, repo: string, base: string): AsyncIterable<ExportFile> {
  const snapshot = await runtime.service.getRepo(repo);
  const format = runtime.service.formats.of(snapshot);
  /** What each path listed holds: a path listed twice must be the same file. */
  const listed = new Map<string, string>();
  const stored = async (path: string, entry: Pick<FileEntry, 'key' | 'encoding' | 'size'>) => {
    // A static tree holds the file itself, whatever the repository keeps of it (openFile).
    const body = await openFile(runtime.storage, entry);
    if (!body) throw new PackyardError(500, 'missing-object', `${path}: stored object ${entry.key} is missing (run packyard fsck)`);
    return body;
  };
  const text = async (path: string, stage: PublishStage, contentType: string, body: string | Uint8Array): Promise<ExportFile> => {
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    const { sha256 } = await digestBytes(createNodeHasher, bytes, ['sha256']);
    return { path, stage, contentType, size: bytes.length, sha256, open: async () => streamOf(bytes) };
  };

  const fileOf = async (item: ClientPath): Promise<ExportFile> => {
    const { path, stage, contentType } = item;
    if (item.kind === 'file') return { path, stage, contentType, size: item.entry.size, sha256: item.entry.sha256, open: () => stored(path, item.entry) };
    if (item.kind === 'text') return text(path, stage, contentType, item.body);
    if (item.kind === 'object') return text(path, stage, contentType, await streamBytes(await stored(path, { key: item.key, size: 0 })));
    const entry = await poolEntry(runtime.service.store, snapshot, item.poolPath);
    if (!entry) throw new PackyardError(500, 'missing-object', `${path}: the pool has no ${item.poolPath} (run packyard fsck)`);
    const { size, sha256 } = entry;
    if (!entry.remote) return { path, stage, contentType, size, sha256, open: () => stored(path, { key: entry.key, size: entry.size }) };
    return { path, stage, contentType, size, sha256, open: () => download(runtime, snapshot, path, { ...entry, remote: entry.remote }) };
  };

  for await (const item of format.clientPaths(snapshot, (key) => runtime.service.store.meta(key), { base: () => base })) {
    // A pool file listed in several distributions is one file.
    const what = item.kind === 'file' ? item.entry.key : item.kind === 'object' ? item.key : item.kind === 'pool' ? item.poolPath : `text:${item.body}`;
    const before = listed.get(item.path);
    if (before === what) continue;
    if (before !== undefined || item.path === 'public.gpg' || item.path === 'public.key') throw new PackyardError(500, 'path-collision', `${item.path} is listed twice, as two different files: the tree cannot hold both`);
    listed.set(item.path, what);
    yield await fileOf(item);
  }
  yield await text('public.gpg', 'index', 'application/pgp-keys', runtime.signer.publicKeyBinary);
  yield await text('public.key', 'index', 'application/pgp-keys', runtime.signer.publicKeyArmored);
}

/** A package kept elsewhere (a release asset), fetched as a client would get it; the stream fails unless it is the file listed. */
async function download(runtime: Runtime, snapshot: Snapshot, path: string, entry: RemotePoolEntry): Promise<ReadableStream<Uint8Array>> {
  const delivery = await runtime.sources.deliver({ method: 'GET' }, snapshot, entry);
  const res = 'redirect' in delivery ? await fetch(delivery.redirect) : delivery.response;
  if (res.status !== 200 || !res.body) throw new PackyardError(502, 'download-failed', `${path}: ${entry.remote.url} answered ${res.status}`);
  const reader = res.body.getReader();
  const hasher = createNodeHasher(['sha256']);
  let size = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await reader.read().catch((err: Error) => {
        throw new PackyardError(502, 'download-failed', `${path}: the download from ${new URL(entry.remote.url).origin} broke off: ${err.message}`);
      });
      if (!next.done) {
        size += next.value.length;
        await hasher.update(next.value);
        return controller.enqueue(next.value);
      }
      const { sha256 } = await hasher.digest();
      if (size !== entry.size || sha256 !== entry.sha256) throw new PackyardError(502, 'download-mismatch', `${path}: ${entry.remote.url} sent ${size} bytes with SHA-256 ${sha256}, the repository lists ${entry.size} bytes with ${entry.sha256}`);
      controller.close();
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/** Writes every file into `outdir` as it comes; answers how many. A file that fails to arrive whole is removed. */
export function directoryTarget(outdir: string): ExportTarget<number> {
  return async (files) => {
    let count = 0;
    for await (const f of files) {
      const file = join(outdir, ...f.path.split('/'));
      await mkdir(dirname(file), { recursive: true });
      try {
        await (await f.open()).pipeTo(Writable.toWeb(createWriteStream(file)));
      } catch (err) {
        await rm(file, { force: true });
        throw err;
      }
      count++;
    }
    return count;
  };
}
