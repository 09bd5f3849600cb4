// rpm-md repodata against the real tools: RPMs made by rpmbuild go into two directories, one
// indexed by createrepo_c, one by the real pipeline, RpmInspector's records rendered by
// buildRepodata(); the XML must be byte for byte createrepo_c's, dnf must answer every query the
// same on both, and the repomd.xml signature must satisfy gpgv, sqv and dnf with repo_gpgcheck=1.
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { RpmInspector } from '../../../src/formats/rpm/inspect.js';
import type { RpmRecord } from '../../../src/formats/rpm/record.js';
import {
  buildRepodata,
  escapeAttr,
  escapeText,
  renderFilelists,
  renderOther,
  renderPrimary,
  renderRepomd,
  sortRecords,
  type Repodata,
  type RepomdEntry,
} from '../../../src/formats/rpm/repodata.js';
import { webGzip } from '../../../src/util/codecs/compress.js';
import { createNodeHasher } from '../../../src/hosts/node/hasher.js';
import { run, runOk } from '../../helpers/exec.js';
import { buildRpm, buildSrpm, type RpmSpec } from '../../helpers/rpms.js';
import { testSigner } from '../../helpers/service.js';
import { inChunks } from '../../helpers/bytes.js';

const MTIME = 1_700_000_000;
const NOW = new Date(1_700_000_100_000);

/** Midnight UTC of a day of January 2024, in seconds: rpm keeps changelog dates to the day. */
const jan2024 = (day: number) => Date.UTC(2024, 0, day) / 1000;

const changelog12 = Array.from({ length: 12 }, (_, i) => {
  const day = 12 - i;
  return { date: jan2024(day), author: `Builder <b@example.invalid> - 2.0-${day}`, text: `- release ${day}` };
});

/** The fixture packages, and whether the source package of each is built too. */
const SPECS: (RpmSpec & { source?: boolean })[] = [
  {
    name: 'alpha',
    epoch: 3,
    version: '1.2~rc1',
    release: '4',
    arch: 'x86_64',
    summary: 'Alpha <test> & "quotes"',
    description: 'Alpha description line one.\nLine two with <tags> & ampersands\tand a tab.',
    url: 'https://example.invalid/alpha?a=1&b=2',
    vendor: 'Packyard',
    group: 'Applications/System',
    packager: 'Packy <p@example.invalid>',
    license: "MIT and 'BSD'",
    // File requires of another package's files and of its own, and one it provides itself.
    requires: ['/usr/bin/foo', '/usr/share/foo/data.txt', 'beta >= 2:1.0-3', 'gamma < 5', '/etc/alpha.conf', 'alpha-virtual = 7'],
    requiresPre: ['shadow-utils'],
    requiresPost: ['coreutils'],
    provides: ['alpha-virtual = 7', '/usr/bin/alpha2'],
    conflicts: ['delta <= 1'],
    obsoletes: ['oldalpha < 1.0'],
    recommends: ['rec1'],
    suggests: ['sug1 > 1'],
    supplements: ['(beta and gamma)'],
    enhances: ['gamma = 1.0'],
    files: { '/usr/bin/alpha': '#!/bin/sh\necho alpha\n', '/etc/alpha.conf': 'conf\n', '/usr/share/alpha/sub/data.txt': 'data\n' },
    dirs: ['/usr/share/alpha', '/var/lib/alpha'],
    ghosts: ['/var/lib/alpha/state'],
    changelog: [
      { date: jan2024(3), author: 'Packy <p@example.invalid> - 3:1.2~rc1-4', text: '- third & <latest>' },
      { date: jan2024(3), author: 'Other Person <o@example.invalid> - 1.1-1', text: '- same day entry\n- second line' },
      { date: jan2024(1), author: 'Packy <p@example.invalid> - 1.0-1', text: '- first' },
    ],
    source: true,
  },
  {
    name: 'foo',
    version: '0.9',
    release: '1',
    summary: 'Café tool 中文 😀',
    description: 'Provides /usr/bin/foo for the file dependency.',
    provides: ['café-tool = 1'],
    requires: ['bash'],
    files: { '/usr/bin/foo': '#!/bin/sh\n', '/usr/share/foo/data.txt': 'x\n', '/usr/share/foo/café menu.txt': 'menu\n', '/usr/sbin/foo-admin': '#!/bin/sh\n' },
    changelog: [{ date: jan2024(2), author: 'José Ñandú 😀 <j@example.invalid> - 0.9-1', text: '- naïve "quoted" entry' }],
  },
  {
    name: 'beta',
    epoch: 2,
    version: '2.0',
    release: '3.el9',
    arch: 'x86_64',
    requires: [
      'alpha(x86-64) >= 3:1.2~rc1',
      'foo',
      // createrepo_c keeps only the highest libc.so.6 symbol version, and lists it last.
      'libc.so.6()(64bit)',
      'libc.so.6(GLIBC_2.34)(64bit)',
      'libc.so.6(GLIBC_2.4)(64bit)',
    ],
    // Needed by %pre and by %post: one require with pre="1" in primary.xml.
    requiresPre: ['foo'],
    requiresPost: ['foo'],
    provides: ['beta-libs(x86-64) = 2:2.0-3.el9'],
    files: { '/usr/lib64/beta/libbeta.txt': 'lib\n' },
    changelog: changelog12,
  },
  { name: 'gamma', version: '1.0', release: '1', description: 'Minimal: no files, no changelog.' },
];

