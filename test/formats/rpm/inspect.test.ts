// RpmInspector against packages built by the real rpmbuild, read in 1-byte, 7-byte, random and
// whole chunks, compared with what `rpm -qp` says about the same file, and, for dependencies and
// changelogs (where the record holds createrepo_c's reading of the header), with what
// createrepo_c lists; then against packages assembled byte by byte (legal rarities rpmbuild no
// longer writes, and broken packages from malformedRpms() in test/helpers/rpms.ts).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { RpmHeader, SIGTAG, TAG } from '../../../src/formats/rpm/header.js';
import { RpmInspector, splitEvr, type RpmInfo } from '../../../src/formats/rpm/inspect.js';
import { inChunks } from '../../helpers/bytes.js';
import { packyardError } from '../../helpers/errors.js';
import { run, runOk } from '../../helpers/exec.js';
import {
  DEPENDENCY_KINDS,
  type DependencyKind,
  assembleRpm,
  buildRpm,
  buildSrpm,
  createrepoView,
  malformedRpms,
  minimalHeader,
  overlappingStringsRpm,
  rpmHeader,
  withUnknownStrings,
  type HeaderTags,
  type RpmSpec,
} from '../../helpers/rpms.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-rpm-inspect-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Pushes `bytes` in chunks of `size` (or of random sizes up to 64 KiB). */
function inspect(bytes: Uint8Array, size: number | 'random' = bytes.length || 1): RpmInfo {
  const inspector = new RpmInspector();
  inChunks(bytes, size, (chunk) => inspector.push(chunk));
  return inspector.finish();
}

/** The error inspect() fails with: anything but a PackyardError fails the test. */
const failure = (bytes: Uint8Array, size?: number) => packyardError(() => inspect(bytes, size));

// Field and record separators for --queryformat: they cannot occur in the values.
const FS = '\x1f';
const RS = '\x1e';

async function query(file: string, format: string): Promise<string> {
  return (await runOk('rpm', ['-qp', '--queryformat', format, file])).stdout;
}

async function lines(file: string, option: string): Promise<string[]> {
  return (await runOk('rpm', ['-qp', option, file])).stdout.split('\n').filter((l) => l !== '');
}

/** The dependencies and changelog of `info` as createrepo_c lists them for `file`. */
async function expectMatchesCreaterepo(file: string, info: RpmInfo, kinds: readonly DependencyKind[] = DEPENDENCY_KINDS) {
  const view = await createrepoView(file);
  for (const kind of kinds) expect(info[kind], kind).toEqual(view[kind]);
  expect(info.changelogs, 'changelogs').toEqual(view.changelogs);
}

/** Checks every field of `info` against rpm's own reading of `file`. */
async function expectMatchesRpm(file: string, bytes: Uint8Array, info: RpmInfo) {
  const tags = ['NAME', 'EPOCH', 'VERSION', 'RELEASE', 'ARCH', 'SOURCEPACKAGE', 'SUMMARY', 'DESCRIPTION', 'PACKAGER', 'URL', 'LICENSE', 'VENDOR', 'GROUP', 'BUILDHOST', 'SOURCERPM', 'BUILDTIME', 'LONGSIZE', 'LONGARCHIVESIZE', 'SHA256HEADER'];
  const values = (await query(file, tags.map((t) => `%{${t}}`).join(FS))).split(FS);
  const rpm = Object.fromEntries(tags.map((t, i) => [t, values[i] === '(none)' ? '' : values[i]!]));
  const source = rpm.SOURCEPACKAGE === '1';
  expect(info).toMatchObject({
    name: rpm.NAME,
    epoch: rpm.EPOCH || '0',
    version: rpm.VERSION,
    release: rpm.RELEASE,
    arch: source ? 'src' : rpm.ARCH,
    source,
    summary: rpm.SUMMARY,
    description: rpm.DESCRIPTION,
    packager: rpm.PACKAGER,
    url: rpm.URL,
    license: rpm.LICENSE,
    vendor: rpm.VENDOR,
    group: rpm.GROUP,
    buildhost: rpm.BUILDHOST,
    sourcerpm: rpm.SOURCERPM,
    buildTime: Number(rpm.BUILDTIME),
    installedSize: Number(rpm.LONGSIZE),
    archiveSize: Number(rpm.LONGARCHIVESIZE),
  });
  // rpm's digest of the main header covers exactly the bytes of the header range.
  expect(createHash('sha256').update(bytes.subarray(info.headerStart, info.headerEnd)).digest('hex')).toBe(rpm.SHA256HEADER);

  // Dependencies and the changelog are createrepo_c's reading of the header: rpmlib(…) requires
  // are in the header, not in the record.
  expect((await lines(file, '--requires')).some((r) => r.startsWith('rpmlib('))).toBe(true);
  await expectMatchesCreaterepo(file, info);

  const list = await lines(file, '-l');
  expect(info.files.map((f) => f.path)).toEqual(list[0] === '(contains no files)' ? [] : list);
  const fileRows = (await query(file, `[%{FILEMODES:perms}${FS}%{FILEFLAGS:fflags}${RS}]`)).split(RS).filter(Boolean);
  expect(info.files.map((f) => f.type)).toEqual(
    fileRows.map((row) => {
      const [perms, fflags] = row.split(FS) as [string, string];
      return perms.startsWith('d') ? 'dir' : fflags.includes('g') ? 'ghost' : 'file';
    }),
  );
}

