// The storage backends a test can make empty in Node: memory, a directory, and the writable disk
// service an on-prem workerd gives the Worker. (R2 runs inside workerd, through Miniflare: see
// test/storage/contract.test.ts and test/hosts/worker.)
import { afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryStorage } from '../../src/storage/memory.js';
import { FsStorage } from '../../src/hosts/node/fs-storage.js';
import { WorkerdDiskStorage } from '../../src/storage/workerd-disk.js';
import type { Storage } from '../../src/storage/types.js';
import { repoRoot } from './exec.js';
import { freePort } from './server.js';

export type BackendName = 'memory' | 'filesystem' | 'workerd disk service';

let diskService: Promise<{ url: string; proc: ChildProcess }> | undefined;
afterAll(async () => (await diskService)?.proc.kill());

export async function emptyBackend(name: BackendName): Promise<Storage> {
  if (name === 'memory') return new MemoryStorage();
  if (name === 'filesystem') return new FsStorage(await mkdtemp(join(tmpdir(), 'packyard-fs-')));
  return emptyDisk();
}

/** A fresh folder of one workerd disk service shared by the test file. */
export async function emptyDisk(): Promise<WorkerdDiskStorage> {
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
