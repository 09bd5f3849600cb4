// Reads what repodata needs from an .rpm as it streams past. Hand-written: no maintained npm
// package parses RPM package headers in pure JS from a stream of chunks, as a Worker needs.
// Checked on npm: @snyk/rpm-parser reads rpmdb databases, not package files; @dx3mod/rpm-parser
// is not on the registry; the other rpm packages wrap rpmbuild. The format is small (rpm's
// docs/manual/format.md): a 96-byte lead, the signature header padded to 8 bytes, the main
// header, then the compressed payload, which is never looked at.
import { badPackage } from '../../util/errors.js';
import { INTRO_SIZE, RpmHeader, SIGTAG, TAG, readIntro, type HeaderKind } from './header.js';
import type { RpmChangelogEntry, RpmDependency, RpmFile, RpmRecord } from './record.js';
import { isPrimaryFile } from './repodata.js';
import { rpmvercmp } from './version.js';
import { FailureLatch } from '../../util/failure-latch.js';
import { GrowingBuffer } from '../../util/growing-buffer.js';

/** What an .rpm says about itself: its record, less what only the caller knows. */
export type RpmInfo = Omit<RpmRecord, 'sha256' | 'location' | 'key' | 'fileTime' | 'packageSize'>;

const LEAD_SIZE = 96;
const LEAD_MAGIC = [0xed, 0xab, 0xee, 0xdb];
/** The lead's signature_type for "a header-structured signature follows", the only kind rpm reads. */
const HEADER_SIGNATURE = 5;
/** createrepo_c's default --changelog-limit: how many entries other.xml keeps per package. */
const CHANGELOG_LIMIT = 10;

// rpmsenseFlags bits.
const SENSE_LESS = 1 << 1;
const SENSE_GREATER = 1 << 2;
const SENSE_EQUAL = 1 << 3;
const SENSE_PREREQ = 1 << 6;
const SENSE_SCRIPT_PRE = 1 << 9;
const SENSE_SCRIPT_POST = 1 << 10;
const SENSE_MISSINGOK = 1 << 19;
const SENSE_STRONG = 1 << 27;
/** The bits createrepo_c reads the comparison from (cr_flag_to_str): other values there mean none. */
const COMPARISON_MASK = 0xf;
const COMPARISONS = new Map<number, RpmDependency['flags']>([
  [SENSE_EQUAL, 'EQ'],
  [SENSE_LESS, 'LT'],
  [SENSE_LESS | SENSE_EQUAL, 'LE'],
  [SENSE_GREATER, 'GT'],
  [SENSE_GREATER | SENSE_EQUAL, 'GE'],
]);

const FILE_GHOST = 1 << 6;
const S_IFMT = 0o170000;
const S_IFDIR = 0o040000;

type Stage = 'lead' | 'signature-intro' | 'signature' | 'padding' | 'header-intro' | 'header' | 'payload';

/**
 * Reads an .rpm as it streams past: `push` every chunk of the upload, then `finish`. Holds the
 * lead and the two headers (each at most 32 MiB) and counts the payload without keeping it.
 */
export class RpmInspector {
  private stage: Stage = 'lead';
  /** The piece being collected: the lead, a header intro or body, or the padding. */
  private piece = new GrowingBuffer(LEAD_SIZE);
  /** Bytes seen so far. */
  private offset = 0;
  private entryCount = 0;
  private signature: RpmHeader | undefined;
  private header: RpmHeader | undefined;
  private headerStart = 0;
  private headerEnd = 0;
  private readonly latch = new FailureLatch();

  push(chunk: Uint8Array): void {
    this.latch.run(() => this.consume(chunk));
  }