const EVERYTHING: RpmSpec = {
  name: 'demo-everything',
  version: '2.3~rc1^git20240101',
  release: '4.fc40',
  epoch: 3,
  arch: 'x86_64',
  summary: 'Ünïcödé summary, 100% tested',
  description: 'First line.\n\nSecond paragraph, with "quotes" & <angles>.\n  indented line',
  license: 'MIT AND (Apache-2.0 OR BSD-3-Clause)',
  url: 'https://example.org/demo?x=1&y=2',
  vendor: 'Packyard Tests',
  packager: 'Zoë Ðøé <zoe@example.org>',
  group: 'Development/Tools',
  // Beside plain ones, requires createrepo_c leaves out: its own /etc/ file, what it provides
  // itself, a second scriptlet requirement on shadow-utils, the lower libc.so.6 versions.
  requires: [
    'libfoo >= 1:2.0-3',
    'bar',
    'baz < 2',
    '/usr/bin/env',
    '/etc/demo.conf',
    '/usr/share/demo/data.bin',
    'demo-virtual = 5.0',
    'demo-virtual >= 5.0',
    'libc.so.6(GLIBC_2.4)(64bit)',
    'libc.so.6(GLIBC_2.34)(64bit)',
    'libc.so.6()(64bit)',
  ],
  requiresPre: ['shadow-utils', 'coreutils >= 8'],
  requiresPost: ['shadow-utils'],
  provides: ['demo-virtual = 5.0'],
  conflicts: ['demo-old <= 1.0-1'],
  obsoletes: ['demo-legacy < 2'],
  recommends: ['demo-docs > 1'],
  suggests: ['demo-extras'],
  supplements: ['(demo-everything and langpacks-de)'],
  enhances: ['demo-host >= 4'],
  files: {
    '/usr/bin/demo': '#!/bin/sh\necho demo\n',
    '/usr/share/demo/ünï cödé.txt': 'unicode\n',
    '/usr/share/demo/data.bin': new Uint8Array(100_000).map((_, i) => (i * 7919) % 251),
    '/etc/demo.conf': 'x = 1\n',
  },
  dirs: ['/usr/share/demo', '/var/lib/demo'],
  ghosts: ['/var/log/demo.log', '/run/demo.pid'],
  // 12 entries, one day apart but two on the same day: only the newest 10 are kept.
  changelog: Array.from({ length: 12 }, (_, i) => ({
    date: 1_700_000_000 - (i < 4 ? i : i - 1) * 86_400,
    author: `Person ${i} <p${i}@example.org> - 2.3-${12 - i}`,
    text: `- change number ${12 - i}\n- with a second line`,
  })),
};

