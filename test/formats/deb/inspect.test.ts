// DebInspector against .deb files made by the real dpkg-deb (and real Debian packages), read
// in chunks of every size, compared with what dpkg-deb itself reports; then against broken
// ones (test/fixtures/malformed-debs.ts), made by editing real files or assembling ar/tar archives.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DebInspector, type DebInfo } from '../../../src/formats/deb/inspect.js';
import { DEBIAN_BINARY, GOOD_CONTROL, ar, arHeader, compress, malformedDebs, members, tarball } from '../../fixtures/malformed-debs.js';
import { buildDeb, fetchRealDebs, type DebCompression } from '../../helpers/debs.js';
import { inChunks } from '../../helpers/bytes.js';
import { packyardError } from '../../helpers/errors.js';
import { runOk } from '../../helpers/exec.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-inspect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const enc = new TextEncoder();

/** Pushes `bytes` in chunks of `size` (or of random sizes up to 64 KiB when size is 'random'). */
async function inspect(bytes: Uint8Array, size: number | 'random' = 65536): Promise<DebInfo> {
  const inspector = new DebInspector();
  inChunks(bytes, size, (chunk) => inspector.push(chunk));
  return inspector.finish();
}

/** The error inspect() fails with: anything but a PackyardError fails the test. */
const failure = (bytes: Uint8Array, size?: number) => packyardError(() => inspect(bytes, size));

const DESCRIPTION = 'Ünïcödé test package\nThe extended description has several lines.\n\nAnd an empty one, written " .".';
const MAINTAINER = 'Zoë Ðøé-Łukasz 测试 <zoe@example.org>';

/** Checks info against what dpkg-deb says about the same file. */
async function expectMatchesDpkg(file: string, info: DebInfo) {
  const raw = (await runOk('dpkg-deb', ['--info', file, 'control'])).stdout;
  expect(info.control.text).toBe(raw.replace(/\n+$/, ''));
  const names = raw.split('\n').flatMap((l) => /^([^ \t:]+):/.exec(l)?.[1] ?? []);
  expect(names.length).toBeGreaterThan(3);
  for (const name of names) {
    const value = (await runOk('dpkg-deb', ['-f', file, name])).stdout.replace(/\n$/, '');
    expect(info.control.get(name), name).toBe(value);
    expect(info.control.get(name.toUpperCase()), name).toBe(value);
  }
  const field = async (name: string) => (await runOk('dpkg-deb', ['-f', file, name])).stdout.trim();
  expect(info.package).toBe(await field('Package'));
  expect(info.version).toBe(await field('Version'));
  expect(info.architecture).toBe(await field('Architecture'));
}

describe('reads .deb files built by dpkg-deb', () => {
  const compressions: DebCompression[] = ['xz', 'gzip', 'zstd', 'none'];

  test.each(compressions)('-Z%s, in 1-byte, 7-byte, 64 KiB and random chunks', async (compression) => {
    const deb = await buildDeb(
      {
        name: `demo-${compression}`,
        version: '1:2.3~rc1+dfsg-4ubuntu0.1',
        arch: 'amd64',
        maintainer: MAINTAINER,
        description: DESCRIPTION,
        depends: 'libc6 (>= 2.34), foo | bar',
        fields: { Source: 'demo-src (2.3~rc1+dfsg-4)', Section: 'utils', 'X-Custom-Field': 'ä ö ü' },
        compression,
        files: { 'usr/share/demo/big': new Uint8Array(300_000).map((_, i) => (i * 7919) % 251) },
      },
      path.join(dir, compression),
    );
    const bytes = new Uint8Array(await readFile(deb.path));
    const info = await inspect(bytes);
    await expectMatchesDpkg(deb.path, info);
    expect(info.source).toBe('demo-src');
    expect(info.sourceVersion).toBe('2.3~rc1+dfsg-4');
    expect(info.control.get('Maintainer')).toBe(MAINTAINER);
    const { control, ...identity } = info;
    for (const size of [1, 7, 'random'] as const) {
      const again = await inspect(bytes, size);
      expect(again.control.text).toBe(control.text);
      expect(again).toMatchObject(identity);
    }
  });

  test('without a Source field the source is the package itself', async () => {
    const deb = await buildDeb({ name: 'plain', version: '0.1', arch: 'all' }, path.join(dir, 'plain'));
    const info = await inspect(new Uint8Array(await readFile(deb.path)));
    expect(info).toMatchObject({ package: 'plain', version: '0.1', architecture: 'all', source: 'plain', sourceVersion: '0.1' });
  });

  test('a Source field without a version takes the binary version', async () => {
    const deb = await buildDeb(
      { name: 'bin-only', version: '3.0-2', fields: { Source: 'the-source' } },
      path.join(dir, 'src-no-version'),
    );
    const info = await inspect(new Uint8Array(await readFile(deb.path)));
    expect(info).toMatchObject({ source: 'the-source', sourceVersion: '3.0-2' });
  });

  test('keeps odd but valid control text verbatim (tabs, trailing spaces, blank lines at the end)', async () => {
    const text =
      'Package: odd\nVersion: 1.0\nArchitecture: all\nMaintainer: T <t@example.org>\n' +
      'X-Spaces:    padded value   \nX-Empty-First:\n first continuation\n\tand a tab one  \n' +
      'description: lower-case field name\n .\n last\n';
    const root = path.join(dir, 'odd');
    await mkdir(path.join(root, 'DEBIAN'), { recursive: true });
    await writeFile(path.join(root, 'DEBIAN/control'), text + '\n\n');
    const file = path.join(dir, 'odd.deb');
    await runOk('dpkg-deb', ['--build', '--root-owner-group', '-Zgzip', root, file]);
    const info = await inspect(new Uint8Array(await readFile(file)), 7);
    expect(info.control.text).toBe(text.replace(/\n$/, ''));
    await expectMatchesDpkg(file, info);
  });

  test('real Debian packages', async () => {
    const real = await fetchRealDebs();
    for (const deb of Object.values(real)) {
      const info = await inspect(new Uint8Array(await readFile(deb.path)), 'random');
      await expectMatchesDpkg(deb.path, info);
      expect(info.source).toBe('vim');
      expect(info.sourceVersion).toBe(deb.version);
    }
  });

  test('control tarballs in pax, ustar and v7 formats, and `_` members dpkg skips', async () => {
    for (const format of ['pax', 'ustar', 'v7']) {
      const tar = compress(await tarball({ control: GOOD_CONTROL, md5sums: '' }, format), 'xz');
      const bytes = ar([
        ['debian-binary', DEBIAN_BINARY],
        ['_gpgorigin', enc.encode('signature')],
        ['control.tar.xz', tar],
        ['_extra', new Uint8Array(3)],
        ['data.tar.bz2', new Uint8Array(0)],
      ], { gnuNames: true });
      const info = await inspect(bytes, 1);
      expect(info.package).toBe('hand-made');
      expect(info.control.text).toBe(GOOD_CONTROL.trimEnd());
    }
  });
});