  finish(): RpmInfo {
    this.latch.check();
    switch (this.stage) {
      case 'lead':
        if (this.offset === 0) throw badPackage('not-rpm', 'file is empty, not an RPM');
        this.checkMagic();
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the ${LEAD_SIZE}-byte lead`);
      case 'signature-intro':
      case 'signature':
      case 'padding':
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the signature header`);
      case 'header-intro':
      case 'header':
        throw badPackage('truncated', `file ends after ${this.offset} bytes, inside the main header`);
      case 'payload':
        this.checkSize(this.signature!);
        return recordOf(this.signature!, this.header!, this.headerStart, this.headerEnd);
    }
  }

  private consume(chunk: Uint8Array): void {
    for (let pos = 0; pos < chunk.length; ) {
      if (this.stage === 'payload') {
        this.offset += chunk.length - pos;
        return;
      }
      const n = this.piece.append(chunk.subarray(pos));
      this.offset += n;
      pos += n;
      if (this.piece.full) this.advance();
    }
  }

  /** The current piece is complete: check it and set up the next. */
  private advance(): void {
    switch (this.stage) {
      case 'lead':
        this.checkLead();
        return this.expect('signature-intro', INTRO_SIZE);
      case 'signature-intro':
        return this.readIntro('signature');
      case 'signature': {
        this.signature = new RpmHeader('signature', this.entryCount, this.piece.bytes());
        // The main header starts at the next multiple of 8 bytes.
        const padding = (8 - (this.offset % 8)) % 8;
        if (padding) return this.expect('padding', padding);
        return this.toHeader();
      }
      case 'padding':
        return this.toHeader();
      case 'header-intro':
        return this.readIntro('main');
      case 'header':
        this.header = new RpmHeader('main', this.entryCount, this.piece.bytes());
        this.headerEnd = this.offset;
        this.stage = 'payload';
        this.piece = new GrowingBuffer(0);
        return;
    }
  }

  private expect(stage: Stage, size: number): void {
    this.stage = stage;
    this.piece = new GrowingBuffer(size);
  }

  private toHeader(): void {
    this.headerStart = this.offset;
    this.expect('header-intro', INTRO_SIZE);
  }

  private readIntro(kind: HeaderKind): void {
    const { entries, bodySize } = readIntro(kind, this.piece.bytes());
    this.entryCount = entries;
    this.expect(kind === 'signature' ? 'signature' : 'header', bodySize);
  }

  private checkMagic(): void {
    const lead = this.piece.bytes();
    if (LEAD_MAGIC.some((b, i) => i < lead.length && lead[i] !== b)) {
      throw badPackage('not-rpm', 'not an RPM: the file does not start with the RPM lead magic ed ab ee db');
    }
  }

  /** The lead is mostly obsolete; rpm still insists on its magic, format version and signature type. */
  private checkLead(): void {
    this.checkMagic();
    const lead = this.piece.bytes();
    const major = lead[4]!;
    if (major !== 3 && major !== 4) {
      throw badPackage('unsupported-rpm-version', `the lead says RPM format ${major}.${lead[5]}; rpm reads formats 3 and 4 only`);
    }
    const signatureType = (lead[78]! << 8) | lead[79]!;
    if (signatureType !== HEADER_SIGNATURE) {
      throw badPackage('bad-signature-type', `the lead announces signature type ${signatureType}, not a signature header (${HEADER_SIGNATURE})`);
    }
  }

  /** The signature header records the size of main header plus payload: a short payload shows here. */
  private checkSize(signature: RpmHeader): void {
    const size = signature.number(SIGTAG.LONGSIZE) ?? signature.number(SIGTAG.SIZE);
    if (size === undefined) return;
    const expected = this.headerStart + size;
    if (this.offset < expected) {
      throw badPackage('truncated', `file ends after ${this.offset} bytes, ${expected - this.offset} bytes before the end of the payload`);
    }
    if (this.offset > expected) {
      throw badPackage('trailing-data', `${this.offset - expected} bytes follow the end of the payload (byte ${expected})`);
    }
  }
}

// The characters rpmbuild accepts (rpmCharCheck, which also refuses ".."). They end up in file
// names and URLs, so nothing else is let through.
const NAME = /^[A-Za-z0-9_%][A-Za-z0-9._+%{}-]*$/;
const VERSION = /^[A-Za-z0-9._+%{}~^]+$/;
const ARCH = /^[A-Za-z0-9_]+$/;