describe('reads packages built by rpmbuild', () => {
  const cases: [string, RpmSpec, 'binary' | 'source'][] = [
    ['binary x86_64 package using every field', EVERYTHING, 'binary'],
    ['its source package', EVERYTHING, 'source'],
    ['minimal noarch package: no epoch, no files, no changelog', { name: 'minimal', version: '0.1', release: '1' }, 'binary'],
  ];

  test.each(cases)('%s, in 1-byte, 7-byte, random and whole chunks', async (_, spec, kind) => {
    const built = await (kind === 'binary' ? buildRpm : buildSrpm)(spec, path.join(dir, `${spec.name}-${kind}`));
    const bytes = new Uint8Array(await readFile(built.path));
    const info = inspect(bytes);
    await expectMatchesRpm(built.path, bytes, info);
    for (const size of [1, 7, 'random'] as const) expect(inspect(bytes, size)).toEqual(info);
  });

  test('what the every-field package says, spelled out', async () => {
    const built = await buildRpm(EVERYTHING, path.join(dir, 'spelled-out'));
    const info = inspect(new Uint8Array(await readFile(built.path)));
    expect(info).toMatchObject({ name: 'demo-everything', epoch: '3', version: '2.3~rc1^git20240101', arch: 'x86_64', source: false });
    expect(info.sourcerpm).toBe('demo-everything-2.3~rc1^git20240101-4.fc40.src.rpm');
    expect(info.requires).toContainEqual({ name: 'libfoo', flags: 'GE', epoch: '1', version: '2.0', release: '3' });
    // A version without an epoch gets epoch 0 and no release, as createrepo_c writes it.
    expect(info.requires).toContainEqual({ name: 'baz', flags: 'LT', epoch: '0', version: '2' });
    expect(info.requires).toContainEqual({ name: 'shadow-utils', pre: true });
    expect(info.requires).toContainEqual({ name: 'bar' });
    // createrepo_c's rules: a file of its own is required only when primary.xml does not list
    // it; what it provides itself is not required; the highest libc.so.6 comes last.
    expect(info.requires).toContainEqual({ name: '/usr/share/demo/data.bin' });
    expect(info.requires).not.toContainEqual({ name: '/etc/demo.conf' });
    expect(info.requires).toContainEqual({ name: 'demo-virtual', flags: 'GE', epoch: '0', version: '5.0' });
    expect(info.requires).not.toContainEqual({ name: 'demo-virtual', flags: 'EQ', epoch: '0', version: '5.0' });
    expect(info.requires.filter((r) => r.name === 'shadow-utils')).toEqual([{ name: 'shadow-utils', pre: true }]);
    expect(info.requires.filter((r) => r.name.startsWith('libc.so.6'))).toEqual([{ name: 'libc.so.6(GLIBC_2.34)(64bit)' }]);
    expect(info.requires.at(-1)).toEqual({ name: 'libc.so.6(GLIBC_2.34)(64bit)' });
    expect(info.requires.some((r) => r.name.startsWith('rpmlib('))).toBe(false);
    expect(info.files).toContainEqual({ path: '/var/lib/demo', type: 'dir' });
    expect(info.files).toContainEqual({ path: '/run/demo.pid', type: 'ghost' });
    expect(info.files).toContainEqual({ path: '/usr/share/demo/ünï cödé.txt', type: 'file' });
    expect(info.changelogs).toHaveLength(10);
    expect(info.changelogs[0]!.text).toBe('- change number 12\n- with a second line');
    // Two entries of the same day (rpm keeps the day only): the newer one moves a second later.
    expect(info.changelogs[3]!.date).toBe(info.changelogs[4]!.date + 1);
    expect(info.changelogs.map((c) => c.date)).toEqual([...info.changelogs.map((c) => c.date)].sort((a, b) => b - a));
  });

  test('every length of padding after the signature header, 0 to 7 bytes', () => {
    // rpmbuild reserves space in the signature header, so its store size, and the padding after
    // it, depend on the digests only; assembled packages try every padding length.
    for (let extra = 0; extra < 8; extra++) {
      const header = minimalHeader();
      const signature: HeaderTags = [
        [SIGTAG.SIZE, ['int32', [rpmHeader(header).length]]],
        [1008, ['bin', new Uint8Array(extra)]],
      ];
      const bytes = assembleRpm({ signature, header });
      const info = inspect(bytes, 1);
      expect(info.headerStart % 8).toBe(0);
      expect(info.headerEnd).toBe(bytes.length);
    }
  });
});

