// Fuzzing the .deb readers (ar container, compressed control member, control tarball, control
// file) with mutations of packages dpkg-deb built: bytes flipped, cut, moved; ar members
// duplicated, dropped, renamed, given lying sizes; tar entries with lying sizes, pax and GNU long
// names, other types; control text edited. Each case must give a valid result or a 4xx
// PackyardError, within the time bound, and the streaming part must hold no more memory than
// the bytes it was given. Settings and replay: test/helpers/fuzz.ts.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DebInspector, type DebInfo } from '../../src/formats/deb/inspect.js';
import { readTar } from '../../src/util/codecs/tar.js';
import { packageIdentity, parseControl } from '../../src/formats/deb/control.js';
import { decompress, type Compression } from '../../src/util/codecs/decompress.js';
import { nodeGunzip } from '../../src/hosts/node/gzip.js';
import { DEBIAN_BINARY, GOOD_CONTROL, ar, arHeader, compress, members } from '../fixtures/malformed-debs.js';
import { buildDeb, type DebCompression } from '../helpers/debs.js';
import { concat } from '../helpers/bytes.js';
import { EDGE_NUMBERS, chunkSplits, fuzzRuns, mutateAll, mutation, pushWithinMemory, refusal } from '../helpers/fuzz.js';

const enc = new TextEncoder();
const KiB = 1024;

/** dpkg-deb's packages, by compression; and uncompressed tarballs of the same control files. */
const built = new Map<DebCompression, Uint8Array>();
let workDir: string;

beforeAll(async () => {
  workDir = await mkdtemp(path.join(os.tmpdir(), 'packyard-fuzz-deb-'));
  const spec = { version: '1:2.0-1', depends: 'libc6 (>= 2.36)', scripts: { postinst: '#!/bin/sh\nexit 0\n' }, files: { 'usr/share/fuzz/data': 'x'.repeat(3000) } };
  await Promise.all(
    (['xz', 'gzip', 'zstd', 'none'] as const).map(async (compression) => {
      const deb = await buildDeb({ ...spec, name: `fuzz-${compression}`, compression }, workDir);
      built.set(compression, new Uint8Array(await readFile(deb.path)));
    }),
  );
});
afterAll(async () => {
  await rm(workDir, { recursive: true, force: true });
});

/** Feeds the inspector in the given chunks, its memory bounded by what it was given. */
function inspect(bytes: Uint8Array, splits: readonly number[], hostGunzip: boolean): Promise<DebInfo> {
  const inspector = new DebInspector(hostGunzip ? nodeGunzip : undefined);
  pushWithinMemory((chunk) => inspector.push(chunk), bytes, splits);
  return inspector.finish();
}

/** The property of every case: accepted with a sane identity, or refused with a 4xx. */
async function expectValidOrRefused(bytes: Uint8Array, splits: readonly number[], hostGunzip: boolean): Promise<void> {
  let info: DebInfo | undefined;
  await refusal('DebInspector', async () => {
    info = await inspect(bytes, splits, hostGunzip);
  });
  if (info) {
    expect(info.package).toMatch(/^[a-z0-9][a-z0-9+.-]+$/);
    expect(info.architecture).toMatch(/^[a-z0-9][a-z0-9-]*$/);
    expect(info.control.get('Package')).toBe(info.package);
  }
}

const compressions = fc.constantFrom<DebCompression>('xz', 'gzip', 'zstd', 'none');