function recordOf(signature: RpmHeader, h: RpmHeader, headerStart: number, headerEnd: number): RpmInfo {
  const text = (tag: number) => h.string(tag) ?? '';
  // rpm's own test (headerIsSource) is the missing SOURCERPM; createrepo_c looks for SOURCEPACKAGE.
  const source = h.has(TAG.SOURCEPACKAGE) || !h.has(TAG.SOURCERPM);
  const name = identity(h, TAG.NAME, 'name', NAME);
  const version = identity(h, TAG.VERSION, 'version', VERSION);
  const release = identity(h, TAG.RELEASE, 'release', VERSION);
  const arch = identity(h, TAG.ARCH, 'arch', ARCH);
  const fileList = files(h);
  return {
    name,
    epoch: String(h.number(TAG.EPOCH) ?? 0),
    version,
    release,
    arch: source ? 'src' : arch,
    source,
    summary: text(TAG.SUMMARY),
    description: text(TAG.DESCRIPTION),
    packager: text(TAG.PACKAGER),
    url: text(TAG.URL),
    license: text(TAG.LICENSE),
    vendor: text(TAG.VENDOR),
    group: text(TAG.GROUP),
    buildhost: text(TAG.BUILDHOST),
    sourcerpm: source ? '' : text(TAG.SOURCERPM),
    buildTime: h.number(TAG.BUILDTIME) ?? 0,
    installedSize: h.number(TAG.LONGSIZE) ?? h.number(TAG.SIZE) ?? 0,
    // Current rpmbuild records the payload size in the signature header only, older ones in the main header.
    archiveSize:
      signature.number(SIGTAG.LONGARCHIVESIZE) ??
      signature.number(SIGTAG.PAYLOADSIZE) ??
      h.number(TAG.LONGARCHIVESIZE) ??
      h.number(TAG.ARCHIVESIZE) ??
      0,
    headerStart,
    headerEnd,
    ...dependencies(h, fileList),
    files: fileList,
    changelogs: changelogs(h),
  };
}

function identity(h: RpmHeader, tag: number, what: string, allowed: RegExp): string {
  const value = h.string(tag);
  if (value === undefined || value === '') throw badPackage(`missing-${what}`, `the main header has no ${what.toUpperCase()}`);
  if (!allowed.test(value) || value.includes('..')) {
    throw badPackage(`invalid-${what}`, `${what} ${JSON.stringify(value)} breaks rpmbuild's rules for it (characters, or "..")`);
  }
  return value;
}

type Dependencies = Pick<RpmInfo, 'provides' | 'requires' | 'conflicts' | 'obsoletes' | 'recommends' | 'suggests' | 'supplements' | 'enhances'>;

/** One dependency as the header holds it. */
interface RawDependency {
  name: string;
  bits: number;
  /** `[epoch:]version[-release]`, or empty. */
  evr: string;
}

/**
 * The dependencies primary.xml lists, by createrepo_c's rules (cr_package_from_header in its
 * parsehdr.c), so that rendering them is a plain walk:
 *   - a dependency whose epoch is not a number is left out (createrepo_c warns and skips it);
 *   - requires leave out `rpmlib(…)` (features of rpm itself); a file of the package's own that
 *     primary.xml lists (isPrimaryFile); whatever the package provides itself with the same
 *     name, comparison and version string; and a repeat of the last require of the same name
 *     with the same comparison, version string and pre;
 *   - of the `libc.so.6…` requires only the highest symbol version is kept, and moved last;
 *   - requires needed by scriptlets (PREREQ, SCRIPT_PRE, SCRIPT_POST) are marked `pre`;
 *   - the weak dependencies of old rpm (MISSINGOK requires, OLDSUGGESTS and OLDENHANCES with or
 *     without the STRONG bit) are sorted into their modern lists.
 * Otherwise the lists keep header order.
 */