describe('reads what rpmbuild no longer writes', () => {
  async function withRpm(bytes: Uint8Array): Promise<string> {
    const file = path.join(dir, `assembled-${Math.random().toString(36).slice(2)}.rpm`);
    await writeFile(file, bytes);
    return file;
  }

  test('a pre-rpm-4 file list (OLDFILENAMES), with directories and ghosts', async () => {
    const bytes = assembleRpm({
      header: [
        ...minimalHeader(),
        [TAG.OLDFILENAMES, ['strings', ['/etc/old.conf', '/usr/share/old', '/var/log/old.log']]],
        [TAG.FILEMODES, ['int16', [0o100644, 0o040755, 0o100644]]],
        [TAG.FILEFLAGS, ['int32', [1, 0, 64]]],
      ],
    });
    const info = inspect(bytes, 7);
    expect(info.files).toEqual([
      { path: '/etc/old.conf', type: 'file' },
      { path: '/usr/share/old', type: 'dir' },
      { path: '/var/log/old.log', type: 'ghost' },
    ]);
    // rpm converts the list on reading (its -l wants more per-file tags than this package has).
    const names = await query(await withRpm(bytes), `[%{FILENAMES}${RS}]`);
    expect(info.files.map((f) => f.path)).toEqual(names.split(RS).filter(Boolean));
  });

  test('64-bit sizes win over 32-bit ones; the archive size may live in either header', async () => {
    const header: HeaderTags = [...minimalHeader(), [TAG.SIZE, ['int32', [1]]], [TAG.ARCHIVESIZE, ['int32', [3]]], [TAG.LONGSIZE, ['int64', [5_000_000_000]]]];
    const headerBytes = rpmHeader(header).length;
    const inMain = inspect(assembleRpm({ header }));
    expect(inMain).toMatchObject({ installedSize: 5_000_000_000, archiveSize: 3 });
    const inSignature = inspect(
      assembleRpm({
        header,
        signature: [
          [SIGTAG.LONGSIZE, ['int64', [headerBytes]]],
          [SIGTAG.LONGARCHIVESIZE, ['int64', [6_000_000_000]]],
          [SIGTAG.SIZE, ['int32', [headerBytes]]],
          [SIGTAG.PAYLOADSIZE, ['int32', [2]]],
        ],
      }),
    );
    expect(inSignature).toMatchObject({ installedSize: 5_000_000_000, archiveSize: 6_000_000_000 });
    const file = await withRpm(assembleRpm({ header }));
    expect(await query(file, '%{LONGSIZE} %{LONGARCHIVESIZE}')).toBe('5000000000 3');
  });

  // rpm reads a header without an immutable region, as these are, as a v3 package and adds a
  // provide of the package itself: createrepo_c's provides differ from the header's there.
  const BUT_PROVIDES = DEPENDENCY_KINDS.filter((k) => k !== 'provides');

  test('old weak dependencies are sorted as createrepo_c sorts them', async () => {
    const MISSINGOK = 1 << 19;
    const STRONG = 1 << 27;
    const bytes = assembleRpm({
        header: [
          ...minimalHeader(),
          [TAG.REQUIREFLAGS, ['int32', [MISSINGOK, 0, 0x1000000 | 8 | 2]]],
          [TAG.REQUIRENAME, ['strings', ['soft', 'hard', 'rpmlib(Feature)']]],
          [TAG.REQUIREVERSION, ['strings', ['', '', '4.0-1']]],
          [TAG.OLDSUGGESTSNAME, ['strings', ['weak-suggest', 'strong-suggest']]],
          [TAG.OLDSUGGESTSVERSION, ['strings', ['', '1.0']]],
          [TAG.OLDSUGGESTSFLAGS, ['int32', [0, STRONG | 8]]],
          [TAG.OLDENHANCESNAME, ['strings', ['weak-enhance', 'strong-enhance']]],
          [TAG.OLDENHANCESVERSION, ['strings', ['', '']]],
          [TAG.OLDENHANCESFLAGS, ['int32', [0, STRONG]]],
        ],
      });
    const info = inspect(bytes);
    expect(info.requires).toEqual([{ name: 'hard' }]);
    expect(info.recommends).toEqual([{ name: 'soft' }, { name: 'strong-suggest', flags: 'EQ', epoch: '0', version: '1.0' }]);
    expect(info.suggests).toEqual([{ name: 'weak-suggest' }]);
    expect(info.supplements).toEqual([{ name: 'strong-enhance' }]);
    expect(info.enhances).toEqual([{ name: 'weak-enhance' }]);
    await expectMatchesCreaterepo(await withRpm(bytes), info, BUT_PROVIDES);
  });

  test('requires as createrepo_c reads them, odd cases included', async () => {
    const [PRE, POST, MISSINGOK, EQ, GE] = [1 << 9, 1 << 10, 1 << 19, 8, 12];
    const provides: [string, number, string][] = [['virt', EQ, '2'], ['bad-provide', EQ, 'y:1']];
    const requires: [string, number, string][] = [
      // A repeat counts only against the last kept require of the name.
      ['foo', 0, ''], ['foo', PRE, ''], ['foo', 0, ''], ['foo', PRE, ''], ['foo', POST, ''],
      // Epochs: not a number leaves the dependency out; empty is 0; C's strtol takes blanks and a sign.
      ['bad-epoch', EQ, 'x:1.0'], ['empty-epoch', EQ, ':1.0'], ['signed-epoch', EQ, '+2:1.0'], ['blank-epoch', EQ, ' 2:1.0'],
      // The release follows the first hyphen; an empty one is none.
      ['two-hyphens', EQ, '1:1.0-1-2'], ['empty-release', EQ, '1.0-'],
      // Only LT, GT, EQ, LE, GE in the low four bits are comparisons; without one, no version.
      ['low-bit', EQ | 1, '1.0'], ['less-and-greater', 6, '1.0'], ['no-comparison', 0, '1.0'],
      ['libc.so.6(GLIBC_2.4)(64bit)', 0, ''], ['libc.so.6(GLIBC_2.34)(64bit)', 0, ''], ['libc.so.6()(64bit)', 0, ''], ['libc.so.6(GLIBC_2.17)', MISSINGOK, ''],
      // Provided with the same comparison and version string, as written: only the first goes.
      ['virt', EQ, '2'], ['virt', EQ, '0:2'], ['virt', GE, '2'],
      // Own files: those primary.xml lists go, whatever their type; others stay.
      ['/usr/bin/own', 0, ''], ['/usr/share/own', 0, ''], ['/etc/own.d', 0, ''], ['/usr/sbin/ghost', 0, ''], ['/usr/bin/not-own', 0, ''],
      ['soft', MISSINGOK, ''], ['soft', MISSINGOK, ''],
    ];
    const bytes = assembleRpm({
      header: [
        ...minimalHeader(),
        [TAG.PROVIDENAME, ['strings', provides.map((d) => d[0])]],
        [TAG.PROVIDEFLAGS, ['int32', provides.map((d) => d[1])]],
        [TAG.PROVIDEVERSION, ['strings', provides.map((d) => d[2])]],
        [TAG.REQUIREFLAGS, ['int32', requires.map((d) => d[1])]],
        [TAG.REQUIRENAME, ['strings', requires.map((d) => d[0])]],
        [TAG.REQUIREVERSION, ['strings', requires.map((d) => d[2])]],
        [TAG.OLDFILENAMES, ['strings', ['/usr/bin/own', '/usr/share/own', '/etc/own.d', '/usr/sbin/ghost']]],
        [TAG.FILEMODES, ['int16', [0o100755, 0o100644, 0o040755, 0o100644]]],
        [TAG.FILEFLAGS, ['int32', [0, 0, 0, 64]]],
      ],
    });
    const info = inspect(bytes);
    expect(info.provides).toEqual([{ name: 'virt', flags: 'EQ', epoch: '0', version: '2' }]);
    expect(info.requires).toEqual([
      { name: 'foo' },
      { name: 'foo', pre: true },
      { name: 'foo' },
      { name: 'foo', pre: true },
      { name: 'empty-epoch', flags: 'EQ', epoch: '0', version: '1.0' },
      { name: 'signed-epoch', flags: 'EQ', epoch: '+2', version: '1.0' },
      { name: 'blank-epoch', flags: 'EQ', epoch: ' 2', version: '1.0' },
      { name: 'two-hyphens', flags: 'EQ', epoch: '1', version: '1.0', release: '1-2' },
      { name: 'empty-release', flags: 'EQ', epoch: '0', version: '1.0' },
      { name: 'low-bit' },
      { name: 'less-and-greater' },
      { name: 'no-comparison' },
      { name: 'virt', flags: 'EQ', epoch: '0', version: '2' },
      { name: 'virt', flags: 'GE', epoch: '0', version: '2' },
      { name: '/usr/share/own' },
      { name: '/usr/bin/not-own' },
      { name: 'libc.so.6(GLIBC_2.34)(64bit)' },
    ]);
    expect(info.recommends).toEqual([{ name: 'libc.so.6(GLIBC_2.17)' }, { name: 'soft' }, { name: 'soft' }]);
    await expectMatchesCreaterepo(await withRpm(bytes), info, BUT_PROVIDES);
  });

  test('dependency names without flags or versions (the oldest packages) are unversioned', () => {
    const info = inspect(assembleRpm({ header: [...minimalHeader(), [TAG.PROVIDENAME, ['strings', ['a', 'b']]]] }));
    expect(info.provides).toEqual([{ name: 'a' }, { name: 'b' }]);
  });

  test('i18n strings: the first (default) locale', () => {
    const info = inspect(
      assembleRpm({
        header: [
          [100, ['strings', ['C', 'de']]],
          ...minimalHeader(),
          [TAG.EPOCH, ['int32', [7]]],
          [TAG.SUMMARY, ['i18n', ['Summary', 'Zusammenfassung']]],
          [TAG.DESCRIPTION, ['i18n', ['Description', 'Beschreibung']]],
        ],
      }),
    );
    expect(info).toMatchObject({ epoch: '7', summary: 'Summary', description: 'Description' });
  });

  test('without SOURCERPM a package is a source package, as rpm decides', () => {
    const info = inspect(assembleRpm({ header: minimalHeader().filter(([tag]) => tag !== TAG.SOURCERPM) }));
    expect(info).toMatchObject({ source: true, arch: 'src', sourcerpm: '' });
  });

  test('changelogs as createrepo_c takes them: the first 10 in header order, same-second ones moved apart, authors trimmed', async () => {
    const dates = [5, 1, 9, 9, 9, 3, 12, 7, 7, 2, 11, 4];
    const authors = dates.map((d, i) => (i === 1 ? '   ' : i === 2 ? '' : `author ${d}  `));
    const bytes = assembleRpm({
      header: [
        ...minimalHeader(),
        [TAG.CHANGELOGTIME, ['int32', dates]],
        [TAG.CHANGELOGNAME, ['strings', authors]],
        [TAG.CHANGELOGTEXT, ['strings', dates.map((d, i) => `- entry ${i} of day ${d}`)]],
      ],
    });
    const info = inspect(bytes);
    expect(info.changelogs.map((c) => c.date)).toEqual([5, 1, 11, 10, 9, 3, 12, 8, 7, 2]);
    expect(info.changelogs.map((c) => c.author)).toEqual(['author 5', ' ', '', 'author 9', 'author 9', 'author 3', 'author 12', 'author 7', 'author 7', 'author 2']);
    await expectMatchesCreaterepo(await withRpm(bytes), info, BUT_PROVIDES);
  });
});