describe('DebInspector on mutated dpkg-deb packages', () => {
  test('the unmutated packages are read, in any chunks', async () => {
    for (const [compression, deb] of built) {
      for (const splits of [[], [0, 0, 0], [7, 100, 3]]) {
        const info = await inspect(deb, splits, compression === 'gzip');
        expect(info.package).toBe(`fuzz-${compression}`);
      }
    }
  });

  test('arbitrary bytes, bare or behind the ar signature and a debian-binary member', async () => {
    const prefix = fc.constantFrom('', '!<arch>\n', `!<arch>\n${new TextDecoder().decode(arHeader('debian-binary', 4))}2.0\n`);
    await fc.assert(
      fc.asyncProperty(prefix, fc.uint8Array({ maxLength: 3000 }), chunkSplits(), async (start, rest, splits) => {
        await expectValidOrRefused(concat(start, rest), splits, false);
      }),
      fuzzRuns(500, 1500),
    );
  });

  test('bytes flipped, inserted, cut, moved', async () => {
    await fc.assert(
      fc.asyncProperty(compressions, fc.array(mutation(), { minLength: 1, maxLength: 4 }), chunkSplits(), fc.boolean(), async (compression, edits, splits, host) => {
        await expectValidOrRefused(mutateAll(built.get(compression)!, edits), splits, host);
      }),
      fuzzRuns(400, 1500),
    );
  });

  test('ar members duplicated, dropped, reordered, renamed, with lying sizes', async () => {
    await fc.assert(
      fc.asyncProperty(compressions, fc.array(memberEdit(), { minLength: 1, maxLength: 4 }), chunkSplits(), async (compression, edits, splits) => {
        await expectValidOrRefused(editMembers(built.get(compression)!, edits), splits, false);
      }),
      fuzzRuns(400, 1500),
    );
  });

  test('control tarballs with edited entries, uncompressed and gzipped', async () => {
    await fc.assert(
      fc.asyncProperty(tarball(), fc.constantFrom<Compression>('none', 'gz'), chunkSplits(), fc.boolean(), async (tar, compression, splits, host) => {
        const control = compression === 'gz' ? new Uint8Array(gzipSync(tar)) : tar;
        const deb = ar([
          ['debian-binary', DEBIAN_BINARY],
          [compression === 'gz' ? 'control.tar.gz' : 'control.tar', control],
          ['data.tar', new Uint8Array(0)],
        ]);
        await expectValidOrRefused(deb, splits, host);
      }),
      fuzzRuns(500, 1500),
    );
  });
});

describe('the readers inside', () => {
  test('readTar on edited tarballs: entries inside the archive, or a 4xx', async () => {
    await fc.assert(
      fc.asyncProperty(tarball(), async (tar) => {
        let files: ReturnType<typeof readTar> = [];
        await refusal('readTar', () => {
          files = readTar(tar);
        });
        for (const f of files) {
          expect(f.data.buffer).toBe(tar.buffer);
          expect(f.data.byteOffset + f.data.length).toBeLessThanOrEqual(tar.byteOffset + tar.length);
        }
      }),
      fuzzRuns(1500, 1500),
    );
  });

  test('parseControl and packageIdentity on edited and generated control files', async () => {
    const text = fc.oneof(
      fc.array(mutation(), { minLength: 1, maxLength: 6 }).map((edits) => mutateAll(enc.encode(GOOD_CONTROL), edits)),
      controlFile().map((t) => enc.encode(t)),
    );
    await fc.assert(
      fc.asyncProperty(text, async (bytes) => {
        await refusal('parseControl', () => packageIdentity(parseControl(bytes)));
      }),
      fuzzRuns(2000, 1500),
    );
  });

  test('decompress on damaged gzip, xz and zstd data: at most the limit, or a 4xx', async () => {
    const tar = concat(enc.encode(GOOD_CONTROL.repeat(40)), new Uint8Array(3000));
    const streams: [Compression, Uint8Array][] = [
      ['gz', compress(tar, 'gz')],
      ['xz', compress(tar, 'xz')],
      ['xz', new Uint8Array(execFileSync('xz', ['-c', '-T1', '--check=sha256', '-e'], { input: tar }))],
      ['xz', concat(new Uint8Array(execFileSync('xz', ['-c', '-T1', '--check=crc32'], { input: tar })), new Uint8Array(4), new Uint8Array(execFileSync('xz', ['-c', '-T1', '--check=none'], { input: tar })))],
      ['zst', compress(tar, 'zst')],
      ['zst', new Uint8Array(execFileSync('zstd', ['-q', '-c', '-19', '--no-check'], { input: tar }))],
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...streams),
        fc.array(mutation(), { maxLength: 4 }),
        fc.oneof(fc.constantFrom(0, 1, 512, tar.length - 1, tar.length, 16 * 1024 * 1024), fc.nat({ max: 64 * KiB })),
        fc.boolean(),
        async ([format, data], edits, maxBytes, host) => {
          let out: Uint8Array | undefined;
          await refusal('decompress', async () => {
            out = await decompress(mutateAll(data, edits), format, maxBytes, host ? nodeGunzip : undefined);
          });
          if (out) expect(out.length).toBeLessThanOrEqual(maxBytes);
        },
      ),
      fuzzRuns(600, 1500),
    );
  });
});

