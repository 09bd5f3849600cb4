// providerHashV1 against Go's golang.org/x/mod/sumdb/dirhash.HashZip (what Terraform's
// getproviders.PackageHashV1 runs on a provider zip), built offline from Debian's
// golang-golang-x-mod-dev in GOPATH mode.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { providerHashV1 } from '../../../src/formats/terraform/dirhash.js';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';
import { cacheDir } from '../../helpers/exec.js';
import { packyardError } from '../../helpers/errors.js';
import { crc32, rawZip } from './archives.js';

const enc = new TextEncoder();
const hasGo = spawnSync('go', ['version']).status === 0;
// Only a machine without Go may skip; CI installs it and must run the comparison.
const skip = !hasGo && process.env.CI !== 'true';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-tf-h1-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Go's h1: for each zip, in one `go run`. */
function goHashes(files: string[]): string[] {
  const out = execFileSync('go', ['run', path.join(import.meta.dirname, 'dirhash.go'), ...files], {
    encoding: 'utf8',
    env: { ...process.env, GOPATH: '/usr/share/gocode', GO111MODULE: 'off', GOFLAGS: '', GOCACHE: path.join(cacheDir, 'go-build') },
  });
  return out.trim().split('\n');
}

/** Bytes that deflate poorly, so an entry spans many inflate steps. */
function noise(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe.skipIf(skip)('providerHashV1 equals Go dirhash.HashZip', () => {
  test('for provider zips of several shapes', async () => {
    const zips: Record<string, Uint8Array> = {
      // What a provider release ships: one executable.
      single: zipSync({ 'terraform-provider-widget_v1.2.3_x5': noise(3_000_000, 1) }),
      // Names that sort differently by bytes than by UTF-16, nested paths, an empty file, a stored entry.
      several: zipSync({
        'terraform-provider-widget': noise(50_000, 2),
        'README.md': enc.encode('# widget\n'),
        'a-b': enc.encode('1'),
        'a/b': enc.encode('2'),
        'Z.txt': new Uint8Array(0),
        'ünï/çödé': enc.encode('3'),
        '𝔘.txt': enc.encode('astral'),
        'ﬀ.txt': enc.encode('bmp'),
        'stored.bin': [noise(10_000, 3), { level: 0 }],
      }),
      // A name twice: HashZip lists it twice and reads the last entry.
      repeated: rawZip([
        { name: 'dup', data: enc.encode('first'), size: 5, crc: crc32(enc.encode('first')) },
        { name: 'dup', data: enc.encode('second'), size: 6, crc: crc32(enc.encode('second')) },
      ]),
    };
    // Info-ZIP's zip of a directory: directory entries included, deflated and stored files.
    const tree = path.join(dir, 'tree');
    await mkdir(path.join(tree, 'sub', 'deeper'), { recursive: true });
    await writeFile(path.join(tree, 'terraform-provider-widget'), noise(200_000, 4));
    await writeFile(path.join(tree, 'sub', 'deeper', 'x.txt'), 'x\n');
    const infozip = path.join(dir, 'infozip.zip');
    execFileSync('zip', ['-qr', infozip, '.'], { cwd: tree });
    const files = [infozip];
    for (const [name, bytes] of Object.entries(zips)) {
      files.push(path.join(dir, `${name}.zip`));
      await writeFile(files.at(-1)!, bytes);
    }
    const go = goHashes(files);
    const ours = await Promise.all(files.map(async (file) => providerHashV1(new Uint8Array(await readFile(file)), createNodeHasher)));
    expect(ours).toEqual(go);
    expect(new Set(ours).size).toBe(files.length);
    for (const h of ours) expect(h).toMatch(/^h1:[A-Za-z0-9+/]{43}=$/);
  });
});

describe('providerHashV1', () => {
  test('refuses a name with a newline, which dirhash cannot hash', async () => {
    const zip = zipSync({ 'a\nb': enc.encode('x') });
    expect((await packyardError(() => providerHashV1(zip, createNodeHasher))).code).toBe('bad-archive');
  });

  test('is the documented line format hashed: "<sha256 hex>  <name>\\n", sorted, base64', async () => {
    const zip = zipSync({ b: enc.encode('B'), a: enc.encode('A') });
    const hex = async (text: string) => Buffer.from(await crypto.subtle.digest('SHA-256', enc.encode(text))).toString('hex');
    const lines = `${await hex('A')}  a\n${await hex('B')}  b\n`;
    const expected = `h1:${Buffer.from(await crypto.subtle.digest('SHA-256', enc.encode(lines))).toString('base64')}`;
    expect(await providerHashV1(zip, createNodeHasher)).toBe(expected);
  });
});