function dependencies(h: RpmHeader, files: readonly RpmFile[]): Dependencies {
  const out: Dependencies = { provides: [], requires: [], conflicts: [], obsoletes: [], recommends: [], suggests: [], supplements: [], enhances: [] };
  const read = (nameTag: number, flagsTag: number, versionTag: number, take: (raw: RawDependency) => void) => {
    const names = h.strings(nameTag) ?? [];
    const flags = h.numbers(flagsTag);
    const versions = h.strings(versionTag);
    for (const [what, list] of [['flags', flags], ['versions', versions]] as const) {
      if (list && list.length !== names.length) {
        throw badPackage('bad-dependencies', `tag ${h.describe(nameTag)} has ${names.length} names but ${list.length} ${what}`);
      }
    }
    names.forEach((name, i) => take({ name, bits: flags?.[i] ?? 0, evr: versions?.[i] ?? '' }));
  };
  /** The dependency as primary.xml lists it, or undefined for a bad epoch. */
  const entry = ({ name, bits, evr }: RawDependency): RpmDependency | undefined => {
    const parts = splitEvr(evr);
    if (!parts) return undefined;
    const flags = COMPARISONS.get(bits & COMPARISON_MASK);
    // Without a comparison primary.xml shows no version, whatever the header holds.
    return flags ? { name, flags, ...parts } : { name };
  };
  const comparison = (d: RawDependency) => COMPARISONS.get(d.bits & COMPARISON_MASK) ?? '';
  const into = (list: RpmDependency[]) => (raw: RawDependency) => {
    const dep = entry(raw);
    if (dep) list.push(dep);
  };

  // createrepo_c's key for "provided": name, comparison and version string as written, run together.
  const providedKey = (d: RawDependency) => d.name + comparison(d) + d.evr;
  const provided = new Set<string>();
  read(TAG.PROVIDENAME, TAG.PROVIDEFLAGS, TAG.PROVIDEVERSION, (raw) => {
    const dep = entry(raw);
    if (!dep) return;
    provided.add(providedKey(raw));
    out.provides.push(dep);
  });
  read(TAG.CONFLICTNAME, TAG.CONFLICTFLAGS, TAG.CONFLICTVERSION, into(out.conflicts));
  read(TAG.OBSOLETENAME, TAG.OBSOLETEFLAGS, TAG.OBSOLETEVERSION, into(out.obsoletes));

  const ownFiles = new Set(files.map((f) => f.path));
  /** The last require kept of each name: its comparison, version string and pre. */
  const lastRequire = new Map<string, string>();
  let libc: RpmDependency | undefined;
  read(TAG.REQUIRENAME, TAG.REQUIREFLAGS, TAG.REQUIREVERSION, (raw) => {
    const { name, bits } = raw;
    if (name.startsWith('rpmlib(')) return;
    if (name.startsWith('/') && ownFiles.has(name) && isPrimaryFile(name)) return;
    if (provided.has(providedKey(raw))) return;
    const pre = (bits & (SENSE_PREREQ | SENSE_SCRIPT_PRE | SENSE_SCRIPT_POST)) !== 0;
    const key = `${comparison(raw)}\0${raw.evr}\0${pre}`;
    if (lastRequire.get(name) === key) return;
    const dep = entry(raw);
    if (!dep) return;
    if (bits & SENSE_MISSINGOK) {
      out.recommends.push(dep);
      return;
    }
    if (pre) dep.pre = true;
    if (name.startsWith('libc.so.6')) {
      if (!libc || libcIsHigher(libc.name, name)) libc = dep;
      return;
    }
    out.requires.push(dep);
    lastRequire.set(name, key);
  });
  if (libc) out.requires.push(libc);

  read(TAG.SUGGESTNAME, TAG.SUGGESTFLAGS, TAG.SUGGESTVERSION, into(out.suggests));
  read(TAG.ENHANCENAME, TAG.ENHANCEFLAGS, TAG.ENHANCEVERSION, into(out.enhances));
  read(TAG.RECOMMENDNAME, TAG.RECOMMENDFLAGS, TAG.RECOMMENDVERSION, into(out.recommends));
  read(TAG.SUPPLEMENTNAME, TAG.SUPPLEMENTFLAGS, TAG.SUPPLEMENTVERSION, into(out.supplements));
  read(TAG.OLDSUGGESTSNAME, TAG.OLDSUGGESTSFLAGS, TAG.OLDSUGGESTSVERSION, (raw) => into(raw.bits & SENSE_STRONG ? out.recommends : out.suggests)(raw));
  read(TAG.OLDENHANCESNAME, TAG.OLDENHANCESFLAGS, TAG.OLDENHANCESVERSION, (raw) => into(raw.bits & SENSE_STRONG ? out.supplements : out.enhances)(raw));
  return out;
}

/**
 * createrepo_c's cr_compare_dependency for two `libc.so.6…` names: whether `candidate` has the
 * higher symbol version. That is the text inside the first parentheses from its first digit on,
 * compared with rpmvercmp; a name without it (no parentheses, empty ones, no digit before the
 * closing one) is lower than one with it. Ties, and the cases createrepo_c calls errors, keep
 * the first.
 */
function libcIsHigher(kept: string, candidate: string): boolean {
  const open1 = kept.indexOf('(');
  const open2 = candidate.indexOf('(');
  if (open1 < 0 || open2 < 0) return open1 < 0 && open2 >= 0;
  const close1 = kept.indexOf(')', open1);
  const close2 = candidate.indexOf(')', open2);
  if (close1 < 0 || close2 < 0) return close1 < 0 && close2 >= 0;
  if (close1 === open1 + 1 || close2 === open2 + 1) return close1 === open1 + 1 && close2 !== open2 + 1;
  // The first digit after the opening parenthesis, possibly past the closing one.
  const digit = (name: string, open: number) => {
    const at = name.slice(open + 1).search(/[0-9]/);
    return at < 0 ? name.length : open + 1 + at;
  };
  const from1 = digit(kept, open1);
  const from2 = digit(candidate, open2);
  if (from1 > close1 || from2 > close2) return from1 > close1 && from2 <= close2;
  return rpmvercmp(kept.slice(from1, close1), candidate.slice(from2, close2)) < 0;
}