describe('splitEvr', () => {
  test('splits as createrepo_c does: a number before the first colon is the epoch, the first hyphen after it starts the release', () => {
    expect(splitEvr('1:2.0-3')).toEqual({ epoch: '1', version: '2.0', release: '3' });
    expect(splitEvr('2.0')).toEqual({ epoch: '0', version: '2.0' });
    expect(splitEvr('2.0-1-2')).toEqual({ epoch: '0', version: '2.0', release: '1-2' });
    expect(splitEvr('2.0-')).toEqual({ epoch: '0', version: '2.0' });
    expect(splitEvr(':2.0')).toEqual({ epoch: '0', version: '2.0' });
    expect(splitEvr('007:2.0')).toEqual({ epoch: '007', version: '2.0' });
    expect(splitEvr('10:1~rc^2-0.fc40')).toEqual({ epoch: '10', version: '1~rc^2', release: '0.fc40' });
    expect(splitEvr('')).toEqual({});
  });

  test('an epoch that is not a number makes the whole undefined (createrepo_c drops such a dependency)', () => {
    for (const evr of ['x:2.0', '1x:2.0', '+:2.0', ' :2.0', '1 :2.0']) expect(splitEvr(evr), evr).toBeUndefined();
  });
});

describe('rejects malformed packages with a precise code', () => {
  const cases = malformedRpms();

  test('at least a dozen kinds', () => {
    expect(new Set(cases.map((c) => c.code)).size).toBeGreaterThanOrEqual(12);
  });

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_, { bytes: make, code }) => {
    const bytes = await make();
    const err = await failure(bytes);
    expect(err.code, err.message).toBe(code);
    expect(err.status).toBe(422);
    // Split anywhere, the same input fails the same way.
    expect((await failure(bytes, 1)).code).toBe(code);
    expect((await failure(bytes, 13)).code).toBe(code);
  });

  test('messages name the defect', async () => {
    const message = async (name: string) => (await failure(await cases.find((c) => c.name === name)!.bytes())).message;
    expect(await message('no NAME')).toBe('the main header has no NAME');
    expect(await message('NAME stored as an integer')).toBe('main header tag 1000 NAME has type INT32, expected a string');
    expect(await message('a zip file')).toMatch(/^not an RPM/);
    expect(await message('truncated inside the payload')).toMatch(/1 bytes before the end of the payload$/);
    expect(await message('entry offset past the store')).toMatch(/^main header entry 0 \(tag 1000 NAME\): 1 × STRING at offset 1048576 runs past the \d+-byte store$/);
  });

  test('an oversized header is refused from its intro, before its bytes arrive', () => {
    const inspector = new RpmInspector();
    const bytes = assembleRpm({ header: minimalHeader() });
    inspector.push(bytes.subarray(0, 96 + 8));
    const size = new Uint8Array(8);
    new DataView(size.buffer).setUint32(0, 1);
    new DataView(size.buffer).setUint32(4, 40 * 1024 * 1024);
    expect(() => inspector.push(size)).toThrow(expect.objectContaining({ code: 'header-too-large' }));
    // And the inspector stays failed rather than reading on from a lost position.
    expect(() => inspector.push(new Uint8Array(10))).toThrow(expect.objectContaining({ code: 'header-too-large' }));
    expect(() => inspector.finish()).toThrow(expect.objectContaining({ code: 'header-too-large' }));
  });
});

