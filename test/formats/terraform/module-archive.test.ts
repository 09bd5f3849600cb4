// readModuleArchive against archives made by GNU tar and Info-ZIP, and against hostile ones built
// entry by entry: each refusal with its code, and bombs refused quickly with little memory.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { zipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readModuleArchive } from '../../../src/formats/terraform/module-archive.js';
import { packyardError } from '../../helpers/errors.js';
import { concat } from '../../helpers/bytes.js';
import { paxEntry, tarArchive, tarEntry } from '../../fixtures/tar-entries.js';
import { crc32, deflatedZeros, gz, gzipWrap, rawZip } from './archives.js';

const enc = new TextEncoder();
const GiB = 2 ** 30;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-tf-module-'));
  // A module with nested modules, as `//modules/vpc` addresses them, and links that stay inside.
  const src = path.join(dir, 'src');
  await mkdir(path.join(src, 'modules', 'vpc'), { recursive: true });
  await mkdir(path.join(src, 'examples', 'basic'), { recursive: true });
  await writeFile(path.join(src, 'main.tf'), 'variable "name" {}\n');
  await writeFile(path.join(src, 'modules', 'vpc', 'main.tf'), 'resource "null_resource" "x" {}\n');
  await writeFile(path.join(src, 'modules', 'vpc', 'outputs.tf.json'), '{"output": {}}\n');
  await writeFile(path.join(src, 'README.md'), '# module\n');
  await symlink('../../modules/vpc', path.join(src, 'examples', 'basic', 'vpc'));
  await symlink('README.md', path.join(src, 'README'));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const EXPECTED_FILES = ['README.md', 'main.tf', 'modules/vpc/main.tf', 'modules/vpc/outputs.tf.json'];

describe('readModuleArchive reads', () => {
  test('a .tar.gz made by GNU tar (nested directories, links inside)', async () => {
    const file = path.join(dir, 'm.tar.gz');
    execFileSync('tar', ['-czf', file, '-C', path.join(dir, 'src'), '.']);
    const read = readModuleArchive(new Uint8Array(await readFile(file)));
    expect(read.kind).toBe('tar.gz');
    expect(read.files.map((f) => f.path).sort()).toEqual(EXPECTED_FILES);
    expect(read.tfFiles).toBe(3);
    expect(read.files.find((f) => f.path === 'main.tf')).toMatchObject({ size: 19, mode: expect.any(Number) });
    expect(read.uncompressedSize).toBe(read.files.reduce((n, f) => n + f.size, 0));
  });

  test('a .zip made by Info-ZIP (links kept as links with -y), whatever its file name says', async () => {
    const file = path.join(dir, 'm.tar.gz'.replace('tar.gz', 'bin'));
    execFileSync('zip', ['-qry', file, '.'], { cwd: path.join(dir, 'src') });
    const read = readModuleArchive(new Uint8Array(await readFile(file)));
    expect(read.kind).toBe('zip');
    expect(read.files.map((f) => f.path).sort()).toEqual(EXPECTED_FILES);
    expect(read.tfFiles).toBe(3);
    expect(read.files.find((f) => f.path === 'main.tf')?.mode).toBe(0o644);
  });

  test('a zip64 zip and a zip streamed to a pipe (data descriptors) by Info-ZIP', async () => {
    const zip64 = path.join(dir, 'm64.zip');
    execFileSync('zip', ['-qry', '-fz', zip64, '.'], { cwd: path.join(dir, 'src') });
    expect(readModuleArchive(new Uint8Array(await readFile(zip64))).files.map((f) => f.path).sort()).toEqual(EXPECTED_FILES);
    // Info-ZIP stores links only to a file, not to a pipe: the files alone.
    const streamed = execFileSync('sh', ['-c', 'zip -qr - main.tf modules README.md | cat'], { cwd: path.join(dir, 'src') });
    expect(readModuleArchive(new Uint8Array(streamed)).files.map((f) => f.path).sort()).toEqual(EXPECTED_FILES);
  });

  test('a module only in a subdirectory (a `//subdir` layout), in a tar with long names', () => {
    const long = `${'d'.repeat(120)}/${'e'.repeat(120)}/main.tf`;
    const tar = tarArchive(tarEntry({ name: 'modules/', type: '5' }), paxEntry('x', { path: long }), tarEntry({ name: 'x', data: 'locals {}\n' }));
    expect(readModuleArchive(gz(tar)).files).toEqual([{ path: long, size: 10, mode: 0o644 }]);
  });

  test('a zip from fflate with a Unix symlink inside and directories', () => {
    const zip = zipSync({
      'sub/': [new Uint8Array(0), { os: 3, attrs: (0o40755 << 16) >>> 0 }],
      'sub/main.tf': [enc.encode('# x\n'), { os: 3, attrs: (0o100600 << 16) >>> 0 }],
      'link.tf': [enc.encode('sub/main.tf'), { os: 3, attrs: (0o120777 << 16) >>> 0 }],
    });
    const read = readModuleArchive(zip);
    expect(read.files).toEqual([{ path: 'sub/main.tf', size: 4, mode: 0o600 }]);
  });
});

