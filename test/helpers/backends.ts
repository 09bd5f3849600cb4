// The storage backends, each made empty for a test: memory, a directory, R2 as Miniflare simulates
// it, and the writable disk service an on-prem workerd gives the Worker.
import { afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Miniflare } from 'miniflare';
import { MemoryStorage } from '../../src/storage/memory.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { R2Storage, type R2BucketLike } from '../../src/storage/r2.js';
import { WorkerdDiskStorage } from '../../src/storage/workerd-disk.js';
import type { Storage } from '../../src/storage/types.js';
import { repoRoot } from './exec.js';
import { freePort } from './server.js';

export type BackendName = 'memory' | 'filesystem' | 'r2' | 'workerd disk service';

let miniflare: Promise<Miniflare> | undefined;
let diskService: Promise<{ url: string; proc: ChildProcess }> | undefined;
afterAll(async () => {
  await (await miniflare)?.dispose();
  (await diskService)?.proc.kill();
});

export async function emptyBackend(name: BackendName): Promise<Storage> {
  if (name === 'memory') return new MemoryStorage();
  if (name === 'filesystem') return new FsStorage(await mkdtemp(join(tmpdir(), 'packyard-fs-')));
  if (name === 'r2') return emptyR2();
  return emptyDisk();
}

async function emptyR2(): Promise<R2Storage> {
  miniflare ??= Promise.resolve(
    new Miniflare({ modules: true, script: 'export default { fetch: () => new Response(null, { status: 404 }) }', compatibilityDate: '2025-09-01', r2Buckets: ['BUCKET'], r2Persist: false }),
  );
  // Miniflare types its proxy with workers-types' streams, which DOM's do not satisfy.
  const storage = new R2Storage((await (await miniflare).getR2Bucket('BUCKET')) as unknown as R2BucketLike);
  for await (const obj of storage.list('')) await storage.delete(obj.key);
  return storage;
}

async function emptyDisk(): Promise<WorkerdDiskStorage> {
  diskService ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'packyard-disk-'));
    await mkdir(join(dir, 'data'));
    const port = await freePort();
    await writeFile(
      join(dir, 'config.capnp'),
      `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [(name = "disk", disk = (path = "${dir}/data", writable = true))],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "disk")],
);`,
    );
    const proc = spawn(join(repoRoot, 'node_modules/.bin/workerd'), ['serve', join(dir, 'config.capnp')], { stdio: 'inherit' });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; !(await fetch(`${url}/`).then(() => true, () => false)); i++) {
      if (i > 100) throw new Error('workerd disk service did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { url, proc };
  })();
  const { url } = await diskService;
  const prefix = `${url}/${crypto.randomUUID()}`;
  return new WorkerdDiskStorage({ fetch: (req) => fetch(new Request(prefix + new URL(req.url).pathname, req)) });
}