describe('work in proportion to the input', () => {
  test('rpm refuses entries whose data overlap, as the inspector does, and reads the same entries laid apart', async () => {
    const overlapping = path.join(dir, 'overlapping.rpm');
    await writeFile(overlapping, await malformedRpms().find((c) => c.name === 'two entries over the same strings')!.bytes());
    const refused = await run('rpm', ['-qp', overlapping]);
    expect(refused.code, refused.stderr).not.toBe(0);
    expect(refused.stderr).toMatch(/BAD/);
    const apart = path.join(dir, 'apart.rpm');
    await writeFile(apart, assembleRpm({ header: withUnknownStrings() }));
    expect(await query(apart, '%{NAME}')).toBe('tiny');
  });

  test('rpm reads 32 signature header entries and refuses 33, as the inspector does', async () => {
    const header = minimalHeader();
    const signature = (n: number): HeaderTags => [[SIGTAG.SIZE, ['int32', [rpmHeader(header).length]]], ...Array.from({ length: n - 1 }, (_, i): HeaderTags[number] => [2000 + i, ['bin', new Uint8Array(4)]])];
    const file = path.join(dir, 'signature-entries.rpm');
    await writeFile(file, assembleRpm({ signature: signature(32), header }));
    expect(inspect(await readFile(file)).name).toBe('tiny');
    expect(await query(file, '%{NAME}')).toBe('tiny');
    await writeFile(file, assembleRpm({ signature: signature(33), header }));
    expect((await failure(await readFile(file))).code).toBe('too-many-entries');
    const refused = await run('rpm', ['-qp', file]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/no\. of tags\(33\) out of range/);
  });

  // Each entry claims all 16 Mi strings of the store: read one by one, that is 128 Mi steps.
  test('string arrays that claim the same 16 MiB of NUL bytes are refused at the second entry', async () => {
    const bytes = overlappingStringsRpm(8, 16 * 1024 * 1024);
    const start = performance.now();
    expect((await failure(bytes)).code).toBe('overlapping-data');
    expect(performance.now() - start).toBeLessThan(1000);
  });

  test('of a string tag stored as an array, only the first value is decoded', async () => {
    const header: HeaderTags = [...minimalHeader(), [TAG.SUMMARY, ['i18n', ['Summary', ...new Array<string>(8 * 1024 * 1024).fill('')]]]];
    const bytes = assembleRpm({ header });
    const strings = vi.spyOn(RpmHeader.prototype, 'strings');
    try {
      expect(inspect(bytes).summary).toBe('Summary');
      expect(Math.max(...strings.mock.results.map((r) => (r.value as string[] | undefined)?.length ?? 0))).toBe(1);
    } finally {
      strings.mockRestore();
    }
  });

  test('the highest libc.so.6 require is found in one pass, however long the one kept so far', async () => {
    // Compared afresh each time, the 64 KiB version was walked once per other require: 41 s.
    const names = [`libc.so.6(${'0'.repeat(64_000)}9)`, ...Array.from({ length: 99_000 }, (_, i) => `libc.so.6(${i % 9})`)];
    const bytes = assembleRpm({ header: [...minimalHeader(), [TAG.REQUIRENAME, ['strings', names]]] });
    const start = performance.now();
    expect(inspect(bytes).requires).toEqual([{ name: names[0] }]);
    expect(performance.now() - start).toBeLessThan(1000);
  });

  // Lists that must match another's length are compared by their counts before any is decoded.
  test.each([
    ['15 Mi file modes for one file', [TAG.FILEMODES, ['int16', new Array<number>(15 * 1024 * 1024).fill(0)]], 'bad-file-list'],
    ['8 Mi directory indexes for one file', [TAG.DIRINDEXES, ['int32', new Array<number>(8 * 1024 * 1024 - 64).fill(0)]], 'bad-file-list'],
    ['16 Mi directory names', [TAG.DIRNAMES, ['strings', new Array<string>(16 * 1024 * 1024 - 64).fill('')]], 'too-many-files'],
    ['8 Mi flags for one require', [TAG.REQUIREFLAGS, ['int32', new Array<number>(8 * 1024 * 1024 - 64).fill(0)]], 'bad-dependencies'],
  ] as const)('%s: refused without decoding them', async (_, tag, code) => {
    const fileTags: HeaderTags = [
      [TAG.DIRINDEXES, ['int32', [0]]],
      [TAG.BASENAMES, ['strings', ['f']]],
      [TAG.DIRNAMES, ['strings', ['/']]],
      [TAG.REQUIRENAME, ['strings', ['r']]],
    ];
    const header: HeaderTags = [...minimalHeader(), ...fileTags.filter(([t]) => t !== tag[0]), tag as HeaderTags[number]];
    const bytes = assembleRpm({ header });
    const decoders = [vi.spyOn(RpmHeader.prototype, 'numbers'), vi.spyOn(RpmHeader.prototype, 'strings')];
    try {
      expect((await failure(bytes)).code).toBe(code);
      const lengths = decoders.flatMap((spy) => spy.mock.results.map((r) => (r.value as unknown[] | undefined)?.length ?? 0));
      expect(Math.max(...lengths)).toBeLessThan(100);
    } finally {
      for (const spy of decoders) spy.mockRestore();
    }
  });

  test('the largest header allowed, one string array of 32 Mi empty strings, is checked in one pass', async () => {
    const bytes = overlappingStringsRpm(1, 32 * 1024 * 1024 - 16);
    const start = performance.now();
    expect((await failure(bytes)).code).toBe('missing-name');
    expect(performance.now() - start).toBeLessThan(1000);
  });
});

