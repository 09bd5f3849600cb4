// A metadata file and its detached signature, fetched by a client from two processes over one
// storage (a Worker isolate and the repository's Durable Object, or two `packyard serve` nodes on
// a bucket), right after one of them published: gpgv must accept the pair whichever process
// answered which file. Each process keeps the head it read for a while (headTtlMs), which must not
// make one of them serve the previous snapshot's signature (or metadata) beside the other's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Hono } from 'hono';
import { formats } from '../../src/formats/index.js';
import { MemoryStorage } from '../../src/storage/memory.js';
import { RepositoryService } from '../../src/core/service.js';
import { AdminToken } from '../../src/auth/admin-token.js';
import { Access } from '../../src/auth/access.js';
import { createApp } from '../../src/http/app.js';
import { createNodeHasher } from '../../src/hosts/node/hasher.js';
import { testSigner } from '../helpers/service.js';
import { buildRpm } from '../helpers/rpms.js';
import { buildDeb } from '../helpers/debs.js';
import { run } from '../helpers/exec.js';

const ADMIN = 'signed-metadata-admin';
// Far longer than the test takes: a process's cached head outlives every step below.
const HEAD_TTL_MS = 60_000;

let work: string;
let keyring: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'packyard-signed-metadata-'));
  keyring = join(work, 'keyring.gpg');
  await writeFile(keyring, (await testSigner()).publicKeyBinary);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** One process of the host: its own service (and head cache) over the shared storage. */
async function processOver(storage: MemoryStorage): Promise<Hono> {
  const signer = await testSigner();
  const service = new RepositoryService({ formats, storage, signer, createHasher: createNodeHasher, headTtlMs: HEAD_TTL_MS });
  const { admin } = await AdminToken.load(storage, ADMIN);
  return createApp({ service, signer, access: new Access(storage, admin), log: () => {} });
}

async function send(app: Hono, path: string, init: RequestInit = {}): Promise<Response> {
  return app.request(path, { ...init, headers: { authorization: `Bearer ${ADMIN}`, ...init.headers } });
}

async function bytesOf(app: Hono, path: string): Promise<Uint8Array> {
  const res = await send(app, path);
  expect(res.status, path).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

let checks = 0;
/** gpgv's verdict on `signature` over `data`. */
async function verifies(data: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const n = checks++;
  await writeFile(join(work, `data-${n}`), data);
  await writeFile(join(work, `data-${n}.sig`), signature);
  const r = await run('gpgv', ['--keyring', keyring, join(work, `data-${n}.sig`), join(work, `data-${n}`)]);
  return r.code === 0;
}

const cases = [
  {
    type: 'rpm',
    metadata: 'el9/x86_64/repodata/repomd.xml',
    signature: 'el9/x86_64/repodata/repomd.xml.asc',
    upload: async (i: number) => ({
      query: 'distribution=el9',
      type: 'application/x-rpm',
      bytes: await readFile((await buildRpm({ name: `straddle-${i}`, version: '1.0', release: '1', files: { [`/usr/share/straddle-${i}`]: String(i) } }, join(work, 'rpms'))).path),
    }),
  },
  {
    type: 'deb',
    metadata: 'dists/stable/Release',
    signature: 'dists/stable/Release.gpg',
    upload: async (i: number) => ({
      query: 'distribution=stable&component=main',
      type: 'application/vnd.debian.binary-package',
      bytes: await readFile((await buildDeb({ name: `straddle-${i}`, version: '1.0', arch: 'all', files: { [`usr/share/straddle-${i}`]: String(i) } }, join(work, 'debs'))).path),
    }),
  },
] as const;

describe.each(cases)('$type: $metadata and its signature from two processes', ({ type, metadata, signature, upload }) => {
  it('agree right after a publish, whichever process answers which', async () => {
    const storage = new MemoryStorage();
    const publisher = await processOver(storage);
    const reader = await processOver(storage);
    const repo = `straddle-${type}`;
    const created = await send(publisher, '/api/v1/repos', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: repo, type, public: true }) });
    expect(created.status, await created.clone().text()).toBe(201);
    const publish = async (i: number) => {
      const { query, type: contentType, bytes } = await upload(i);
      const res = await send(publisher, `/api/v1/repos/${repo}/packages?${query}`, { method: 'POST', headers: { 'content-type': contentType }, body: bytes });
      expect(res.status, await res.clone().text()).toBe(201);
    };
    await publish(1);
    // The reader serves this snapshot, and keeps its head for HEAD_TTL_MS.
    const before = await bytesOf(reader, `/${repo}/${metadata}`);
    expect(await verifies(before, await bytesOf(reader, `/${repo}/${signature}`))).toBe(true);

    await publish(2);
    const fromPublisher = await bytesOf(publisher, `/${repo}/${metadata}`);
    expect(Buffer.from(fromPublisher).equals(Buffer.from(before)), 'the publish changed the metadata').toBe(false);
    expect(await verifies(fromPublisher, await bytesOf(reader, `/${repo}/${signature}`)), 'metadata from the publisher, signature from the reader').toBe(true);
    expect(await verifies(await bytesOf(reader, `/${repo}/${metadata}`), await bytesOf(publisher, `/${repo}/${signature}`)), 'metadata from the reader, signature from the publisher').toBe(true);
  });
});
