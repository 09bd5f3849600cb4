// DebInspector against .deb files made by the real dpkg-deb (and real Debian packages), read
// in chunks of every size, compared with what dpkg-deb itself reports; then against broken
// ones, made by editing real files or assembling ar/tar archives here.
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DebInspector, type DebInfo } from '../../../src/formats/deb/inspect.js';
import { PackyardError } from '../../../src/util/errors.js';
import { buildDeb, fetchRealDebs, type DebCompression } from '../../helpers/debs.js';
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
  for (let pos = 0; pos < bytes.length; ) {
    const n = size === 'random' ? 1 + Math.floor(Math.random() * 65536) : size;
    inspector.push(bytes.subarray(pos, pos + n));
    pos += n;
  }
  return inspector.finish();
}

/** The error inspect() fails with: anything but a PackyardError fails the test. */
async function failure(bytes: Uint8Array, size?: number): Promise<PackyardError> {
  try {
    await inspect(bytes, size);
  } catch (err) {
    if (err instanceof PackyardError) return err;
    throw err;
  }
  throw new Error('expected the package to be rejected');
}

/** A 60-byte ar member header. */
function arHeader(name: string, size: number): Uint8Array {
  const field = (s: string, n: number) => s.padEnd(n, ' ').slice(0, n);
  return enc.encode(field(name, 16) + field('0', 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(String(size), 10) + '`\n');
}

/** Assembles an ar archive; `gnuNames` ends names with GNU ar's `/`, which dpkg-deb does not write. */
function ar(members: [name: string, data: Uint8Array][], opts: { gnuNames?: boolean } = {}): Uint8Array {
  const parts: Uint8Array[] = [enc.encode('!<arch>\n')];
  for (const [name, data] of members) {
    parts.push(arHeader(opts.gnuNames ? `${name}/` : name, data.length), data);
    if (data.length % 2) parts.push(enc.encode('\n'));
  }
  return concat(parts);
}

/** The members of a well-formed ar archive (test-side reader, to pick real files apart). */
function members(bytes: Uint8Array): { name: string; offset: number; data: Uint8Array }[] {
  const out = [];
  const text = new TextDecoder('latin1');
  for (let pos = 8; pos < bytes.length; ) {
    const name = text.decode(bytes.subarray(pos, pos + 16)).trim().replace(/\/$/, '');
    const size = Number(text.decode(bytes.subarray(pos + 48, pos + 58)).trim());
    out.push({ name, offset: pos, data: bytes.subarray(pos + 60, pos + 60 + size) });
    pos += 60 + size + (size % 2);
  }
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

const DEBIAN_BINARY = enc.encode('2.0\n');

type Compression = 'none' | 'gz' | 'xz' | 'zst';
const COMPRESSORS: Record<Compression, string[] | undefined> = {
  none: undefined,
  gz: ['gzip', '-n', '-c'],
  xz: ['xz', '-c'],
  zst: ['zstd', '-q', '-c'],
};

function compress(data: Uint8Array, compression: Compression): Uint8Array {
  const cmd = COMPRESSORS[compression];
  return cmd ? new Uint8Array(execFileSync(cmd[0]!, cmd.slice(1), { input: data, maxBuffer: 1 << 30 })) : data;
}

let tarCount = 0;
/** A tarball made by GNU tar from these files (paths relative to `.`). */
async function tarball(files: Record<string, string | Uint8Array>, format = 'gnu'): Promise<Uint8Array> {
  const root = path.join(dir, `tar-${tarCount++}`);
  for (const [name, body] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, name)), { recursive: true });
    await writeFile(path.join(root, name), body);
  }
  const names = Object.keys(files).map((n) => `./${n}`);
  return new Uint8Array(
    execFileSync('tar', [`--format=${format}`, '--owner=0', '--group=0', '-C', root, '-cf', '-', ...names], {
      maxBuffer: 1 << 30,
    }),
  );
}

const GOOD_CONTROL = 'Package: hand-made\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.org>\nDescription: x\n';

