// Test .rpm files: built with the real rpmbuild, or assembled here byte by byte.
//
// buildRpm() / buildSrpm() write a spec file and run `rpmbuild -bb` / `-bs` in a private
// _topdir with HOME pointed away from any ~/.rpmmacros; nothing touches the network. The
// payload comes from a staging tree copied into the buildroot by %install, so the package
// holds exactly the files given. rpmbuild adds what it always adds: automatic provides
// (`name = e:v-r`, `config(name)` with files under /etc/), rpmlib(...) requires, the interpreter
// of executable scripts (/bin/sh).
//
// createrepoView() runs the real createrepo_c on one package and reads back its dependencies and
// changelog as primary.xml and other.xml list them: the reference for RpmInspector's records.
//
// assembleRpm() lays out a lead, a signature header and a main header from lists of tags,
// for what rpmbuild will not make: broken packages, and legal rarities (pre-rpm-4 OLDFILENAMES,
// 64-bit sizes, the old weak-dependency tags). malformedRpms() lists broken packages with the
// error code RpmInspector must reject each with.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { SIGTAG, TAG } from '../../src/formats/rpm/header.js';
import type { RpmChangelogEntry, RpmDependency, RpmRecord } from '../../src/formats/rpm/record.js';
import { concat } from './bytes.js';
import { runOk } from './exec.js';

export interface RpmSpec {
  name: string;
  version: string;
  release: string;
  epoch?: number;
  /** Default 'noarch'. */
  arch?: 'noarch' | 'x86_64';
  summary?: string;
  /** May span lines. */
  description?: string;
  license?: string;
  url?: string;
  vendor?: string;
  packager?: string;
  group?: string;
  /** Each a spec dependency, e.g. "foo >= 1:2.0-3". */
  requires?: string[];
  /** Written as `Requires(pre):` and `Requires(post):`, which rpm marks as needed by those scriptlets (pre="1" in primary.xml). */
  requiresPre?: string[];
  requiresPost?: string[];
  provides?: string[];
  conflicts?: string[];
  obsoletes?: string[];
  recommends?: string[];
  suggests?: string[];
  supplements?: string[];
  enhances?: string[];
  /**
   * Absolute path in the package → contents. Files in a `bin/` or `sbin/` directory are made
   * executable (so rpmbuild adds a requirement on a script's interpreter); files under /etc/ are
   * listed as `%config(noreplace)` (so rpmbuild adds a `config(name)` provide).
   */
  files?: Record<string, string | Uint8Array>;
  /** Directories owned by the package (`%dir`), made empty unless files go in them. */
  dirs?: string[];
  /** `%ghost` files: listed, not shipped. */
  ghosts?: string[];
  /** Newest first, as rpmbuild demands. `date` in seconds; rpm keeps only the day. */
  changelog?: { date: number; author: string; text: string }[];
}

export interface BuiltRpm {
  path: string;
  size: number;
  sha256: string;
}

/** Builds a binary package into outDir with `rpmbuild -bb`. */
export function buildRpm(spec: RpmSpec, outDir: string): Promise<BuiltRpm> {
  return rpmbuild(spec, outDir, 'binary');
}

/** Builds the source package of the same spec into outDir with `rpmbuild -bs`. */
export function buildSrpm(spec: RpmSpec, outDir: string): Promise<BuiltRpm> {
  return rpmbuild(spec, outDir, 'source');
}