// ---- ar members ------------------------------------------------------------------------------

type MemberEdit =
  | { kind: 'duplicate' | 'drop'; index: number }
  | { kind: 'swap'; index: number; other: number }
  | { kind: 'rename'; index: number; name: string }
  | { kind: 'size'; index: number; size: number }
  | { kind: 'insert'; index: number; name: string; data: Uint8Array };

const MEMBER_NAMES = [
  'debian-binary', 'control.tar', 'control.tar.gz', 'control.tar.xz', 'control.tar.zst', 'control.tar.bz2', 'data.tar',
  'data.tar.xz', 'data.tar.lz4', '_gpgbuilder', '_', 'control', 'a/b', '..', 'debian-binary/', '', ' ', 'x'.repeat(16),
];

function memberEdit(): fc.Arbitrary<MemberEdit> {
  const index = fc.nat({ max: 4 });
  return fc.oneof(
    fc.record({ kind: fc.constantFrom('duplicate' as const, 'drop' as const), index }),
    fc.record({ kind: fc.constant('swap' as const), index, other: index }),
    fc.record({ kind: fc.constant('rename' as const), index, name: fc.oneof(fc.constantFrom(...MEMBER_NAMES), fc.string({ maxLength: 16 })) }),
    fc.record({ kind: fc.constant('size' as const), index, size: fc.oneof(fc.constantFrom(...EDGE_NUMBERS, 4 * 1024 * 1024, 9_999_999_999), fc.nat({ max: 5 * 1024 * 1024 }), fc.nat()) }),
    fc.record({
      kind: fc.constant('insert' as const),
      index,
      name: fc.constantFrom(...MEMBER_NAMES),
      data: fc.oneof(fc.uint8Array({ maxLength: 64 }), fc.constant(DEBIAN_BINARY)),
    }),
  );
}

interface Member {
  name: string;
  data: Uint8Array;
  /** The size its header claims, when that is not the data's length. */
  claimed?: number;
}