describe('memory', () => {
  test('a header is held as its bytes arrive, not allocated at the size its intro claims', () => {
    const inspector = new RpmInspector();
    inspector.push(assembleRpm({ header: minimalHeader() }).subarray(0, 96 + 8));
    const intro = new Uint8Array(8);
    new DataView(intro.buffer).setUint32(0, 1);
    new DataView(intro.buffer).setUint32(4, 32 * 1024 * 1024 - 16);
    const before = process.memoryUsage().arrayBuffers;
    inspector.push(intro);
    inspector.push(new Uint8Array(100));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  test('a 200 MiB payload streams through without being buffered', () => {
    const size = 200 * 1024 * 1024;
    const header = minimalHeader();
    const head = assembleRpm({ header, signature: [[SIGTAG.SIZE, ['int32', [rpmHeader(header).length + size]]]] });
    const chunk = new Uint8Array(64 * 1024).fill(0x5a); // reused: the test itself must not hold 200 MiB
    const before = process.memoryUsage().arrayBuffers;
    const inspector = new RpmInspector();
    inspector.push(head);
    let peak = before;
    for (let sent = 0; sent < size; sent += chunk.length) {
      inspector.push(chunk);
      if (sent % (16 * 1024 * 1024) === 0) peak = Math.max(peak, process.memoryUsage().arrayBuffers);
    }
    const info = inspector.finish();
    expect(info.name).toBe('tiny');
    expect(info.headerEnd).toBe(head.length);
    expect(peak - before).toBeLessThan(16 * 1024 * 1024);
  });
});