/** A .deb assembled here around a control file dpkg-deb would refuse to build. */
async function debWithControl(control: string | Uint8Array, compression: Compression = 'gz'): Promise<Uint8Array> {
  const tar = compress(await tarball({ control }), compression);
  const ext = compression === 'none' ? '' : `.${compression}`;
  return ar([
    ['debian-binary', DEBIAN_BINARY],
    [`control.tar${ext}`, tar],
    ['data.tar.gz', compress(await tarball({ 'usr/x': 'x' }), 'gz')],
  ]);
}

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
  let real: Uint8Array; // a dpkg-deb -Zxz package
  let realGz: Uint8Array;
  let realZst: Uint8Array;
  beforeAll(async () => {
    const build = async (compression: DebCompression) =>
      new Uint8Array(
        await readFile(
          (await buildDeb({ name: `victim-${compression}`, version: '1.0', compression }, path.join(dir, `victim-${compression}`))).path,
        ),
      );
    [real, realGz, realZst] = await Promise.all([build('xz'), build('gzip'), build('zstd')]);
  });

  const withByte = (bytes: Uint8Array, offset: number, value: number) => {
    const copy = new Uint8Array(bytes);
    copy[offset] = value;
    return copy;
  };
  const control = (bytes: Uint8Array) => members(bytes)[1]!;

  const cases: [string, () => Uint8Array | Promise<Uint8Array>, string][] = [
    ['not an ar archive', () => enc.encode('PK\x03\x04 this is a zip file'), 'not-ar-archive'],
    ['empty file', () => new Uint8Array(0), 'not-ar-archive'],
    ['only part of the ar signature', () => enc.encode('!<ar'), 'truncated'],
    ['truncated inside a member header', () => real.subarray(0, 8 + 30), 'truncated'],
    ['truncated inside the control member', () => real.subarray(0, control(real).offset + 100), 'truncated'],
    ['truncated inside the data member', () => real.subarray(0, real.length - 10), 'truncated'],
    ['bad header end marker', () => withByte(real, 8 + 58, 0x20), 'bad-ar-header'],
    ['non-numeric member size', () => withByte(real, 8 + 48, 'x'.charCodeAt(0)), 'bad-ar-header'],
    ['control member first, no debian-binary', () => ar(members(real).slice(1).map((m) => [m.name, m.data])), 'missing-debian-binary'],
    ['ar archive without members', () => enc.encode('!<arch>\n'), 'missing-debian-binary'],
    ['debian-binary says 3.0', () => ar([['debian-binary', enc.encode('3.0\n')], ...members(real).slice(1).map((m) => [m.name, m.data] as [string, Uint8Array])]), 'bad-debian-binary'],
    ['debian-binary without newline', () => ar([['debian-binary', enc.encode('2.0')], ...members(real).slice(1).map((m) => [m.name, m.data] as [string, Uint8Array])]), 'bad-debian-binary'],
    ['huge debian-binary', () => ar([['debian-binary', new Uint8Array(1000).fill(0x32)]]), 'bad-debian-binary'],
    ['no control member', () => ar([['debian-binary', DEBIAN_BINARY], ['data.tar.xz', members(real)[2]!.data]]), 'missing-control'],
    ['only debian-binary', () => ar([['debian-binary', DEBIAN_BINARY]]), 'missing-control'],
    ['no data member', () => ar(members(real).slice(0, 2).map((m) => [m.name, m.data])), 'missing-data-member'],
    ['unknown member between control and data', () => ar([['debian-binary', DEBIAN_BINARY], [control(real).name, control(real).data], ['extra', new Uint8Array(2)]]), 'unexpected-member'],
    ['two control members', () => ar([['debian-binary', DEBIAN_BINARY], [control(real).name, control(real).data], ['control.tar.gz', control(realGz).data]]), 'duplicate-member'],
    ['too many members', () => ar([['debian-binary', DEBIAN_BINARY], ...Array.from({ length: 40 }, (_, i): [string, Uint8Array] => [`_x${i}`, new Uint8Array(0)])]), 'too-many-members'],
    ['member name with a slash', () => ar([['debian-binary', DEBIAN_BINARY], ['a/control.tar', new Uint8Array(2)]]), 'unsafe-member-name'],
    ['member name ..', () => ar([['debian-binary', DEBIAN_BINARY], ['..', new Uint8Array(2)]]), 'unsafe-member-name'],
    ['member name with ../', () => ar([['../../etc/x', new Uint8Array(2)]]), 'unsafe-member-name'],
    ['member name with a NUL', () => ar([['debian-binary', DEBIAN_BINARY], ['control\0.tar', new Uint8Array(2)]]), 'unsafe-member-name'],
    ['control.tar.bz2 (dpkg refuses it too)', () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar.bz2', new Uint8Array(2)]]), 'unsupported-compression'],
    ['control.tarconstructor (no prototype lookups)', () => ar([['debian-binary', DEBIAN_BINARY], ['control.tarconstructor', new Uint8Array(2)]]), 'unsupported-compression'],
    ['data.tar.lz4', () => ar([['debian-binary', DEBIAN_BINARY], [control(real).name, control(real).data], ['data.tar.lz4', new Uint8Array(2)]]), 'unsupported-compression'],
    ['control member over 4 MiB', () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar', new Uint8Array(4 * 1024 * 1024 + 2)]]), 'control-too-large'],
    ['control tarball over 16 MiB once decompressed', async () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar.gz', compress(await tarball({ control: GOOD_CONTROL, padding: new Uint8Array(17 * 1024 * 1024) }), 'gz')], ['data.tar', new Uint8Array(0)]]), 'control-too-large'],
    ['corrupt gzip control', () => withByte(realGz, control(realGz).offset + 60 + 40, control(realGz).data[40]! ^ 0xff), 'corrupt-compression'],
    ['corrupt xz control', () => withByte(real, control(real).offset + 60 + 40, control(real).data[40]! ^ 0xff), 'corrupt-compression'],
    ['corrupt zstd control (bad frame magic)', () => withByte(realZst, control(realZst).offset + 60, 0), 'corrupt-compression'],
    ['zstd control cut short', () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar.zst', control(realZst).data.subarray(0, control(realZst).data.length - 6)], ['data.tar', new Uint8Array(0)]]), 'corrupt-compression'],
    // fzstd would allocate the declared window before decoding a byte.
    ['zstd frame declaring a 1 GiB window', () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar.zst', new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0x00, 0xa0, 0x01, 0x00, 0x00])], ['data.tar', new Uint8Array(0)]]), 'control-too-large'],
    ['tar header with a bad checksum', async () => {
      const tar = await tarball({ control: GOOD_CONTROL });
      tar[10] = 'X'.charCodeAt(0);
      return ar([['debian-binary', DEBIAN_BINARY], ['control.tar', tar], ['data.tar', new Uint8Array(0)]]);
    }, 'bad-tar'],
    ['tarball cut inside the control file', async () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar', (await tarball({ control: GOOD_CONTROL })).subarray(0, 600)], ['data.tar', new Uint8Array(0)]]), 'bad-tar'],
    ['no ./control in the tarball', async () => ar([['debian-binary', DEBIAN_BINARY], ['control.tar.gz', compress(await tarball({ md5sums: '', postinst: '#!/bin/sh\n' }), 'gz')], ['data.tar', new Uint8Array(0)]]), 'missing-control'],
    ['empty control file', () => debWithControl(''), 'bad-control-syntax'],
    ['only blank lines', () => debWithControl('\n\n  \n'), 'bad-control-syntax'],
    ['a line without a colon', () => debWithControl('Package: x\nVersion 1.0\nArchitecture: all\n'), 'bad-control-syntax'],
    ['two paragraphs', () => debWithControl(`${GOOD_CONTROL}\nPackage: other\n`), 'bad-control-syntax'],
    ['leading blank line', () => debWithControl(`\n${GOOD_CONTROL}`), 'bad-control-syntax'],
    ['continuation before any field', () => debWithControl(` oops\n${GOOD_CONTROL}`), 'bad-control-syntax'],
    ['field name starting with -', () => debWithControl(`${GOOD_CONTROL}-Bad: x\n`), 'bad-control-syntax'],
    ['field name starting with #', () => debWithControl(`#Comment: x\n${GOOD_CONTROL}`), 'bad-control-syntax'],
    ['space before the colon', () => debWithControl(`${GOOD_CONTROL}Bad Name: x\n`), 'bad-control-syntax'],
    ['CRLF line endings', () => debWithControl(GOOD_CONTROL.replace(/\n/g, '\r\n')), 'bad-control-syntax'],
    ['byte-order mark', () => debWithControl(`\ufeff${GOOD_CONTROL}`), 'bad-control-syntax'],
    ['duplicate field, other case', () => debWithControl(`${GOOD_CONTROL}package: again\n`), 'duplicate-field'],
    ['missing Package', () => debWithControl(GOOD_CONTROL.replace(/^Package:.*\n/m, '')), 'missing-field'],
    ['missing Version', () => debWithControl(GOOD_CONTROL.replace(/^Version:.*\n/m, '')), 'missing-field'],
    ['missing Architecture', () => debWithControl(GOOD_CONTROL.replace(/^Architecture:.*\n/m, '')), 'missing-field'],
    ['empty Version', () => debWithControl(GOOD_CONTROL.replace(/^Version:.*$/m, 'Version:')), 'missing-field'],
    ['version not starting with a digit', () => debWithControl(GOOD_CONTROL.replace('1.0-1', 'v1.0-1')), 'invalid-version'],
    ['version with an empty revision', () => debWithControl(GOOD_CONTROL.replace('1.0-1', '1.0-')), 'invalid-version'],
    ['version with a bad epoch', () => debWithControl(GOOD_CONTROL.replace('1.0-1', 'x:1.0')), 'invalid-version'],
    ['version in Source invalid', () => debWithControl(`${GOOD_CONTROL}Source: src (_1)\n`), 'invalid-version'],
    ['Source with a bad name', () => debWithControl(`${GOOD_CONTROL}Source: Bad_Name\n`), 'invalid-source'],
    ['architecture any', () => debWithControl(GOOD_CONTROL.replace('Architecture: all', 'Architecture: any')), 'invalid-architecture'],
    ['architecture linux-any', () => debWithControl(GOOD_CONTROL.replace('Architecture: all', 'Architecture: linux-any')), 'invalid-architecture'],
    ['architecture list', () => debWithControl(GOOD_CONTROL.replace('Architecture: all', 'Architecture: amd64 i386')), 'invalid-architecture'],
    ['architecture in capitals', () => debWithControl(GOOD_CONTROL.replace('Architecture: all', 'Architecture: AMD64')), 'invalid-architecture'],
    ['package name with capitals', () => debWithControl(GOOD_CONTROL.replace('hand-made', 'Hand-Made')), 'invalid-package-name'],
    ['package name of one character', () => debWithControl(GOOD_CONTROL.replace('hand-made', 'h')), 'invalid-package-name'],
    ['package name with an underscore', () => debWithControl(GOOD_CONTROL.replace('hand-made', 'hand_made')), 'invalid-package-name'],
    ['package name starting with -', () => debWithControl(GOOD_CONTROL.replace('hand-made', '-hand')), 'invalid-package-name'],
    ['Latin-1 instead of UTF-8', () => debWithControl(concat([enc.encode(GOOD_CONTROL), new Uint8Array([0x58, 0x3a, 0x20, 0xe9, 0x0a])])), 'invalid-utf8'],
  ];

  test.each(cases)('%s', async (_, make, code) => {
    const bytes = await make();
    const err = await failure(bytes);
    expect(err.code, err.message).toBe(code);
    expect(err.status).toBe(422);
    // Split anywhere, the same input fails the same way.
    expect((await failure(bytes, 13)).code).toBe(code);
  });

  test('messages name the defect', async () => {
    const missing = await failure(await debWithControl(GOOD_CONTROL.replace(/^Version:.*\n/m, '')));
    expect(missing.message).toBe('control file: missing required field "Version"');
    const corrupt = await failure(withByte(real, control(real).offset + 60 + 40, control(real).data[40]! ^ 0xff));
    expect(corrupt.message).toMatch(/^control member "control\.tar\.xz": corrupt xz data/);
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
