// The core pieces that once needed Node or runtime-compiled WebAssembly, run in real workerd
// (through Miniflare): xz decoding of a real control.tar.xz, the zip-bomb guard, and the Worker
// host's hasher. The fixture is bundled as `wrangler` would: browser platform, workerd conditions.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { build } from 'esbuild';
import { Miniflare } from 'miniflare';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDeb } from '../../helpers/debs.js';

const fixture = path.join(path.dirname(new URL(import.meta.url).pathname), 'fixtures/core-worker.ts');
let mf: Miniflare;
let debDir: string;

beforeAll(async () => {
  const bundle = await build({
    entryPoints: [fixture],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    conditions: ['workerd', 'worker', 'browser'],
    write: false,
    logLevel: 'silent',
  });
  mf = new Miniflare({ modules: true, script: bundle.outputFiles[0]!.text, compatibilityDate: '2025-09-01' });
  await mf.ready;
  debDir = await mkdtemp(path.join(os.tmpdir(), 'packyard-workerd-'));
});

afterAll(async () => {
  await mf?.dispose();
  if (debDir) await rm(debDir, { recursive: true, force: true });
});

async function post(route: string, body: Uint8Array): Promise<{ status: number; bytes: Uint8Array; text: string }> {
  const res = await mf.dispatchFetch(`http://worker${route}`, { method: 'POST', body });
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, bytes, text: new TextDecoder().decode(bytes) };
}

/** The named member of an ar archive (a .deb). */
function arMember(archive: Uint8Array, name: string): Uint8Array {
  const text = (from: number, length: number) => new TextDecoder('latin1').decode(archive.subarray(from, from + length));
  for (let pos = 8; pos + 60 <= archive.length; ) {
    const size = Number(text(pos + 48, 10).trim());
    if (text(pos, 16).trim().replace(/\/$/, '') === name) return archive.subarray(pos + 60, pos + 60 + size);
    pos += 60 + size + (size & 1);
  }
  throw new Error(`no ${name} member`);
}

function nodeDigests(data: Uint8Array) {
  const hex = (algorithm: string) => createHash(algorithm).update(data).digest('hex');
  return { md5: hex('md5'), sha1: hex('sha1'), sha256: hex('sha256'), sha512: hex('sha512') };
}

describe('the core in workerd', () => {
  it('decodes the control.tar.xz of a .deb made by dpkg-deb, and inspects the whole .deb', async () => {
    const deb = await buildDeb(
      {
        name: 'workerd-probe',
        version: '1:2.3-4',
        arch: 'amd64',
        depends: 'libc6 (>= 2.36)',
        description: 'probe for the xz decoder\nIts control member is xz-compressed, as Debian does it.',
        compression: 'xz',
        scripts: { postinst: '#!/bin/sh\necho configured\n' },
      },
      debDir,
    );
    const bytes = new Uint8Array(await readFile(deb.path));
    const member = arMember(bytes, 'control.tar.xz');
    const expected = new Uint8Array(execFileSync('xz', ['-dc'], { input: member }));

    const decoded = await post(`/decompress?format=xz&max=${16 << 20}`, member);
    expect(decoded.status, decoded.text).toBe(200);
    expect(Buffer.from(decoded.bytes).equals(expected)).toBe(true);

    const inspected = await post('/inspect', bytes);
    expect(inspected.status, inspected.text).toBe(200);
    expect(JSON.parse(inspected.text)).toMatchObject({ package: 'workerd-probe', version: '1:2.3-4', architecture: 'amd64' });
  });

  it('refuses an xz bomb at the limit, and corrupt xz as corrupt-compression', async () => {
    const bomb = new Uint8Array(execFileSync('xz', ['-c', '-0', '-T1'], { input: new Uint8Array(64 << 20), maxBuffer: 1 << 27 }));
    expect(bomb.length).toBeLessThan(100_000);
    const refused = await post(`/decompress?format=xz&max=${4 << 20}`, bomb);
    expect(refused.status, refused.text).toBe(422);
    expect(JSON.parse(refused.text).code).toBe('decompressed-too-large');

    const damaged = new Uint8Array(bomb);
    damaged[damaged.length >> 1]! ^= 0x55;
    const corrupt = await post(`/decompress?format=xz&max=${64 << 20}`, damaged.subarray(0, damaged.length - 20));
    expect(corrupt.status, corrupt.text).toBe(422);
    expect(JSON.parse(corrupt.text).code).toBe('corrupt-compression');
  });

  it('hashes like node:crypto, whatever the chunking', async () => {
    const data = new Uint8Array(3_000_001).map((_, i) => (i * 31 + (i >> 11)) & 255);
    const expected = nodeDigests(data);
    for (const chunk of [65536, 1_000_003, 777]) {
      const res = await post(`/hash?chunk=${chunk}`, data);
      expect(res.status, res.text).toBe(200);
      expect(JSON.parse(res.text)).toEqual(expected);
    }
    const empty = await post('/hash', new Uint8Array(0));
    expect(JSON.parse(empty.text)).toEqual(nodeDigests(new Uint8Array(0)));
    const some = await post('/hash?names=sha256,md5', data);
    expect(JSON.parse(some.text)).toEqual({ sha256: expected.sha256, md5: expected.md5 });
  });
});