describe('readModuleArchive refuses', () => {
  const code = async (archive: Uint8Array, limits?: Parameters<typeof readModuleArchive>[1]) => (await packyardError(() => readModuleArchive(archive, limits))).code;
  const tf = tarEntry({ name: 'main.tf', data: 'locals {}\n' });

  test('what is neither a gzipped tar nor a zip (bad-archive), with status 422', async () => {
    const err = await packyardError(() => readModuleArchive(enc.encode('just text, named module.tar.gz')));
    expect([err.status, err.code]).toEqual([422, 'bad-archive']);
    expect(await code(gz(enc.encode('a gzip of text, not of a tar archive'.repeat(20))))).toBe('bad-archive');
    const noise = tarEntry({ name: 'noise', data: crypto.getRandomValues(new Uint8Array(4000)) });
    expect(await code(gz(tarArchive(tf, noise)).subarray(0, 2000))).toBe('bad-archive'); // cut gzip
    // A gzip cut after the tar's end-of-archive marker is read, as tar (and Terraform's go-getter) read it.
    const whole = gz(tarArchive(tf, noise));
    expect(readModuleArchive(whole.subarray(0, whole.length - 4)).tfFiles).toBe(1);
    expect(await code(gz(tarArchive(tf, noise).subarray(0, 2000)))).toBe('bad-archive'); // tar cut inside a file
    expect(await code(gz(tarArchive(tf).subarray(0, 300)))).toBe('bad-archive'); // tar cut inside a header
    expect(await code(zipSync({ 'main.tf': enc.encode('x') }).subarray(0, 40))).toBe('bad-archive');
    const crcWrong = rawZip([{ name: 'main.tf', data: enc.encode('x'), size: 1, crc: 1 }]);
    expect(await code(crcWrong)).toBe('bad-archive');
  });

  test('an archive without a .tf or .tf.json file (no-terraform-files)', async () => {
    expect(await code(gz(tarArchive(tarEntry({ name: 'README.md', data: 'x' }), tarEntry({ name: 'main.tf.txt' }))))).toBe('no-terraform-files');
    expect(await code(zipSync({ 'a/b.tfvars': enc.encode('x') }))).toBe('no-terraform-files');
    expect(await code(gz(tarArchive()))).toBe('no-terraform-files');
  });

  test('absolute paths, "..", backslashes and drive letters (unsafe-path)', async () => {
    for (const name of ['/etc/main.tf', '../main.tf', 'a/../../main.tf', 'a\\..\\..\\main.tf', 'C:/main.tf', 'C:main.tf']) {
      expect(await code(gz(tarArchive(tf, tarEntry({ name, data: 'x' })))), name).toBe('unsafe-path');
      expect(await code(rawZip([{ name: 'main.tf', data: enc.encode('x'), size: 1, crc: crc32(enc.encode('x')) }, { name, data: new Uint8Array(0), size: 0, crc: 0 }])), name).toBe('unsafe-path');
    }
    // A pax path is what tar unpacks to, whatever the plain header says.
    expect(await code(gz(tarArchive(tf, paxEntry('x', { path: '../../x' }), tarEntry({ name: 'harmless' }))))).toBe('unsafe-path');
  });

  test('links whose target escapes the archive (unsafe-link); links inside are fine', async () => {
    const link = (name: string, linkname: string, type = '2') => gz(tarArchive(tf, tarEntry({ name, type, linkname })));
    expect(await code(link('passwd', '../../etc/passwd'))).toBe('unsafe-link');
    expect(await code(link('a/b/passwd', '../../../etc/passwd'))).toBe('unsafe-link');
    expect(await code(link('abs', '/etc/passwd'))).toBe('unsafe-link');
    expect(await code(link('hard', '../../etc/passwd', '1'))).toBe('unsafe-link');
    expect(readModuleArchive(link('a/b/ok', '../../main.tf')).tfFiles).toBe(1);
    expect(readModuleArchive(link('hard.tf', 'main.tf', '1')).tfFiles).toBe(1);
    // Inside lexically, outside once the first link is followed.
    expect(await code(gz(tarArchive(tf, tarEntry({ name: 'a/up', type: '2', linkname: '..' }), tarEntry({ name: 'a/out', type: '2', linkname: 'up/..' }))))).toBe('unsafe-link');
    // A file written through a link lands wherever the link points.
    expect(await code(gz(tarArchive(tf, tarEntry({ name: 'dir', type: '2', linkname: '.' }), tarEntry({ name: 'dir/x', data: 'x' }))))).toBe('unsafe-link');
    const zipLink = (target: string) => zipSync({ 'main.tf': enc.encode('x'), l: [enc.encode(target), { os: 3, attrs: (0o120777 << 16) >>> 0 }] });
    expect(await code(zipLink('../../etc/passwd'))).toBe('unsafe-link');
    expect(readModuleArchive(zipLink('main.tf')).tfFiles).toBe(1);
  });

  test('devices, fifos and unknown entry types (unsafe-entry)', async () => {
    for (const type of ['3', '4', '6', 'V']) expect(await code(gz(tarArchive(tf, tarEntry({ name: 'dev', type })))), type).toBe('unsafe-entry');
    for (const mode of [0o020644, 0o060644, 0o010644]) {
      expect(await code(zipSync({ 'main.tf': enc.encode('x'), dev: [new Uint8Array(0), { os: 3, attrs: (mode << 16) >>> 0 }] }))).toBe('unsafe-entry');
    }
  });

  test('more than the uncompressed limit (too-large), by declared size before inflating', async () => {
    const big = gz(tarArchive(tf, tarEntry({ name: 'big', data: new Uint8Array(2000) })));
    expect(await code(big, { maxUncompressedSize: 1000 })).toBe('too-large');
    expect(readModuleArchive(big, { maxUncompressedSize: 10_000 }).uncompressedSize).toBe(2010);
    expect(await code(zipSync({ 'main.tf': enc.encode('x'), big: new Uint8Array(2000) }), { maxUncompressedSize: 1000 })).toBe('too-large');
  });

  // A gigabyte of zeros in about a megabyte: refused while inflating, quickly, holding little.
  const measure = async (run: () => Promise<string>) => {
    globalThis.gc?.();
    const before = process.memoryUsage().rss;
    const started = performance.now();
    const result = await run();
    return { result, ms: performance.now() - started, grewMiB: (process.memoryUsage().rss - before) / 2 ** 20 };
  };

  test('a tar.gz bomb: a 1 GiB file compressed to about 1 MB', async () => {
    const header = tarEntry({ name: 'zeros', data: new Uint8Array(0) });
    // The header says 1 GiB: fix size and checksum.
    header.set(enc.encode(`${GiB.toString(8).padStart(11, '0')}\0`), 124);
    header.fill(0x20, 148, 156);
    header.set(enc.encode(`${header.subarray(0, 512).reduce((a, b) => a + b, 0).toString(8).padStart(6, '0')}\0 `), 148);
    const bomb = gzipWrap(deflatedZeros(GiB, concat(tf, header.subarray(0, 512))));
    expect(bomb.length).toBeLessThan(1.2e6);
    // Over the default limit by the header alone.
    expect((await measure(() => code(bomb))).result).toBe('too-large');
    // With room for its declared size, the compression ratio stops it while inflating.
    const run = await measure(() => code(bomb, { maxUncompressedSize: 4 * GiB }));
    expect(run.result).toBe('too-large');
    expect(run.ms).toBeLessThan(3000);
    expect(run.grewMiB).toBeLessThan(100);
  });

  test('a zip bomb: 1 GiB of zeros in one entry, honest or lying about its size, and entries sharing one payload', async () => {
    const zeros = deflatedZeros(GiB);
    const tfEntry = { name: 'main.tf', data: enc.encode('x'), size: 1, crc: crc32(enc.encode('x')) };
    const honest = rawZip([tfEntry, { name: 'zeros', data: zeros, method: 8, size: GiB, crc: 0 }]);
    expect((await measure(() => code(honest))).result).toBe('too-large');
    // Its header says 1 KiB: inflating stops as soon as it passes that.
    const lying = await measure(() => code(rawZip([tfEntry, { name: 'zeros', data: zeros, method: 8, size: 1024, crc: 0 }])));
    expect(lying.result).toBe('bad-archive');
    expect(lying.ms).toBeLessThan(3000);
    expect(lying.grewMiB).toBeLessThan(100);
    // Twenty names for one 64 MiB payload: each under the limit, together over it.
    const shared = deflatedZeros(64 * 2 ** 20);
    const crc = crc32(new Uint8Array(64 * 2 ** 20));
    const overlap = rawZip([tfEntry, ...Array.from({ length: 20 }, (_, i) => ({ name: `z${i}`, data: shared, method: 8 as const, size: 64 * 2 ** 20, crc, ...(i > 0 ? { sharesDataWith: 1 } : {}) }))]);
    expect(overlap.length).toBeLessThan(200_000);
    expect(await code(overlap)).toBe('too-large');
    // Under the size limit but far over the ratio: inflated in steps, stopped part way.
    const ratio = await measure(() => code(overlap, { maxUncompressedSize: 4 * GiB }));
    expect(ratio.result).toBe('too-large');
    expect(ratio.grewMiB).toBeLessThan(100);
  });
});