describe('rejects malformed packages with a precise code', () => {
  const cases = malformedDebs();
  const bytesOf = (name: string) => {
    const found = cases.find((c) => c.name === name);
    if (!found) throw new Error(`no malformed case named ${JSON.stringify(name)}`);
    return found.bytes();
  };

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_, { bytes: make, code }) => {
    const bytes = await make();
    const err = await failure(bytes);
    expect(err.code, err.message).toBe(code);
    expect(err.status).toBe(422);
    // Split anywhere, the same input fails the same way.
    expect((await failure(bytes, 13)).code).toBe(code);
  });

  test.each(cases.filter((c) => c.dpkgReads).map((c) => [c.name, c] as const))('dpkg-deb reads another control file from: %s', async (name, c) => {
    const file = path.join(dir, `${name.replace(/[^A-Za-z0-9]+/g, '-')}.deb`);
    await writeFile(file, await c.bytes());
    // What an index showing the first ./control would hide: dpkg installs this package.
    expect((await runOk('dpkg-deb', ['-f', file, 'Package'])).stdout.trim()).toBe(c.dpkgReads);
  });

  test('messages name the defect', async () => {
    const missing = await failure(await bytesOf('missing Version'));
    expect(missing.message).toBe('control file: missing required field "Version"');
    const corrupt = await failure(await bytesOf('corrupt xz control'));
    expect(corrupt.message).toMatch(/^control member "control\.tar\.xz": corrupt xz data/);
    const link = await failure(await bytesOf('control is a hard link to another file'));
    expect(link.message).toBe('control member "control.tar": "./control" is a hard link (dpkg would follow it); control files must be regular files');
    const twice = await failure(await bytesOf('control twice, the second as /control'));
    expect(twice.message).toBe('control member "control.tar": "/control" unpacks to the same path as "./control", and dpkg would read the last one');
    const big = await failure(await bytesOf('a 2 MB Description'));
    expect(big.message).toMatch(/^control file: 2\d{6} bytes, over the limit of 262144 /);
    const relation = await failure(await bytesOf('Conflicts with alternatives'));
    expect(relation.message).toBe('control file: field "Conflicts", "a | b": alternatives ("|") are not allowed in this field');
  });

  test('an oversized control member is refused from its header, before its bytes arrive', () => {
    const inspector = new DebInspector();
    inspector.push(ar([['debian-binary', DEBIAN_BINARY]]));
    expect(() => inspector.push(arHeader('control.tar.xz', 5_000_000))).toThrow(expect.objectContaining({ code: 'control-too-large' }));
    // And the inspector stays failed rather than reading on from a lost position.
    expect(() => inspector.push(new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'control-too-large' }));
  });
});

describe('memory', () => {
  test('a 200 MiB data member streams through without being buffered', async () => {
    const deb = await buildDeb({ name: 'big', version: '1.0' }, path.join(dir, 'big'));
    const [debianBinary, control] = members(new Uint8Array(await readFile(deb.path)));
    const size = 200 * 1024 * 1024;
    const chunk = new Uint8Array(64 * 1024).fill(0x5a); // reused: the test itself must not hold 200 MiB
    // Measured before the data member's header, since a buffering reader would allocate on seeing it.
    const before = process.memoryUsage().arrayBuffers;
    const inspector = new DebInspector();
    inspector.push(ar([[debianBinary!.name, debianBinary!.data], [control!.name, control!.data]]));
    inspector.push(arHeader('data.tar.xz', size));
    let peak = before;
    for (let sent = 0; sent < size; sent += chunk.length) {
      inspector.push(chunk);
      if (sent % (8 * 1024 * 1024) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    const info = await inspector.finish();
    expect(info.package).toBe('big');
    expect(peak - before).toBeLessThan(16 * 1024 * 1024);
  });
});