let work: string;
let ours: string;
let ref: string;
let records: RpmRecord[];
let repodata: Repodata;
let refXml: Record<'primary' | 'filelists' | 'other', string>;
let refRepomd: string;

/** The `<data>` entries of a repomd.xml (createrepo_c's: one element per line). */
function parseRepomd(xml: string): { revision: string; entries: RepomdEntry[] } {
  const revision = /<revision>([^<]*)<\/revision>/.exec(xml)![1]!;
  const entries: RepomdEntry[] = [];
  for (const m of xml.matchAll(/<data type="([^"]+)">([\s\S]*?)<\/data>/g)) {
    const body = m[2]!;
    const get = (re: RegExp) => re.exec(body)![1]!;
    entries.push({
      type: m[1] as RepomdEntry['type'],
      checksum: get(/<checksum type="sha256">([0-9a-f]+)</),
      openChecksum: get(/<open-checksum type="sha256">([0-9a-f]+)</),
      location: get(/<location href="([^"]+)"/),
      timestamp: Number(get(/<timestamp>(\d+)</)),
      size: Number(get(/<size>(\d+)</)),
      openSize: Number(get(/<open-size>(\d+)</)),
    });
  }
  return { revision, entries };
}

/** The record of an .rpm as the registry makes it: RpmInspector's reading, plus what the upload adds. */
async function recordOf(dir: string, rel: string): Promise<RpmRecord> {
  const file = path.join(dir, rel);
  const bytes = new Uint8Array(await readFile(file));
  const inspector = new RpmInspector();
  inChunks(bytes, 4096, (chunk) => inspector.push(chunk));
  const location = rel.split(path.sep).join('/');
  return {
    ...inspector.finish(),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    packageSize: bytes.length,
    location,
    key: `test/${location}`,
    // createrepo_c's <time file> is the file's mtime.
    fileTime: Math.floor((await stat(file)).mtimeMs / 1000),
  };
}

/** Records of every .rpm below dir, located relative to it. */
async function recordsOfDir(dir: string): Promise<RpmRecord[]> {
  const rels = (await readdir(dir, { recursive: true })).filter((r) => r.endsWith('.rpm'));
  return Promise.all(rels.map((rel) => recordOf(dir, rel)));
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'packyard-repodata-'));
  const built = path.join(work, 'built');
  for (const spec of SPECS) {
    await buildRpm(spec, path.join(built, spec.arch ?? 'noarch'));
    if (spec.source) await buildSrpm(spec, path.join(built, 'src'));
  }
  ours = path.join(work, 'ours');
  ref = path.join(work, 'ref');
  for (const dir of [ours, ref]) {
    await cp(built, dir, { recursive: true });
    for (const rel of (await readdir(dir, { recursive: true })).filter((r) => r.endsWith('.rpm'))) await utimes(path.join(dir, rel), MTIME, MTIME);
  }
  await runOk('createrepo_c', ['--no-database', ref]);
  refRepomd = await readFile(path.join(ref, 'repodata/repomd.xml'), 'utf8');
  refXml = {} as typeof refXml;
  for (const e of parseRepomd(refRepomd).entries) {
    refXml[e.type] = gunzipSync(await readFile(path.join(ref, e.location))).toString('utf8');
  }

  records = await recordsOfDir(ours);
  repodata = await buildRepodata(records, { gzip: webGzip, createHasher: createNodeHasher, signer: await testSigner(), now: () => NOW });
  for (const f of repodata.files) {
    await mkdir(path.dirname(path.join(ours, f.path)), { recursive: true });
    await writeFile(path.join(ours, f.path), f.bytes);
  }
});