async function rpmbuild(spec: RpmSpec, outDir: string, kind: 'binary' | 'source'): Promise<BuiltRpm> {
  await mkdir(outDir, { recursive: true });
  const top = await mkdtemp(path.join(os.tmpdir(), 'packyard-rpmbuild-'));
  try {
    const stage = path.join(top, 'stage');
    await mkdir(stage);
    for (const dir of spec.dirs ?? []) await mkdir(path.join(stage, dir), { recursive: true });
    for (const [file, body] of Object.entries(spec.files ?? {})) {
      await mkdir(path.dirname(path.join(stage, file)), { recursive: true });
      await writeFile(path.join(stage, file), body, { mode: /\/s?bin\//.test(file) ? 0o755 : 0o644 });
    }
    const specPath = path.join(top, `${spec.name}.spec`);
    await writeFile(specPath, specFile(spec, stage));
    const arch = spec.arch ?? 'noarch';
    await runOk(
      'rpmbuild',
      [
        kind === 'binary' ? '-bb' : '-bs',
        '--quiet',
        ...(arch === 'noarch' ? [] : ['--target', arch]),
        '--define', `_topdir ${top}`,
        '--define', '_buildhost packyard.test',
        '--define', 'use_source_date_epoch_as_buildtime 1',
        '--define', 'debug_package %{nil}',
        specPath,
      ],
      { env: { HOME: top, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? '1700000000' } },
    );
    const dir = path.join(top, kind === 'binary' ? `RPMS/${arch}` : 'SRPMS');
    const [built] = await readdir(dir);
    if (!built) throw new Error(`rpmbuild left nothing in ${dir}`);
    const out = path.join(outDir, built);
    await rename(path.join(dir, built), out);
    return describeRpm(out);
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}

function specFile(spec: RpmSpec, stage: string): string {
  // Spec text goes through macro expansion: a literal % must be doubled.
  const text = (s: string) => s.replaceAll('%', '%%');
  const quoted = (p: string) => `"${p}"`;
  const deps = (field: string, list: string[] = []) => list.map((d) => `${field}: ${d}`);
  const optional = (field: string, value: string | undefined) => (value === undefined ? [] : [`${field}: ${text(value)}`]);
  const changelog = (spec.changelog ?? []).map(({ date, author, text: body }) => {
    const [weekday, day, month, year] = new Date(date * 1000).toUTCString().split(' '); // "Wed, 15 Nov 2023 …"
    return `* ${weekday!.replace(',', '')} ${month} ${day} ${year} ${text(author)}\n${text(body)}\n`;
  });
  return [
    `Name: ${spec.name}`,
    `Version: ${spec.version}`,
    `Release: ${spec.release}`,
    ...(spec.epoch === undefined ? [] : [`Epoch: ${spec.epoch}`]),
    `Summary: ${text(spec.summary ?? `test package ${spec.name}`)}`,
    `License: ${text(spec.license ?? 'MIT')}`,
    ...optional('URL', spec.url),
    ...optional('Vendor', spec.vendor),
    ...optional('Packager', spec.packager),
    ...optional('Group', spec.group),
    ...((spec.arch ?? 'noarch') === 'noarch' ? ['BuildArch: noarch'] : []),
    ...deps('Requires', spec.requires),
    ...deps('Requires(pre)', spec.requiresPre),
    ...deps('Requires(post)', spec.requiresPost),
    ...deps('Provides', spec.provides),
    ...deps('Conflicts', spec.conflicts),
    ...deps('Obsoletes', spec.obsoletes),
    ...deps('Recommends', spec.recommends),
    ...deps('Suggests', spec.suggests),
    ...deps('Supplements', spec.supplements),
    ...deps('Enhances', spec.enhances),
    '',
    '%description',
    text(spec.description ?? `The test package ${spec.name}.`),
    '',
    '%install',
    `mkdir -p %{buildroot} && cp -a '${stage}/.' %{buildroot}/`,
    '',
    '%files',
    ...Object.keys(spec.files ?? {}).map((f) => (f.startsWith('/etc/') ? `%config(noreplace) ${quoted(f)}` : quoted(f))),
    ...(spec.dirs ?? []).map((d) => `%dir ${quoted(d)}`),
    ...(spec.ghosts ?? []).map((g) => `%ghost ${quoted(g)}`),
    ...(changelog.length ? ['', '%changelog', ...changelog] : []),
    '',
  ].join('\n');
}

async function describeRpm(file: string): Promise<BuiltRpm> {
  const bytes = await readFile(file);
  return { path: file, size: (await stat(file)).size, sha256: createHash('sha256').update(bytes).digest('hex') };
}

// --- createrepo_c's reading of a package -------------------------------------------------------

export const DEPENDENCY_KINDS = ['provides', 'requires', 'conflicts', 'obsoletes', 'suggests', 'enhances', 'recommends', 'supplements'] as const;
export type DependencyKind = (typeof DEPENDENCY_KINDS)[number];

/** What createrepo_c lists of one package: dependencies as in primary.xml, changelog as in other.xml (newest first, as RpmRecord keeps it). */
export type CreaterepoView = Pick<RpmRecord, DependencyKind | 'changelogs'>;

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeXml(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (_, e: string) =>
    e.startsWith('#x') ? String.fromCodePoint(parseInt(e.slice(2), 16)) : e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : XML_ENTITIES[e]!,
  );
}

/** Runs createrepo_c on a copy of one .rpm and parses what it wrote (one element per line, as it writes). */
export async function createrepoView(file: string): Promise<CreaterepoView> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-createrepo-'));
  try {
    await writeFile(path.join(dir, path.basename(file)), await readFile(file));
    await runOk('createrepo_c', ['--quiet', '--no-database', dir]);
    const repodata = path.join(dir, 'repodata');
    const xml = async (type: string) => {
      const gz = (await readdir(repodata)).find((f) => f.endsWith(`-${type}.xml.gz`))!;
      return gunzipSync(await readFile(path.join(repodata, gz))).toString('utf8');
    };
    const primary = await xml('primary');
    const view = { changelogs: [] as RpmChangelogEntry[] } as CreaterepoView;
    for (const kind of DEPENDENCY_KINDS) {
      const list = primary.split(`<rpm:${kind}>\n`)[1]?.split(`</rpm:${kind}>`)[0] ?? '';
      view[kind] = [...list.matchAll(/<rpm:entry((?: [a-z]+="[^"]*")*)\/>/g)].map(([, attributes]) => {
        const a = Object.fromEntries([...attributes!.matchAll(/ ([a-z]+)="([^"]*)"/g)].map(([, k, v]) => [k!, unescapeXml(v!)]));
        const dep: RpmDependency = { name: a.name! };
        if (a.flags) dep.flags = a.flags as RpmDependency['flags'];
        if (a.epoch !== undefined) dep.epoch = a.epoch;
        if (a.ver !== undefined) dep.version = a.ver;
        if (a.rel !== undefined) dep.release = a.rel;
        if (a.pre === '1') dep.pre = true;
        return dep;
      });
    }
    for (const [, author, date, text] of (await xml('other')).matchAll(/<changelog author="([^"]*)" date="([0-9]+)">([^<]*)<\/changelog>/g)) {
      view.changelogs.unshift({ author: unescapeXml(author!), date: Number(date), text: unescapeXml(text!) });
    }
    return view;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

// --- Assembling packages byte by byte -------------------------------------------------------

/** A tag's value with its header data type. */
export type TagData =
  | ['string', string]
  | ['strings', string[]]
  | ['i18n', string[]]
  | ['int16', number[]]
  | ['int32', number[]]
  | ['int64', number[]]
  | ['bin', Uint8Array];

export type HeaderTags = [tag: number, data: TagData][];

const TYPES: Record<TagData[0], { type: number; align: number }> = {
  int16: { type: 3, align: 2 },
  int32: { type: 4, align: 4 },
  int64: { type: 5, align: 8 },
  string: { type: 6, align: 1 },
  bin: { type: 7, align: 1 },
  strings: { type: 8, align: 1 },
  i18n: { type: 9, align: 1 },
};

const enc = new TextEncoder();

/** Size of a header's intro and of one index entry. */
const INTRO = 16;
const ENTRY = 16;

/**
 * A header: intro, index (one entry per tag, in the order given, so entry k sits at
 * INTRO + k * ENTRY), then the store with each value aligned as rpm requires.
 */
export function rpmHeader(tags: HeaderTags): Uint8Array {
  const index = new DataView(new ArrayBuffer(tags.length * ENTRY));
  const store: Uint8Array[] = [];
  let size = 0;
  tags.forEach(([tag, [kind, value]], k) => {
    const { type, align } = TYPES[kind];
    const padding = (align - (size % align)) % align;
    store.push(new Uint8Array(padding));
    size += padding;
    let data: Uint8Array;
    let count: number;
    if (kind === 'string') [data, count] = [enc.encode(`${value}\0`), 1];
    else if (kind === 'strings' || kind === 'i18n') [data, count] = [enc.encode(value.map((s) => `${s}\0`).join('')), value.length];
    else if (kind === 'bin') [data, count] = [value, value.length];
    else {
      const view = new DataView(new ArrayBuffer(value.length * align));
      value.forEach((n, i) => {
        if (kind === 'int16') view.setUint16(i * 2, n);
        else if (kind === 'int32') view.setUint32(i * 4, n);
        else view.setBigUint64(i * 8, BigInt(n));
      });
      [data, count] = [new Uint8Array(view.buffer), value.length];
    }
    index.setUint32(k * ENTRY, tag);
    index.setUint32(k * ENTRY + 4, type);
    index.setUint32(k * ENTRY + 8, size);
    index.setUint32(k * ENTRY + 12, count);
    store.push(data);
    size += data.length;
  });
  const intro = new DataView(new ArrayBuffer(INTRO));
  intro.setUint32(0, 0x8eade801);
  intro.setUint32(8, tags.length);
  intro.setUint32(12, size);
  return concat(new Uint8Array(intro.buffer), new Uint8Array(index.buffer), ...store);
}

export interface RpmParts {
  /** Lead fields; the defaults are rpm's own (format 3.0, binary, header signature). */
  lead?: { major?: number; type?: number; signatureType?: number };
  /** Default: just SIZE (main header plus payload), which rpmbuild always writes. */
  signature?: HeaderTags;
  header: HeaderTags;
  payload?: Uint8Array;
}

/** A whole .rpm from its parts. */
export function assembleRpm(parts: RpmParts): Uint8Array {
  return packageAround(rpmHeader(parts.header), parts);
}

/** Lead, signature header and padding before the main header bytes given, then the payload. */
function packageAround(header: Uint8Array, parts: Omit<RpmParts, 'header'>): Uint8Array {
  const payload = parts.payload ?? new Uint8Array(0);
  const signature = rpmHeader(parts.signature ?? [[SIGTAG.SIZE, ['int32', [header.length + payload.length]]]]);
  const lead = new DataView(new ArrayBuffer(96));
  lead.setUint32(0, 0xedabeedb);
  lead.setUint8(4, parts.lead?.major ?? 3);
  lead.setUint16(6, parts.lead?.type ?? 0);
  lead.setUint16(8, 1); // archnum: i386/x86_64
  lead.setUint16(76, 1); // osnum: Linux
  lead.setUint16(78, parts.lead?.signatureType ?? 5);
  const padding = new Uint8Array((8 - (signature.length % 8)) % 8);
  return concat(new Uint8Array(lead.buffer), signature, padding, header, payload);
}

/**
 * A package whose main header has `entries` STRING_ARRAY entries (of tags rpm does not know), each
 * claiming every string of the same store of `storeSize` NUL bytes: a reader that walks each
 * entry's strings on its own does entries × storeSize steps. rpm refuses entries whose data
 * overlap.
 */
export function overlappingStringsRpm(entries: number, storeSize: number): Uint8Array {
  const header = new Uint8Array(INTRO + entries * ENTRY + storeSize);
  const view = new DataView(header.buffer);
  view.setUint32(0, 0x8eade801);
  view.setUint32(8, entries);
  view.setUint32(12, storeSize);
  for (let k = 0; k < entries; k++) {
    const at = INTRO + k * ENTRY;
    view.setUint32(at, 20_000 + k);
    view.setUint32(at + 4, 8);
    view.setUint32(at + 12, storeSize);
  }
  return packageAround(header, {});
}

/** Where the pieces of a well-formed .rpm are (test-side reader, to edit real files). */
export function rpmLayout(bytes: Uint8Array): { signatureStart: number; headerStart: number; headerEnd: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerSize = (at: number) => INTRO + view.getUint32(at + 8) * ENTRY + view.getUint32(at + 12);
  const signatureEnd = 96 + headerSize(96);
  const headerStart = signatureEnd + ((8 - (signatureEnd % 8)) % 8);
  return { signatureStart: 96, headerStart, headerEnd: headerStart + headerSize(headerStart) };
}

/** The smallest header RpmInspector takes: name, version, release, arch, and a source RPM (so binary). */
export function minimalHeader(): HeaderTags {
  return [
    [TAG.NAME, ['string', 'tiny']],
    [TAG.VERSION, ['string', '1.0']],
    [TAG.RELEASE, ['string', '1']],
    [TAG.ARCH, ['string', 'noarch']],
    [TAG.SOURCERPM, ['string', 'tiny-1.0-1.src.rpm']],
  ];
}

// --- Malformed packages ---------------------------------------------------------------------

export interface MalformedRpm {
  name: string;
  bytes: () => Uint8Array | Promise<Uint8Array>;
  /** The 422 code RpmInspector answers with. */
  code: string;
}

function withU32(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  new DataView(copy.buffer).setUint32(at, value);
  return copy;
}

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

/** `minimalHeader()` with `tag` replaced (or removed, for undefined). */
function headerWith(tag: number, data: TagData | undefined): HeaderTags {
  return minimalHeader().flatMap(([t, d]): HeaderTags => (t !== tag ? [[t, d]] : data ? [[t, data]] : []));
}

/** `minimalHeader()` and two string arrays of tags rpm does not know, the first at entry 5. */
export function withUnknownStrings(): HeaderTags {
  return [...minimalHeader(), [20_000, ['strings', ['a', 'b']]], [20_001, ['strings', ['c']]]];
}

function u32At(bytes: Uint8Array, at: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at);
}

/** The main header's index entry k, field at +0 tag, +4 type, +8 offset, +12 count, in an assembled package. */
function entryField(bytes: Uint8Array, k: number, field: 0 | 4 | 8 | 12): number {
  return rpmLayout(bytes).headerStart + INTRO + k * ENTRY + field;
}

/** Malformed .rpm files: edits of a real rpmbuild package, or assembled here. */
export function malformedRpms(): MalformedRpm[] {
  let real: Promise<Uint8Array> | undefined;
  const victim = () =>
    (real ??= (async () => {
      const dir = await mkdtemp(path.join(os.tmpdir(), 'packyard-victim-'));
      try {
        const built = await buildRpm({ name: 'victim', version: '1.0', release: '1', files: { '/usr/share/victim/data': 'x'.repeat(5000) } }, dir);
        return new Uint8Array(await readFile(built.path));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    })());
  const editReal = (edit: (bytes: Uint8Array) => Uint8Array) => async () => edit(await victim());
  const assembled = (header: HeaderTags, edit: (bytes: Uint8Array) => Uint8Array = (b) => b) => () => edit(assembleRpm({ header }));

  const cases: [string, () => Uint8Array | Promise<Uint8Array>, string][] = [
    ['empty file', () => new Uint8Array(0), 'not-rpm'],
    ['a zip file', () => enc.encode('PK\x03\x04 this is a zip file, not an rpm, and it is longer than a lead'.repeat(3)), 'not-rpm'],
    ['a few bytes of text', () => enc.encode('hello'), 'not-rpm'],
    ['truncated inside the lead', editReal((b) => b.subarray(0, 50)), 'truncated'],
    ['lead of format version 2', editReal((b) => withByte(b, 4, 2)), 'unsupported-rpm-version'],
    ['lead without a header signature', editReal((b) => withByte(b, 79, 0)), 'bad-signature-type'],
    ['bad signature header magic', editReal((b) => withByte(b, 96, 0x8f)), 'bad-header-magic'],
    ['truncated inside the signature header', editReal((b) => b.subarray(0, 96 + 40)), 'truncated'],
    ['truncated just before the main header', editReal((b) => b.subarray(0, rpmLayout(b).headerStart - 1)), 'truncated'],
    ['bad main header magic', editReal((b) => withByte(b, rpmLayout(b).headerStart + 1, 0)), 'bad-header-magic'],
    ['truncated inside the main header intro', editReal((b) => b.subarray(0, rpmLayout(b).headerStart + 5)), 'truncated'],
    ['truncated inside the main header', editReal((b) => b.subarray(0, rpmLayout(b).headerEnd - 1)), 'truncated'],
    ['truncated inside the payload', editReal((b) => b.subarray(0, b.length - 1)), 'truncated'],
    ['bytes after the payload', editReal((b) => concat(b, new Uint8Array(3))), 'trailing-data'],
    ['signature header of 64 MiB', editReal((b) => withU32(b, 96 + 12, 64 * 1024 * 1024)), 'header-too-large'],
    ['main header of 3 million entries', editReal((b) => withU32(b, rpmLayout(b).headerStart + 8, 3_000_000)), 'header-too-large'],
    ['signature header of 33 entries (rpm allows 32)', editReal((b) => withU32(b, 96 + 8, 33)), 'too-many-entries'],
    ['main header of 70,000 entries (rpm allows 65,535)', editReal((b) => withU32(b, rpmLayout(b).headerStart + 8, 70_000)), 'too-many-entries'],
    ['two entries over the same strings', assembled(withUnknownStrings(), (b) => withU32(b, entryField(b, 6, 8), u32At(b, entryField(b, 5, 8)))), 'overlapping-data'],
    ['main header without entries', editReal((b) => withU32(b, rpmLayout(b).headerStart + 8, 0)), 'empty-header'],
    ['entry offset past the store', assembled(minimalHeader(), (b) => withU32(b, entryField(b, 0, 8), 1 << 20)), 'index-out-of-range'],
    ['int32 array running past the store', assembled([...minimalHeader(), [TAG.SIZE, ['int32', [1]]]], (b) => withU32(b, entryField(b, 5, 12), 1000)), 'index-out-of-range'],
    [
      'string without its NUL',
      assembled([...minimalHeader(), [TAG.SUMMARY, ['bin', enc.encode('no end')]]], (b) => withU32(b, entryField(b, 5, 4), 8)),
      'index-out-of-range',
    ],
    ['unknown entry type', assembled(minimalHeader(), (b) => withU32(b, entryField(b, 1, 4), 42)), 'bad-tag-type'],
    ['NAME stored as an integer', assembled(headerWith(TAG.NAME, ['int32', [7]])), 'bad-tag-type'],
    ['SIZE stored as a string', assembled([...minimalHeader(), [TAG.SIZE, ['string', '12']]]), 'bad-tag-type'],
    ['misaligned int32', assembled([[TAG.SIZE, ['int32', [1]]], ...minimalHeader()], (b) => withU32(b, entryField(b, 0, 8), 2)), 'misaligned-data'],
    ['STRING with a count of 2', assembled(minimalHeader(), (b) => withU32(b, entryField(b, 0, 12), 2)), 'bad-tag-count'],
    ['the same tag twice', assembled([...minimalHeader(), [TAG.NAME, ['string', 'again']]]), 'duplicate-tag'],
    ['no NAME', assembled(headerWith(TAG.NAME, undefined)), 'missing-name'],
    ['empty NAME', assembled(headerWith(TAG.NAME, ['string', ''])), 'missing-name'],
    ['no VERSION', assembled(headerWith(TAG.VERSION, undefined)), 'missing-version'],
    ['no RELEASE', assembled(headerWith(TAG.RELEASE, undefined)), 'missing-release'],
    ['no ARCH', assembled(headerWith(TAG.ARCH, undefined)), 'missing-arch'],
    ['name with a slash', assembled(headerWith(TAG.NAME, ['string', 'evil/../../etc'])), 'invalid-name'],
    ['version with a space', assembled(headerWith(TAG.VERSION, ['string', '1.0 beta'])), 'invalid-version'],
    ['release ..', assembled(headerWith(TAG.RELEASE, ['string', '..'])), 'invalid-release'],
    ['arch with a dot', assembled(headerWith(TAG.ARCH, ['string', 'x86.64'])), 'invalid-arch'],
    [
      'directory index out of range',
      assembled([...minimalHeader(), [TAG.DIRINDEXES, ['int32', [1]]], [TAG.BASENAMES, ['strings', ['f']]], [TAG.DIRNAMES, ['strings', ['/usr/']]]]),
      'bad-file-list',
    ],
    [
      'more file names than directory indexes',
      assembled([...minimalHeader(), [TAG.DIRINDEXES, ['int32', [0]]], [TAG.BASENAMES, ['strings', ['f', 'g']]], [TAG.DIRNAMES, ['strings', ['/usr/']]]]),
      'bad-file-list',
    ],
    ['fewer file modes than files', assembled([...minimalHeader(), [TAG.OLDFILENAMES, ['strings', ['/a', '/b']]], [TAG.FILEMODES, ['int16', [0o100644]]]]), 'bad-file-list'],
    [
      'dependency names without matching flags',
      assembled([...minimalHeader(), [TAG.REQUIREFLAGS, ['int32', [0]]], [TAG.REQUIRENAME, ['strings', ['a', 'b']]], [TAG.REQUIREVERSION, ['strings', ['', '']]]]),
      'bad-dependencies',
    ],
    ['changelog times without texts', assembled([...minimalHeader(), [TAG.CHANGELOGTIME, ['int32', [1]]], [TAG.CHANGELOGNAME, ['strings', ['me']]]]), 'bad-changelog'],
  ];
  return cases.map(([name, bytes, code]) => ({ name, bytes, code }));
}

// --- Packages at and over the repodata limits (src/formats/rpm/limits.ts) ----------------------

const KiB = 1024;
const MiB = 1024 * KiB;

/** A rich dependency `depth` parentheses deep: (d or (d or … d)). */
export function nestedDependency(depth: number): string {
  return '(d or '.repeat(depth) + 'd' + ')'.repeat(depth);
}

/** Files in the directory `dir` (ending in a slash): `count` of them, or those named. */
function filesIn(dir: string, files: number | string[]): HeaderTags {
  const names = typeof files === 'number' ? Array.from({ length: files }, (_, i) => i.toString(36)) : files;
  return [
    [TAG.DIRINDEXES, ['int32', new Array<number>(names.length).fill(0)]],
    [TAG.BASENAMES, ['strings', names]],
    [TAG.DIRNAMES, ['strings', [dir]]],
  ];
}

/** Unversioned requires, as the header holds them. */
function requiresOf(names: string[], versions: string[] = names.map(() => '')): HeaderTags {
  return [
    [TAG.REQUIREFLAGS, ['int32', names.map((_, i) => (versions[i] ? 8 : 0))]],
    [TAG.REQUIRENAME, ['strings', names]],
    [TAG.REQUIREVERSION, ['strings', versions]],
  ];
}

/** `minimalHeader()` with the NAME given and `extra` tags. */
function tinyWith(extra: HeaderTags, name = 'tiny'): HeaderTags {
  return [...minimalHeader().map(([t, d]): [number, TagData] => (t === TAG.NAME ? [t, ['string', name]] : [t, d])), ...extra];
}

/**
 * A package at every limit at once: description, summary and changelog text of the greatest
 * length (with control characters, which repodata drops), a file name of 255 bytes, 1,000,000
 * files, one path of 4,096 characters, 100,000 dependencies, one 64 parentheses deep, one
 * name and one version of 64 KiB.
 */
export function atLimitsRpm(): Uint8Array {
  const requires = Array.from({ length: 100_000 - 3 }, (_, i) => `dep${i}`);
  return assembleRpm({
    header: tinyWith(
      [
        [TAG.SUMMARY, ['string', 's\x01'.repeat(32 * KiB)]],
        [TAG.DESCRIPTION, ['string', 'd\x0b'.repeat(512 * KiB)]],
        ...filesIn('/', [...Array.from({ length: 1_000_000 - 1 }, (_, i) => i.toString(36)), 'f'.repeat(4095)]),
        ...requiresOf([...requires, nestedDependency(64), 'n'.repeat(64 * KiB), 'versioned'], [...requires.map(() => ''), '', '', '1.' + '0'.repeat(64 * KiB - 2)]),
        [TAG.CHANGELOGTIME, ['int32', [1_700_000_000]]],
        [TAG.CHANGELOGNAME, ['strings', ['a'.repeat(64 * KiB)]]],
        [TAG.CHANGELOGTEXT, ['strings', ['t'.repeat(MiB)]]],
      ],
      'n'.repeat(255 - '-1.0-1.noarch.rpm'.length),
    ),
  });
}

/** Packages one step over a limit, with the code RpmInspector refuses each with. */
export function overLimitRpms(): MalformedRpm[] {
  const cases: [string, HeaderTags, string][] = [
    ['a summary of 64 KiB and one character', tinyWith([[TAG.SUMMARY, ['string', 's'.repeat(64 * KiB + 1)]]]), 'field-too-long'],
    ['a description of 1 MiB and one character', tinyWith([[TAG.DESCRIPTION, ['string', 'd'.repeat(MiB + 1)]]]), 'field-too-long'],
    ['a file name of 256 bytes', tinyWith([], 'n'.repeat(256 - '-1.0-1.noarch.rpm'.length)), 'field-too-long'],
    ['1,000,001 files', tinyWith(filesIn('/usr/share/many/', 1_000_001)), 'too-many-files'],
    ['a file path of 4,097 characters', tinyWith(filesIn('/', ['f'.repeat(4096)])), 'field-too-long'],
    ['10,000 files in a directory named with 4,000 characters (40 million characters of paths)', tinyWith(filesIn(`/${'d'.repeat(3998)}/`, 10_000)), 'file-list-too-large'],
    ['100,001 dependencies', tinyWith([...requiresOf(Array.from({ length: 50_001 }, (_, i) => `r${i}`)), [TAG.PROVIDENAME, ['strings', Array.from({ length: 50_000 }, (_, i) => `p${i}`)]]]), 'too-many-dependencies'],
    ['a dependency 65 parentheses deep', tinyWith(requiresOf([nestedDependency(65)])), 'dependency-too-deep'],
    ['a dependency name of 64 KiB and one character', tinyWith(requiresOf(['n'.repeat(64 * KiB + 1)])), 'field-too-long'],
    ['a dependency version of 64 KiB and one character', tinyWith(requiresOf(['v'], ['1'.repeat(64 * KiB + 1)])), 'field-too-long'],
    [
      'a changelog entry of 1 MiB and one character',
      tinyWith([[TAG.CHANGELOGTIME, ['int32', [1]]], [TAG.CHANGELOGNAME, ['strings', ['a']]], [TAG.CHANGELOGTEXT, ['strings', ['t'.repeat(MiB + 1)]]]]),
      'field-too-long',
    ],
  ];
  return cases.map(([name, header, code]) => ({ name, bytes: () => assembleRpm({ header }), code }));
}