/** The package with its ar members edited, each header written with its claimed size. */
function editMembers(deb: Uint8Array, edits: readonly MemberEdit[]): Uint8Array {
  const list: Member[] = members(deb).map((m) => ({ name: m.name, data: m.data }));
  for (const e of edits) {
    const i = e.index % Math.max(1, list.length);
    if (e.kind === 'insert') list.splice(i, 0, { name: e.name, data: e.data });
    if (list.length === 0) continue;
    if (e.kind === 'duplicate') list.splice(i, 0, { ...list[i]! });
    if (e.kind === 'drop') list.splice(i, 1);
    if (e.kind === 'swap') {
      const j = e.other % list.length;
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    if (e.kind === 'rename') list[i] = { ...list[i]!, name: e.name };
    if (e.kind === 'size') list[i] = { ...list[i]!, claimed: e.size };
  }
  const parts: Uint8Array[] = [enc.encode('!<arch>\n')];
  for (const m of list) {
    parts.push(arHeader(m.name, m.claimed ?? m.data.length), m.data);
    if (m.data.length % 2) parts.push(enc.encode('\n'));
  }
  return concat(...parts);
}

// ---- tarballs --------------------------------------------------------------------------------

interface TarEntry {
  name: string;
  type: string;
  data: Uint8Array;
  /** The size field as written, when it is not the data's length in octal. */
  size?: Uint8Array;
  linkname?: string;
}

/** A 512-byte ustar header for the entry, with its checksum. */
function tarHeader(e: TarEntry): Uint8Array {
  const h = new Uint8Array(512);
  const put = (at: number, text: string, width: number) => h.set(enc.encode(text).subarray(0, width), at);
  put(0, e.name, 100);
  put(100, '0000644\0', 8);
  put(108, '0000000\0', 8);
  put(116, '0000000\0', 8);
  if (e.size) h.set(e.size.subarray(0, 12), 124);
  else put(124, `${e.data.length.toString(8).padStart(11, '0')}\0`, 12);
  put(136, '14521245400\0', 12);
  put(156, e.type, 1);
  put(157, e.linkname ?? '', 100);
  put(257, 'ustar\x0000', 8);
  setChecksum(h);
  return h;
}

function setChecksum(h: Uint8Array): void {
  h.fill(0x20, 148, 156);
  const sum = h.reduce((n, b) => n + b, 0);
  h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
}

function tarOf(entries: readonly TarEntry[]): { tar: Uint8Array; headers: number[] } {
  const parts: Uint8Array[] = [];
  const headers: number[] = [];
  let at = 0;
  for (const e of entries) {
    headers.push(at);
    const padded = new Uint8Array(Math.ceil(e.data.length / 512) * 512);
    padded.set(e.data);
    parts.push(tarHeader(e), padded);
    at += 512 + padded.length;
  }
  parts.push(new Uint8Array(1024));
  return { tar: concat(...parts), headers };
}

function paxRecord(key: string, value: string): string {
  // The length counts itself: find the fixed point.
  let length = key.length + value.length + 3;
  while (`${length} ${key}=${value}\n`.length !== length) length = `${length} ${key}=${value}\n`.length;
  return `${length} ${key}=${value}\n`;
}

const TAR_NAMES = ['control', './control', '././control', 'md5sums', './postinst', 'conffiles', '', '/control', 'a/../control', 'ü'];
const TAR_TYPES = ['0', '\0', '7', '1', '2', '5', 'L', 'K', 'x', 'g', 'S', 'V'];

function sizeField(): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.constantFrom('77777777777\0', '00000001000\0', '           \0', '1 2\0', '9\0', '-1\0', '0', '').map((s) => enc.encode(s)),
    fc.nat().map((n) => enc.encode(`${n.toString(8).padStart(11, '0')}\0`)),
    // GNU base-256: a high first bit, then a big-endian number (with the sign bit now and then).
    fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 11, maxLength: 11 })).map(([negative, rest]) => Uint8Array.of(negative ? 0xff : 0x80, ...rest)),
  );
}

function tarEntry(): fc.Arbitrary<TarEntry> {
  const text = fc.oneof(fc.constant(GOOD_CONTROL), fc.string({ maxLength: 200 }), fc.constant(''));
  const pax = fc
    .array(
      fc.oneof(
        fc.tuple(fc.constantFrom('path', 'size', 'linkpath', 'mtime', 'x'), fc.oneof(fc.constantFrom('control', './control', '0', '99999999999999999999', '1e3', '', '-5'), fc.nat().map(String))),
      ),
      { maxLength: 3 },
    )
    .map((records) => records.map(([k, v]) => paxRecord(k, v)).join(''));
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ name: fc.constantFrom(...TAR_NAMES), type: fc.constantFrom(...TAR_TYPES), data: text.map((t) => enc.encode(t)) }) },
    { weight: 2, arbitrary: fc.record({ name: fc.constantFrom(...TAR_NAMES), type: fc.constantFrom(...TAR_TYPES), data: text.map((t) => enc.encode(t)), size: sizeField() }) },
    { weight: 2, arbitrary: fc.record({ name: fc.constant('././@PaxHeader'), type: fc.constantFrom('x', 'g'), data: fc.oneof(pax, fc.string({ maxLength: 40 })).map((t) => enc.encode(t)) }) },
    { weight: 1, arbitrary: fc.record({ name: fc.constant('././@LongLink'), type: fc.constantFrom('L', 'K'), data: fc.constantFrom(...TAR_NAMES).map((t) => enc.encode(`${t}\0`)) }) },
    { weight: 1, arbitrary: fc.record({ name: fc.constant('control'), type: fc.constantFrom('1', '2'), data: fc.constant(new Uint8Array(0)), linkname: fc.constantFrom('md5sums', '/etc/passwd', '../control') }) },
  );
}