afterAll(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('the XML is createrepo_c’s', () => {
  test('the fixture covers what it should', () => {
    const arches = records.map((r) => r.arch).sort();
    expect(arches).toEqual(['noarch', 'noarch', 'src', 'x86_64', 'x86_64']);
    const alpha = records.find((r) => r.name === 'alpha' && !r.source)!;
    expect(alpha.requires.some((d) => d.pre)).toBe(true);
    expect(alpha.recommends.length + alpha.suggests.length + alpha.supplements.length + alpha.enhances.length).toBe(4);
    expect(alpha.files.map((f) => f.type)).toEqual(expect.arrayContaining(['dir', 'ghost', 'file']));
  });

  test('primary.xml byte for byte', () => {
    expect(renderPrimary(records)).toBe(refXml.primary);
  });

  test('filelists.xml byte for byte', () => {
    expect(renderFilelists(records)).toBe(refXml.filelists);
  });

  test('other.xml byte for byte (same-second changelog entries, the 10-entry limit, non-ASCII authors)', () => {
    expect(renderOther(records)).toBe(refXml.other);
  });

  test('an empty repository', async () => {
    const empty = path.join(work, 'empty');
    await mkdir(empty);
    await runOk('createrepo_c', ['--no-database', empty]);
    const md = parseRepomd(await readFile(path.join(empty, 'repodata/repomd.xml'), 'utf8'));
    const got = { primary: renderPrimary([]), filelists: renderFilelists([]), other: renderOther([]) };
    expect(md.entries.map((e) => e.type)).toEqual(['primary', 'filelists', 'other']);
    for (const e of md.entries) expect(got[e.type]).toBe(gunzipSync(await readFile(path.join(empty, e.location))).toString('utf8'));
  });

  test('repomd.xml byte for byte, given createrepo_c’s entries', () => {
    expect(renderRepomd(parseRepomd(refRepomd))).toBe(refRepomd);
  });

  test('package order is createrepo_c’s: by file name, then directory', () => {
    const order = [...refXml.primary.matchAll(/<location href="([^"]+)"/g)].map((m) => m[1]);
    expect(sortRecords(records).map((r) => r.location)).toEqual(order);
    expect(sortRecords([...records].reverse()).map((r) => r.location)).toEqual(order);
  });
});

describe('the published files', () => {
  test('names, checksums and sizes agree with repomd.xml', async () => {
    const paths = repodata.files.map((f) => f.path);
    expect(paths.slice(3)).toEqual(['repodata/repomd.xml', 'repodata/repomd.xml.asc']);
    const repomd = await readFile(path.join(ours, 'repodata/repomd.xml'), 'utf8');
    const md = parseRepomd(repomd);
    expect(md.revision).toBe(String(NOW.getTime() / 1000));
    expect(md.entries.map((e) => e.type)).toEqual(['primary', 'filelists', 'other']);
    for (const e of md.entries) {
      expect(e.location).toBe(`repodata/${e.checksum}-${e.type}.xml.gz`);
      const gz = await readFile(path.join(ours, e.location));
      expect(gz.length).toBe(e.size);
      expect(createHash('sha256').update(gz).digest('hex')).toBe(e.checksum);
      const xml = gunzipSync(gz);
      expect(xml.length).toBe(e.openSize);
      expect(createHash('sha256').update(xml).digest('hex')).toBe(e.openChecksum);
      expect(e.timestamp).toBe(NOW.getTime() / 1000);
      expect(xml.toString('utf8')).toBe(refXml[e.type]);
    }
  });

  test('repomd.xml.asc verifies with gpgv and sqv; a changed repomd.xml does not', async () => {
    const signer = await testSigner();
    const keyring = path.join(work, 'keyring.gpg');
    await writeFile(keyring, signer.publicKeyBinary);
    const data = path.join(ours, 'repodata/repomd.xml');
    const sig = path.join(ours, 'repodata/repomd.xml.asc');
    expect(await readFile(sig, 'utf8')).toMatch(/^-----BEGIN PGP SIGNATURE-----\n/);
    await runOk('gpgv', ['--keyring', keyring, sig, data]);
    await runOk('sqv', ['--keyring', keyring, sig, data]);
    const changed = path.join(work, 'repomd-changed.xml');
    await writeFile(changed, (await readFile(data, 'utf8')).replace('<revision>', '<revision>1'));
    expect((await run('gpgv', ['--keyring', keyring, sig, changed])).code).not.toBe(0);
    expect((await run('sqv', ['--keyring', keyring, sig, changed])).code).not.toBe(0);
  });
});

describe('dnf sees the same repository', () => {
  async function dnf(repo: string, root: string, args: string[]): Promise<string> {
    const r = await runOk('dnf', ['--setopt=reposdir=/dev/null', `--repofrompath=r,file://${repo}`, '--repo=r', `--installroot=${root}`, '--releasever=12', '-q', ...args], { timeoutMs: 120_000 });
    return r.stdout.split(repo).join('<repo>');
  }

  const QF = ['name', 'epoch', 'version', 'release', 'arch', 'evr', 'summary', 'description', 'license', 'url', 'sourcerpm', 'source_name', 'buildtime', 'size', 'downloadsize', 'installsize', 'provides', 'requires', 'obsoletes', 'conflicts']
    .map((t) => `${t}=%{${t}}`)
    .join('\n');
  const QUERIES: [string, string[]][] = [
    ['nevra + summary', ['repoquery', '--qf', '%{name} %{epoch} %{version} %{release} %{arch} %{summary}']],
    ['all tags', ['repoquery', '--qf', `${QF}\n--`]],
    ['source packages', ['repoquery', '--arch', 'src', '--qf', QF]],
    ...['provides', 'requires', 'requires-pre', 'conflicts', 'obsoletes', 'recommends', 'suggests', 'supplements', 'enhances'].flatMap((o): [string, string[]][] =>
      ['alpha', 'beta', 'foo', 'gamma'].map((p) => [`--${o} ${p}`, ['repoquery', `--${o}`, p]]),
    ),
    ['--list', ['repoquery', '--list', 'alpha', 'beta', 'foo', 'gamma']],
    ['--changelogs', ['repoquery', '--changelogs', 'alpha', 'beta', 'foo']],
    ['--info', ['repoquery', '--info']],
    ['--location', ['repoquery', '--location']],
    ['--whatprovides /usr/bin/foo', ['repoquery', '--whatprovides', '/usr/bin/foo']],
    ['--whatprovides non-primary file', ['repoquery', '--whatprovides', '/usr/share/foo/data.txt']],
    ['--whatprovides non-ASCII file', ['repoquery', '--whatprovides', '/usr/share/foo/café menu.txt']],
    ['--whatprovides ghost', ['repoquery', '--whatprovides', '/var/lib/alpha/state']],
    ['--whatprovides virtual', ['repoquery', '--whatprovides', 'alpha-virtual >= 7']],
    ['--whatprovides non-ASCII', ['repoquery', '--whatprovides', 'café-tool']],
    ['--whatrequires', ['repoquery', '--whatrequires', 'foo']],
    ['--whatrecommends', ['repoquery', '--whatrecommends', 'rec1']],
    ['--whatsupplements', ['repoquery', '--whatsupplements', 'beta']],
    ['--whatobsoletes', ['repoquery', '--whatobsoletes', 'oldalpha']],
    ['--deplist', ['repoquery', '--deplist', 'alpha']],
    ['--requires --resolve', ['repoquery', '--requires', '--resolve', 'alpha']],
  ];

  test('every query answers alike', { timeout: 600_000 }, async () => {
    const roots = { ours: path.join(work, 'root-ours'), ref: path.join(work, 'root-ref') };
    await Promise.all(Object.values(roots).map((r) => mkdir(r)));
    const answers = await Promise.all(
      ([['ours', ours], ['ref', ref]] as const).map(async ([which, repo]) => {
        const out: Record<string, string> = {};
        for (const [label, args] of QUERIES) out[label] = await dnf(repo, roots[which], args);
        return out;
      }),
    );
    const [mine, theirs] = answers as [Record<string, string>, Record<string, string>];
    for (const [label] of QUERIES) expect(mine[label], label).toBe(theirs[label]);
    // The answers are about something: the fixture's interesting parts are visible to dnf.
    expect(mine['nevra + summary']).toContain('alpha 3 1.2~rc1 4 x86_64 Alpha <test> & "quotes"');
    expect(mine['--whatprovides /usr/bin/foo']).toContain('foo-0:0.9-1.noarch');
    expect(mine['--whatprovides non-primary file']).toContain('foo-0:0.9-1.noarch');
    expect(mine['--whatprovides ghost']).toContain('alpha-3:1.2~rc1-4.x86_64');
    expect(mine['--recommends alpha']).toContain('rec1');
    expect(mine['--requires-pre alpha']).toContain('shadow-utils');
    expect(mine['--changelogs']).toContain('- same day entry');
    expect(mine['--list']).toContain('/usr/share/foo/café menu.txt');
  });

  test('with repo_gpgcheck=1 dnf accepts the signed repository and refuses a forged repomd.xml', async () => {
    const signer = await testSigner();
    const keyFile = path.join(work, 'RPM-GPG-KEY-packyard');
    await writeFile(keyFile, signer.publicKeyArmored);
    const forged = path.join(work, 'forged');
    await cp(ours, forged, { recursive: true });
    const repomd = path.join(forged, 'repodata/repomd.xml');
    await writeFile(repomd, (await readFile(repomd, 'utf8')).replace('<revision>', '<revision>9'));

    const makecache = async (repo: string, name: string) => {
      const reposdir = path.join(work, `reposdir-${name}`);
      const root = path.join(work, `root-${name}`);
      await mkdir(reposdir);
      await mkdir(root);
      await writeFile(
        path.join(reposdir, 'packyard.repo'),
        `[packyard]\nname=Packyard\nbaseurl=file://${repo}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=file://${keyFile}\nskip_if_unavailable=0\n`,
      );
      const dnf = (args: string[]) => run('dnf', [`--setopt=reposdir=${reposdir}`, `--installroot=${root}`, '--releasever=12', '-y', ...args], { timeoutMs: 120_000 });
      const made = await dnf(['makecache']);
      return { made, query: made.code === 0 ? await dnf(['-C', '-q', 'repoquery', '--qf', '%{name}']) : undefined };
    };
    const good = await makecache(ours, 'signed');
    expect(good.made.code, good.made.stderr + good.made.stdout).toBe(0);
    const said = good.made.stdout + good.made.stderr;
    expect(said).toMatch(/Importing GPG key/);
    expect(/Fingerprint: ([0-9A-F ]+)/.exec(said)![1]!.replace(/ /g, '')).toBe(signer.fingerprints[0]);
    expect(said).not.toMatch(/Ignoring repositories|Error/);
    expect(good.query!.stdout.split('\n').filter(Boolean).sort()).toEqual(['alpha', 'beta', 'foo', 'gamma']);
    const bad = await makecache(forged, 'forged');
    expect(bad.made.code).not.toBe(0);
    // Refused with the key in hand: the signature does not cover this repomd.xml.
    expect(bad.made.stdout + bad.made.stderr).toMatch(/Importing GPG key/);
    expect(bad.made.stdout + bad.made.stderr).toMatch(/repomd\.xml GPG signature verification error: Bad GPG signature/);
  });
});

describe('escaping and quirks', () => {
  test('text: & < > and CR as references; invalid XML characters dropped; the rest as is', () => {
    expect(escapeText('a & b <c> "d" \'e\' \t\n')).toBe('a &amp; b &lt;c&gt; "d" \'e\' \t\n');
    expect(escapeText('cr\r')).toBe('cr&#13;');
    expect(escapeText('x\x00\x01\x08\x0b\x0c\x0e\x1fy\x7f\u0085')).toBe('xy\x7f\u0085');
    expect(escapeText('\ufffe\uffff😀\ud800\udc00z\udc00')).toBe('😀\ud800\udc00z');
    expect(escapeText('plain')).toBe('plain');
  });

  test('attributes: " TAB LF CR too, and everything outside ASCII as a character reference', () => {
    expect(escapeAttr('Jo "N"\t&amp Q\'s <j@x>')).toBe('Jo &quot;N&quot;&#9;&amp;amp Q\'s &lt;j@x&gt;');
    expect(escapeAttr('a\nb\rc')).toBe('a&#10;b&#13;c');
    expect(escapeAttr('José 中 😀 \u0085')).toBe('Jos&#xE9; &#x4E2D; &#x1F600; &#x85;');
    expect(escapeAttr('x\x01\ufffe\ud800y')).toBe('xy');
  });

  test('a record full of hostile strings renders well-formed XML (Python’s expat parses it back)', async () => {
    const hostile = 'a\x00b\x1b<c>&d"e\'\r\n\tf\ufffe\ud800😀]]>';
    const base = records.find((r) => r.name === 'alpha' && !r.source)!;
    const r: RpmRecord = {
      ...base,
      summary: hostile,
      description: hostile,
      location: `x/${hostile}.rpm`,
      provides: [{ name: hostile, flags: 'EQ', epoch: '0', version: hostile, release: hostile }],
      files: [{ path: `/usr/bin/${hostile}`, type: 'file' }],
      changelogs: [{ author: hostile, date: 1, text: hostile }],
    };
    const docs = [renderPrimary([r]), renderFilelists([r]), renderOther([r])];
    const script = 'import sys, xml.dom.minidom as m\nfor p in sys.argv[1:]: m.parse(p)\nprint("ok")';
    const files = await Promise.all(docs.map(async (d, i) => {
      const f = path.join(work, `hostile-${i}.xml`);
      await writeFile(f, d);
      return f;
    }));
    const parsed = await runOk('python3', ['-c', script, ...files]);
    expect(parsed.stdout.trim()).toBe('ok');
  });

  test('versioned dependencies without an epoch get epoch="0"; unversioned ones no attributes', () => {
    const base = records.find((r) => r.name === 'gamma')!;
    const xml = renderPrimary([{ ...base, requires: [{ name: 'x', flags: 'GE', version: '1' }, { name: 'y', pre: true }], provides: [] }]);
    expect(xml).toContain('<rpm:entry name="x" flags="GE" epoch="0" ver="1"/>\n      <rpm:entry name="y" pre="1"/>');
  });
});

describe('scale', () => {
  function synthetic(n: number): RpmRecord[] {
    const base = records.find((r) => r.name === 'alpha' && !r.source)!;
    return Array.from({ length: n }, (_, i) => ({
      ...base,
      name: `pkg${i}`,
      location: `Packages/p/pkg${i}-1.0-1.x86_64.rpm`,
      sha256: createHash('sha256').update(String(i)).digest('hex'),
      files: Array.from({ length: 20 }, (_, j) => ({ path: j % 5 === 0 ? `/usr/bin/pkg${i}-${j}` : `/usr/share/pkg${i}/file-${j}.txt`, type: 'file' as const })),
      provides: [...base.provides, { name: `libpkg${i}.so.1()(64bit)` }],
    }));
  }

  /** `n` stored packages, and one more whose name sorts among them (so it joins a piece in the middle). */
  function withOneMore(n: number): { records: RpmRecord[]; all: RpmRecord[] } {
    const records = synthetic(n).map((r, i) => ({ ...r, key: `repos/t/blobs/${i}` }));
    const name = `pkg${n / 2}a`;
    const added = { ...synthetic(n + 1)[n]!, name, location: `Packages/p/${name}-1.0-1.x86_64.rpm`, key: 'repos/t/blobs/added' };
    return { records, all: [...records, added] };
  }

  const RENDER = { primary: renderPrimary, filelists: renderFilelists, other: renderOther };

  /** Every document of `built` is what renders `records` whole, and repomd.xml's checksums are its own. */
  function expectExact(built: Repodata, records: RpmRecord[]): void {
    for (const e of built.entries) {
      const gz = built.files.find((f) => f.path === e.location)!.bytes;
      const xml = gunzipSync(gz);
      expect(xml.toString('utf8')).toBe(RENDER[e.type](records));
      expect(createHash('sha256').update(xml).digest('hex')).toBe(e.openChecksum);
      expect(createHash('sha256').update(gz).digest('hex')).toBe(e.checksum);
    }
  }

  test('adding a package compresses only the piece it lands in, and every document stays exact', async () => {
    const { records, all } = withOneMore(3_000);
    let compressed = 0;
    const deps = { gzip: (data: Uint8Array) => (compressed++, webGzip(data)), createHasher: createNodeHasher, signer: await testSigner(), now: () => NOW };
    await buildRepodata(records, deps);
    const first = compressed;
    compressed = 0;
    const built = await buildRepodata(all, deps);
    // Per document: its head (the package count changed) and the piece the package joined.
    expect(compressed).toBe(6);
    expect(first).toBeGreaterThan(3 * 20);
    expectExact(built, all);
  });

  test('a build with a fresh cache reuses the pieces of the published documents, and renders them when those cannot be trusted', async () => {
    const { records, all } = withOneMore(2_000);
    const signer = await testSigner();
    const published = await buildRepodata(records, { gzip: webGzip, createHasher: createNodeHasher, signer, now: () => NOW });
    const fileOf = (type: RepomdEntry['type']) => published.files.find((f) => f.path === published.entries.find((e) => e.type === type)!.location)!.bytes;

    // As another process would: the module (and its cache of pieces) loaded anew.
    const build = async (bytes: (type: RepomdEntry['type']) => Uint8Array | null) => {
      vi.resetModules();
      const fresh = await import('../../../src/formats/rpm/repodata.js');
      let compressed = 0;
      const previous = Object.fromEntries(fresh.REPODATA_TYPES.map((type) => [type, { table: published.pieces[type], bytes: async () => bytes(type) }]));
      expectExact(await fresh.buildRepodata(all, { gzip: (data) => (compressed++, webGzip(data)), createHasher: createNodeHasher, signer, now: () => NOW }, { previous }), all);
      return compressed;
    };
    // Per document: its head and the piece the package joined.
    expect(await build(fileOf)).toBe(6);
    // A published file gone, or not what its table says (one byte changed: the member's CRC fails).
    const everything = published.pieces.primary.length * 3;
    expect(await build(() => null)).toBeGreaterThanOrEqual(everything);
    const damaged = (type: RepomdEntry['type']) => {
      const copy = fileOf(type).slice();
      let end = 0;
      // One bit of every member's CRC-32 (the first four of its eight trailer bytes) flipped.
      for (const [, gzLength] of published.pieces[type]) copy[(end += gzLength) - 6]! ^= 1;
      return copy;
    };
    expect(await build(damaged)).toBeGreaterThanOrEqual(everything);
  });

  test('20,000 records render, compress and sign in seconds', { timeout: 120_000 }, async () => {
    const many = synthetic(20_000);
    const t: Record<string, number> = {};
    const time = <T>(label: string, f: () => T): T => {
      const t0 = performance.now();
      const out = f();
      t[label] = Math.round(performance.now() - t0);
      return out;
    };
    const sorted = time('sort', () => sortRecords(many));
    const primary = time('primary', () => renderPrimary(sorted));
    const filelists = time('filelists', () => renderFilelists(sorted));
    const other = time('other', () => renderOther(sorted));
    const t0 = performance.now();
    const built = await buildRepodata(many, { gzip: webGzip, createHasher: createNodeHasher, signer: await testSigner(), now: () => NOW });
    t.buildRepodata = Math.round(performance.now() - t0);
    console.log(
      `repodata of 20,000 records: ${JSON.stringify(t)} ms; sizes: primary ${primary.length}, filelists ${filelists.length}, other ${other.length} chars; ` +
        built.files.map((f) => `${path.basename(f.path).replace(/^[0-9a-f]{64}-/, '')} ${f.bytes.length} B`).join(', '),
    );
    expect(primary.match(/<package /g)!.length).toBe(20_000);
    expect(t.buildRepodata!).toBeLessThan(30_000);
  });
});