/**
 * Splits `[epoch:]version[-release]` as createrepo_c does (cr_str_to_evr): the epoch is what
 * precedes the first colon, "0" when there is none or it is empty, and undefined is returned
 * when it is not a number (C's strtol: optional blanks and sign, then digits); the release
 * follows the first hyphen after that, and is left out when empty. An empty string has no parts.
 */
export function splitEvr(evr: string): { epoch?: string; version?: string; release?: string } | undefined {
  if (evr === '') return {};
  const colon = evr.indexOf(':');
  let epoch = '0';
  if (colon > 0) {
    epoch = evr.slice(0, colon);
    if (!/^[ \t\n\v\f\r]*[+-]?[0-9]+$/.test(epoch)) return undefined;
  }
  const rest = evr.slice(colon + 1);
  const hyphen = rest.indexOf('-');
  if (hyphen < 0) return { epoch, version: rest };
  const release = rest.slice(hyphen + 1);
  return release === '' ? { epoch, version: rest.slice(0, hyphen) } : { epoch, version: rest.slice(0, hyphen), release };
}

/** The file list: directory + base names (or, before rpm 4, whole names), typed by mode and flags. */
function files(h: RpmHeader): RpmFile[] {
  let paths: string[];
  const basenames = h.strings(TAG.BASENAMES);
  if (basenames) {
    const dirnames = h.strings(TAG.DIRNAMES) ?? [];
    const dirindexes = h.numbers(TAG.DIRINDEXES) ?? [];
    if (dirindexes.length !== basenames.length) {
      throw badPackage('bad-file-list', `${basenames.length} file names but ${dirindexes.length} directory indexes`);
    }
    paths = basenames.map((base, i) => {
      const dir = dirnames[dirindexes[i]!];
      if (dir === undefined) {
        throw badPackage('bad-file-list', `file ${JSON.stringify(base)} is in directory ${dirindexes[i]} of ${dirnames.length}`);
      }
      return dir + base;
    });
  } else {
    paths = h.strings(TAG.OLDFILENAMES) ?? [];
  }
  const modes = h.numbers(TAG.FILEMODES);
  const flags = h.numbers(TAG.FILEFLAGS);
  for (const [what, list] of [['modes', modes], ['flags', flags]] as const) {
    if (list && list.length !== paths.length) throw badPackage('bad-file-list', `${paths.length} files but ${list.length} file ${what}`);
  }
  return paths.map((path, i) => {
    if (((modes?.[i] ?? 0) & S_IFMT) === S_IFDIR) return { path, type: 'dir' };
    if ((flags?.[i] ?? 0) & FILE_GHOST) return { path, type: 'ghost' };
    return { path, type: 'file' };
  });
}

/**
 * The changelog as createrepo_c takes it: the first CHANGELOG_LIMIT entries in header order
 * (rpmbuild's is newest first), authors without trailing spaces (the first character stays), and
 * entries of the same second told apart by moving the earlier-listed (newer) ones a second later each.
 */
function changelogs(h: RpmHeader): RpmChangelogEntry[] {
  const times = h.numbers(TAG.CHANGELOGTIME) ?? [];
  const names = h.strings(TAG.CHANGELOGNAME) ?? [];
  const texts = h.strings(TAG.CHANGELOGTEXT) ?? [];
  if (names.length !== times.length || texts.length !== times.length) {
    throw badPackage('bad-changelog', `the changelog has ${times.length} times, ${names.length} authors and ${texts.length} texts`);
  }
  const kept = times.slice(0, CHANGELOG_LIMIT).map((date, i) => ({ date, author: trimAuthor(names[i]!), text: texts[i]! }));
  let last = 0;
  kept.forEach(({ date }, i) => {
    if (date !== last) {
      last = date;
      return;
    }
    // The same time as the last distinct one: bump the run of equal dates just before, cascading.
    for (let j = i - 1, t = date; j >= 0 && kept[j]!.date === t; j--, t++) kept[j]!.date = t + 1;
  });
  return kept;
}

/** Without trailing spaces, but never shorter than one character (createrepo_c's loop stops there). A loop, not a regex: linear on hostile input. */
function trimAuthor(author: string): string {
  let end = author.length;
  while (end > 1 && author.charCodeAt(end - 1) === 0x20) end--;
  return author.slice(0, end);
}