/** Control tarballs: a good one with entries edited in, and now and then bytes changed (checksums fixed, so the edit reaches past them). */
function tarball(): fc.Arbitrary<Uint8Array> {
  const good: TarEntry[] = [
    { name: './', type: '5', data: new Uint8Array(0) },
    { name: './control', type: '0', data: enc.encode(GOOD_CONTROL) },
    { name: './md5sums', type: '0', data: enc.encode('d41d8cd98f00b204e9800998ecf8427e  usr/x\n') },
  ];
  return fc
    .tuple(
      fc.array(fc.tuple(fc.nat({ max: 3 }), tarEntry()), { maxLength: 4 }),
      fc.array(mutation(), { maxLength: 3 }),
      fc.boolean(),
      fc.constantFrom(0, 0, 0, 1, 512, 1023),
    )
    .map(([inserts, edits, fixChecksums, cut]) => {
      const entries = [...good];
      for (const [at, entry] of inserts) entries.splice(at, 0, entry);
      const { tar, headers } = tarOf(entries);
      const edited = mutateAll(tar, edits);
      if (fixChecksums) for (const at of headers) if (at + 512 <= edited.length) setChecksum(edited.subarray(at, at + 512));
      return edited.subarray(0, edited.length - cut);
    });
}

// ---- control files ---------------------------------------------------------------------------

function controlFile(): fc.Arbitrary<string> {
  const name = fc.oneof(
    fc.constantFrom('Package', 'Version', 'Architecture', 'Source', 'Description', 'package', 'PACKAGE', 'X-Custom', '#x', '-x', 'a b', '', 'Ünï'),
    fc.string({ minLength: 1, maxLength: 12 }),
  );
  const value = fc.oneof(
    fc.constantFrom('fuzz', 'fuzz-pkg', '1.0-1', '1:2.0~rc1+dfsg-0ubuntu1', 'all', 'amd64', 'any', 'linux-any', 'src (1.0)', 'src (', ' ', '\n .\n x', '\n', '\t', '\x7f', '1:', ':1', '1.0-', 'v1'),
    fc.string({ maxLength: 40 }),
    fc.string({ maxLength: 20 }).map((s) => `${s}\n ${s}\n .`),
  );
  const required = fc.tuple(
    fc.constantFrom('fuzz', 'fuzz-pkg', 'Fuzz', 'f', 'a.b+c'),
    fc.constantFrom('1.0-1', '1:2.0~rc1+dfsg-0ubuntu1', '0', '1.0-', 'x:1', '1..0'),
    fc.constantFrom('all', 'amd64', 'any', 'arm-linux'),
  );
  return fc
    .tuple(fc.boolean(), required, fc.array(fc.tuple(name, value), { maxLength: 12 }), fc.nat())
    .map(([withRequired, [p, v, a], fields, at]) => {
      const all = withRequired ? [['Package', p], ['Version', v], ['Architecture', a], ...fields] : fields;
      if (withRequired && fields.length) all.splice(3 + (at % fields.length), 0, ...all.splice(0, 1));
      return all.map(([k, v]) => `${k}: ${v}\n`).join('');
    });
}
